"""Evaluators behind a registry: one evaluation per module, chosen in YAML by ``eval: {kind: NAME}``.

An evaluator module calls :func:`register` with

- ``name``: the ``kind`` a config selects, and the key under ``eval:`` that holds its settings;
- ``config``: its settings (a frozen dataclass, validated like every config);
- ``metrics``: each metric it reports and whether higher is better (``fnmatch`` patterns allowed,
  e.g. ``"*/*"`` for per-operation accuracies). ``retain`` and ``forget`` are required and share one
  direction: they measure *performance* on the retain and forget distributions (accuracy: higher is
  better; cross-entropy: lower is better), and that direction is what stop rules, the attacker's best
  learning rate, the learning-rate selection, Pareto fronts and claims read;
- ``build(settings, tokenizer, device, inputs) -> evaluate``: ``evaluate(model) -> {metric: value}``;
  ``inputs(ref)`` is the directory of an upstream artifact the settings name (held-out data).

Stages record the direction in what they write (``higher_is_better`` in ``metrics.json`` and
``results.json``), so analysis code never restates it. Adding an evaluation is one module that calls
:func:`register` plus its import below; no YAML states a direction.

Usage::

    evaluate = make_evaluator(cfg.eval, tokenizer, "cpu", ctx.input)
    evaluate(model)                       # {"retain": 0.97, "forget": 0.02, ...}
    higher_is_better(cfg.eval.kind)       # True for accuracies
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, build, option


@dataclass(frozen=True)
class Evaluation:
    """A registered evaluator (see the module docstring)."""

    name: str
    config: type
    metrics: dict[str, bool]
    build: Callable[..., Callable[[Any], dict[str, float]]]
    settings_required: bool
    doc: str


REGISTRY: dict[str, Evaluation] = {}


def register(name: str, *, config: type, metrics: dict[str, bool], build: Callable, settings_required: bool = True,
             doc: str = "") -> Evaluation:
    """Register an evaluator. ``settings_required=False`` gives its settings defaults when a config omits them."""
    for needed in ("retain", "forget"):
        if needed not in metrics:
            raise ValueError(f"evaluator {name!r}: metrics must declare {needed!r}")
    if metrics["retain"] != metrics["forget"]:
        raise ValueError(f"evaluator {name!r}: retain and forget are performance measures with one direction")
    if name == "kind":
        raise ValueError("evaluator name 'kind' is reserved")
    entry = Evaluation(name, config, dict(metrics), build, settings_required, doc)
    REGISTRY[name] = entry
    _settings_class.cache_clear()
    return entry


def check_metric_names(retain_name: str, forget_name: str) -> None:
    """The prefixes an evaluator puts before its retain and forget metrics: distinct, and not the generic names."""
    if retain_name == forget_name or {retain_name, forget_name} & {"retain", "forget"}:
        raise ValueError("retain_name: retain_name and forget_name must differ and not be 'retain'/'forget'")


def get_evaluation(kind: str) -> Evaluation:
    if kind not in REGISTRY:
        raise KeyError(f"unknown evaluation {kind!r} (known: {', '.join(REGISTRY)})")
    return REGISTRY[kind]


def higher_is_better(kind: str, metric: str = "retain") -> bool:
    """Direction of ``metric`` for evaluation ``kind`` (``retain``/``forget`` and any declared pattern)."""
    metrics = get_evaluation(kind).metrics
    if metric in metrics:
        return metrics[metric]
    for pattern, direction in metrics.items():
        if fnmatch.fnmatchcase(metric, pattern):
            return direction
    raise KeyError(f"evaluation {kind!r} reports no metric {metric!r} (declared: {', '.join(metrics)})")


@functools.cache
def _settings_class() -> type:
    """The dataclass of an ``eval:`` block: ``kind`` plus one optional settings field per registered evaluator.

    An evaluator whose settings are optional (``settings_required=False``) gets them default-constructed, so
    they are part of every evaluation's artifact key; the others' settings stay out of a key until given.
    """
    fields: list[tuple] = [("kind", str, option("arithmetic", "the registered evaluator to run"))]
    for entry in REGISTRY.values():
        if entry.settings_required:
            fields.append((entry.name, entry.config | None, option(None, entry.doc, key_if_set=True)))
        else:
            fields.append((entry.name, entry.config, option(default_factory=entry.config, doc=entry.doc)))

    def validate(self) -> None:
        if self.kind not in REGISTRY:
            raise ValueError(f"kind: unknown evaluation {self.kind!r} (registered: {', '.join(REGISTRY)})")
        if getattr(self, self.kind) is None:
            raise ValueError(f"{self.kind}: evaluation {self.kind!r} needs its settings under eval.{self.kind}")

    namespace = {"validate": validate,
                 "settings": property(lambda self: getattr(self, self.kind)),
                 "higher_is_better": property(lambda self: higher_is_better(self.kind)),
                 "__doc__": "Which registered evaluation a stage runs, and its settings."}
    return dataclasses.make_dataclass("EvalSettings", fields, namespace=namespace, frozen=True, kw_only=True)


class EvalConfig:
    """Config type of an ``eval:`` block. Stage configs annotate ``eval: EvalConfig``; the value built is an
    ``EvalSettings`` dataclass whose fields follow the registry at build time (so an evaluator registered later,
    e.g. by a test module, is accepted without touching any stage)."""

    @classmethod
    def __coerce__(cls, value: Any, *, file: Path, key: str):
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a mapping, got {value!r}")
        return build(_settings_class(), value, file=file, prefix=key + ".")

    def __new__(cls, **values):
        """``EvalConfig(kind=..., ...)`` in Python builds the ``EvalSettings`` directly (tests, benchmarks)."""
        return _settings_class()(**values)


def make_evaluator(cfg, tokenizer, device: str, inputs: Callable[[Any], Path] | None = None):
    """The callable ``evaluate(model) -> metrics`` for an ``eval:`` block; ``inputs`` locates upstream artifacts."""
    entry = get_evaluation(cfg.kind)
    return entry.build(cfg.settings, tokenizer, device, inputs)


from . import arithmetic, harness, language, multiple_choice, tofu  # noqa: E402,F401  (each registers itself)
