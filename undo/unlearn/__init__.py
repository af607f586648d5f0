"""Unlearning methods behind a registry: one method per module, looked up by name.

A method is a class with ``Config`` (its hyperparameters, a frozen dataclass) and
``loss(model, forget, retain) -> (loss, logs)`` over one micro-batch of forget and retain token
windows. ``setup(model)`` may freeze parameters or keep a frozen copy. Adding a method is
one new module that calls :func:`register`.

Usage::

    method = get_method("maxent")(MaxEntConfig(retain_weight=1.0))
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


from . import maxent  # noqa: E402,F401  (registers itself)
