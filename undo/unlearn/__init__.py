"""Unlearning methods behind a registry: one method per module, looked up by name.

A method is a class with ``Config`` (its hyperparameters, a frozen dataclass) and
``loss(model, forget, retain) -> (loss, logs)`` over one micro-batch of forget and retain token
windows (each a :class:`~undo.unlearn.common.Batch` with masks, or a bare [B, T] id tensor).
``setup(model)`` may freeze parameters or keep a frozen copy of the original model. A method whose
update needs a whole optimizer step (SAM) also has ``step(model, micro_batches) -> (loss, logs)``,
which accumulates the step's gradient itself. Adding a method is one new module that calls
:func:`register`. Every method works on any Hugging Face causal LM.

Methods: ``graddiff``, ``maxent``, ``rmu`` (Section 4, Table 5), ``sam`` (wraps a base method),
``repnoise`` and ``undial`` (Section 6 baselines, App. D.1).

Usage::

    method = get_method("maxent")(MaxEntConfig(retain_weight=1.0))
    method.setup(model)
    loss, logs = method.loss(model, forget_ids, retain_ids)
"""

from __future__ import annotations

REGISTRY: dict[str, type] = {}


def register(name: str):
    def wrap(cls):
        REGISTRY[name] = cls
        cls.name = name
        return cls
    return wrap


def get_method(name: str):
    if name not in REGISTRY:
        raise KeyError(f"unknown unlearning method {name!r} (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]


from . import graddiff, maxent, repnoise, rmu, sam, undial  # noqa: E402,F401  (each registers itself)
