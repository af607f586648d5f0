"""The WMDP setting's analysis (Section 6, App. D.2): relearning by adversary, the best adversary, budgets.

A WMDP relearning series holds one instance per (adversary, unlearning seed), each with its curves per learning
rate (``results.curves``). For an adversary and a seed the attack's strength at a step is the attacker's best
learning rate there (:func:`undo.paper.analysis.envelope`); over seeds it is the mean, as Figure 8 averages
"across 4 seeds". The best adversary of a model (Figure 8's bold line) is the one with the highest mean forget
accuracy at the last step (the attacker raises an accuracy; a cross-entropy measure would be lowered), ties
going to the first name in Table 12's order.

Usage::

    by_adv = adversary_curves(results["series"]["bio/maxent"], "forget")
    best = best_adversary(by_adv)                 # e.g. "forget_retain_qa_long"
    value_at(by_adv[best], step=10)               # mean over seeds of the attacker's best at step 10
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..attacks.relearn import ADVERSARIES
from . import analysis
from .names import METHOD_LABELS

POINTS = ("medium", "worst")  # Table 10's frontier points beside the Best (the UNDO teacher, named by its method)
ADVERSARY_LABELS = {"forget_retain": "forget/retain", "forget_retain_qa": "forget/retain-qa",
                    "forget_retain_long": "forget/retain-long", "forget_retain_qa_long": "forget/retain-qa-long",
                    "wiki_qa_long": "wiki-qa-long", "sp_forget_retain": "sp-forget/retain",
                    "sp_forget_retain_qa": "sp-forget/retain-qa", "sp_wiki_qa_long": "sp-wiki-qa-long"}


def method_series(series: Mapping[str, Any]) -> dict[str, Any]:
    """Series by ``<domain>/<method>``, with a frontier series (``<domain>/<method>_frontier``: Table 10's Medium and
    Worst points, tagged ``point``) split into ``<method>_medium`` and ``<method>_worst``."""
    out: dict[str, Any] = {}
    for name, instances in series.items():
        if not name.endswith("_frontier"):
            out[name] = instances
            continue
        for inst in instances:
            point = (inst.get("tags") or {}).get("point")
            if point not in POINTS:
                raise ValueError(f"wmdp: series {name}: an instance tagged point={point!r} (expected one of {POINTS})")
            out.setdefault(f"{name[: -len('_frontier')]}_{point}", []).append(inst)
    return out


def split_point(method: str) -> tuple[str, str]:
    """``maxent_medium`` -> (``maxent``, ``medium``); a method without a point is Table 10's Best."""
    base, _, point = method.rpartition("_")
    return (base, point) if base and point in POINTS else (method, "best")


def method_label(method: str) -> str:
    """``maxent`` -> MaxEnt, ``undo_rmu`` -> UNDO (RMU), ``rmu_worst`` -> RMU (Worst)."""
    base, point = split_point(method)
    undo, _, teacher = base.partition("undo_")
    label = f"UNDO ({METHOD_LABELS.get(teacher, teacher)})" if not undo and teacher else METHOD_LABELS.get(base, base)
    return label if point == "best" else f"{label} ({point.capitalize()})"


def direction(instances: Sequence[Mapping[str, Any]]) -> str:
    """``max`` when the instances' measure is higher-is-better (accuracy), else ``min``; they must agree."""
    found = {bool(inst["results"]["higher_is_better"]) for inst in instances}
    if len(found) != 1:
        raise ValueError("wmdp: the relearning results disagree on higher_is_better")
    return "max" if found.pop() else "min"


def adversary_curves(instances: Sequence[Mapping[str, Any]], measure: str = "forget") -> dict[str, dict]:
    """Per adversary: ``{"step", "mean", "seeds": {seed: values}, "best_lr": {seed: [lr per step]}}``, the attacker's
    best learning rate per step and seed, and its mean over seeds (NaN where every seed diverged)."""
    best = direction(instances)
    grouped: dict[str, dict] = {}
    for inst in instances:
        tags = inst.get("tags") or {}
        name = tags.get("adversary") or inst["results"].get("adversary") or "relearn"
        steps, values, lrs = analysis.envelope(inst["results"]["curves"], measure, best)
        entry = grouped.setdefault(name, {"step": steps, "seeds": {}, "best_lr": {}})
        if entry["step"] != steps:
            raise ValueError(f"wmdp: adversary {name}: seeds evaluated at different steps")
        entry["seeds"][tags.get("seed")] = values
        entry["best_lr"][tags.get("seed")] = lrs
    for entry in grouped.values():
        table = np.array(list(entry["seeds"].values()), dtype=float)
        with np.errstate(all="ignore"):
            entry["mean"] = [float(x) if not math.isnan(x) else math.nan for x in np.nanmean(table, axis=0)] \
                if np.isfinite(table).any() else [math.nan] * table.shape[1]
        entry["best"] = best
    return dict(sorted(grouped.items(), key=lambda kv: _order(kv[0])))


def _order(name: str) -> tuple:
    return (ADVERSARIES.index(name) if name in ADVERSARIES else len(ADVERSARIES), name)


def best_adversary(by_adversary: Mapping[str, Mapping], step: int | None = None) -> str:
    """The adversary eliciting the most at ``step`` (None: the last step; mean over seeds); ties to Table 12's first."""
    if not by_adversary:
        raise ValueError("wmdp: no adversaries")
    sign = 1.0 if next(iter(by_adversary.values()))["best"] == "max" else -1.0

    def strength(name: str) -> tuple:
        value = value_at(by_adversary[name], step)
        return (-math.inf if math.isnan(value) else sign * value, -_order(name)[0])

    return max(by_adversary, key=strength)


def value_at(entry: Mapping, step: int | None = None) -> float:
    """An adversary's mean over seeds at ``step`` (None: the last step); ValueError when it was not evaluated there."""
    if step is None:
        return entry["mean"][-1]
    if step not in entry["step"]:
        raise ValueError(f"wmdp: no evaluation at step {step} (steps: {entry['step']})")
    return entry["mean"][entry["step"].index(step)]


def seed_values_at(entry: Mapping, step: int | None = None) -> dict:
    """Each seed's attacker-best value at ``step`` (None: the last step)."""
    index = -1 if step is None else entry["step"].index(step)
    return {seed: values[index] for seed, values in entry["seeds"].items()}


def strongest(instances: Sequence[Mapping[str, Any]], step: int | None = None, measure: str = "forget") -> dict:
    """The strongest attack on a model at ``step``: over adversaries, the one whose mean over seeds elicits the most
    there. Returns ``{"adversary", "mean", "seeds"}`` (per seed, that adversary's attacker-best value)."""
    by_adv = adversary_curves(instances, measure)
    name = best_adversary(by_adv, step)
    return {"adversary": name, "mean": value_at(by_adv[name], step), "seeds": seed_values_at(by_adv[name], step)}


def unattacked(instances: Sequence[Mapping[str, Any]], measure: str) -> dict:
    """Per seed, ``measure`` of the model before any attack (step 0 of an attack without shrink-perturb, whose
    step 0 is the released model itself)."""
    out = {}
    for inst in instances:
        tags = inst.get("tags") or {}
        if float(tags.get("shrink_alpha") or 0) > 0:
            continue
        curve = next(iter(inst["results"]["curves"].values()))
        out.setdefault(tags.get("seed"), float(curve[measure][0]))
    return out
