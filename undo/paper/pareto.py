"""Retain-forget trade-off points under relearning attacks and their Pareto dominance (Section 6, Figure 7).

Figure 7 places every unlearned model at (retain performance, forget performance) before the relearning attack,
after the moderate attack (40 steps) and after the extensive one (500 steps). These pure functions turn the
Figure 7 results JSON (``results["series"]``: ``<setting>/<method>`` -> gathered relearning instances) into
those points; the figure script and the claims report both read them from here.

Definitions:

- budgets: ``initial`` (step 0), ``moderate`` (``options.moderate_step``, 40 in the paper) and ``long`` (the
  last evaluated step of the curve: 500 in the paper, shorter at mini and smoke);
- forget after a budget: the attacker envelope (best learning rate at that step, :func:`undo.paper.analysis.envelope`);
- retain: the attacked model's retain performance at step 0, i.e. what the defender releases (the attacker's
  fine-tuning is free to destroy retain, which is no cost to the attacker);
- orientation per setting: ``options.settings.<setting>.higher_is_better``, which the figure stage takes from the
  gathered results (accuracy: the attacker raises forget, retain higher is better; cross-entropy: the reverse). A point A
  dominates B when A is at least as good on both axes (retain, robust forget) and strictly better on one.

Adversaries: a series ``<setting>/<method>`` is the full-finetune relearning attack (Table 4), whose points make the
figure's panels, its frontier and the claims; ``<setting>/<method>/<adversary>`` (``lora``: the relearn stage's LoRA
adversary, its results' ``attack.kind``) attacks the same models another way. Its points are kept apart, under
``adversaries[<adversary>]``, each with its full-finetune twin's label and tags (the same attacked model) and that
twin's forget per budget (``full_forget``), so a figure can set the two attacks side by side.

Seeds: at mini and smoke scale every seed is a whole pipeline, so a series holds one instance, hence one point, per
seed. :func:`setting_points` keeps those per-instance points (the claims judge each seed on its own);
:func:`seed_medians` aggregates them per model (method and UNDO retain threshold τ) into the median point over seeds
with its min–max spread, which Figure 7 draws and on which its frontier is computed.

Usage::

    points = setting_points(results)["arithmetic"]
    front = [p for p in points["points"] if not dominated_by(p, points["points"], points, "long")]
    medians = seed_medians(points["points"])  # same fields, plus "n_seeds", "seeds", "spread", "points"
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from . import analysis
from .names import METHOD_LABELS

BUDGETS = ("initial", "moderate", "long")
REFERENCE = "data_filtering"  # the oracle: the gold standard every method is compared against, not a rival

__all__ = ["BUDGETS", "dominated_by", "dominates", "point_label", "seed_medians", "setting_points", "spread"]


def point_label(method: str, tags: Mapping[str, Any]) -> str:
    """``UNDO τ=0.05`` for a UNDO point (its retain threshold), the method's name otherwise."""
    label = METHOD_LABELS.get(method, method)
    if tags.get("tolerance") is not None:
        label += f" τ={float(tags['tolerance']):g}"
    return label


def _instance_point(name: str, method: str, inst: Mapping, best: str, moderate: int) -> dict:
    curves = (inst.get("results") or {}).get("curves") or {}
    steps, env, lrs = analysis.envelope(curves, "forget", best)
    if steps[0] != 0:
        raise ValueError(f"series {name!r}: the attack curves start at step {steps[0]}, not 0")
    if moderate not in steps:
        raise ValueError(f"series {name!r}: options.moderate_step {moderate} was not evaluated (steps {steps}); "
                         "make the relearn config's eval_every divide it")
    if steps[-1] <= moderate:
        raise ValueError(f"series {name!r}: the attack ends at step {steps[-1]}, not after the moderate step {moderate}")
    first = curves[lrs[0]]
    if "retain" not in first:
        raise ValueError(f"series {name!r}: the attack curves lack 'retain'")
    at = {"initial": 0, "moderate": steps.index(moderate), "long": len(steps) - 1}
    tags = dict(inst.get("tags") or {})
    results = inst.get("results") or {}
    return {"method": method, "label": point_label(method, tags), "tags": tags, "artifact": inst.get("artifact"),
            "model": results.get("model"), "attack": results.get("attack") or {"kind": "full"},
            "retain": float(first["retain"][0]),
            "forget": {b: env[i] for b, i in at.items()},
            "step": {b: steps[i] for b, i in at.items()},
            "best_lr": {b: lrs[i] for b, i in at.items()}}


def setting_points(results: Mapping[str, Any]) -> dict[str, dict]:
    """Per setting, its orientation and one point per gathered relearning instance, in series order.

    Returns ``{setting: {"attacker_best", "retain_higher_is_better", "forget_label", "retain_label", "points",
    "adversaries"}}``; UNDO contributes one point per retain threshold (tag ``tolerance``). ``points`` are the
    full-finetune attacks', ``adversaries`` maps another adversary's name to its points (module docstring).
    """
    opts = results.get("options") or {}
    moderate = int(opts.get("moderate_step", 40))
    out: dict[str, dict] = {}
    for name, instances in (results.get("series") or {}).items():
        parts = name.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"series {name!r}: expected <setting>/<method> or <setting>/<method>/<adversary>")
        setting, method, adversary = (*parts, "full")[:3]
        sopts = (opts.get("settings") or {}).get(setting) or {}
        best = analysis.attacker_best(sopts)
        entry = out.setdefault(setting, {
            "attacker_best": best,
            "retain_higher_is_better": best == "max",  # retain and forget: one kind of performance measure
            "forget_label": sopts.get("forget_label", "forget"), "retain_label": sopts.get("retain_label", "retain"),
            "points": [], "adversaries": {}})
        for inst in instances:
            point = _instance_point(name, method, inst, best, moderate)
            if point["attack"]["kind"] != adversary:
                raise ValueError(f"series {name!r}: an instance attacked by the {point['attack']['kind']} adversary, "
                                 f"not {adversary}")
            (entry["points"] if adversary == "full" else entry["adversaries"].setdefault(adversary, [])).append(point)
    for entry in out.values():
        twins = {p["model"]: p for p in entry["points"] if p["model"]}
        for point in (p for points in entry["adversaries"].values() for p in points):
            twin = twins.get(point["model"])
            if twin is not None:  # the same model under full finetuning: its label, tags and forget
                point.update(label=twin["label"], tags=dict(twin["tags"]), full_forget=dict(twin["forget"]))
    return out


def spread(values: Sequence[float]) -> dict:
    """Median, min and max over seeds (NaN left out: a step where every learning rate diverged); NaN when none."""
    finite = [float(v) for v in values if not math.isnan(float(v))]
    if not finite:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"median": float(statistics.median(finite)), "min": min(finite), "max": max(finite), "n": len(finite)}


def _seed_key(point: Mapping) -> tuple:
    seed = (point.get("tags") or {}).get("seed")
    return (seed is None, seed if isinstance(seed, (int, float)) else 0)


def seed_medians(points: Sequence[Mapping]) -> list[dict]:
    """One point per model over its seeds: the points of :func:`setting_points` grouped by method and UNDO retain
    threshold (tag ``tolerance``), in order of first appearance.

    Each has the fields of a point, ``retain`` and ``forget[budget]`` being medians over seeds (so :func:`dominates`
    and :func:`dominated_by` compare medians), ``step[budget]`` (None where the seeds disagree), ``best_lr[budget]``
    the list of each seed's attacker-best learning rate, and ``n_seeds``, ``seeds``, ``points`` (its per-seed
    points, by seed) and ``spread`` (``{"retain": stats, "forget": {budget: stats}}``, stats being median, min, max
    and the number of finite values ``n``; for another adversary's points also ``"full_forget"``, their full-finetune
    twins').
    """
    groups: dict[tuple, list[Mapping]] = {}
    for p in points:
        tolerance = (p.get("tags") or {}).get("tolerance")
        groups.setdefault((p["method"], None if tolerance is None else float(tolerance)), []).append(p)
    out = []
    for (method, tolerance), mine in groups.items():
        mine = sorted(mine, key=_seed_key)
        stats = {"retain": spread([p["retain"] for p in mine]),
                 "forget": {b: spread([p["forget"][b] for p in mine]) for b in BUDGETS}}
        if all("full_forget" in p for p in mine):  # another adversary's points: their full-finetune twins' forget
            stats["full_forget"] = {b: spread([p["full_forget"][b] for p in mine]) for b in BUDGETS}
        steps = {b: {p["step"][b] for p in mine} for b in BUDGETS}
        tags = {} if tolerance is None else {"tolerance": tolerance}
        out.append({"method": method, "label": mine[0]["label"], "tags": tags, "attack": mine[0].get("attack"),
                    "retain": stats["retain"]["median"], "forget": {b: stats["forget"][b]["median"] for b in BUDGETS},
                    "step": {b: next(iter(s)) if len(s) == 1 else None for b, s in steps.items()},
                    "best_lr": {b: [p["best_lr"][b] for p in mine] for b in BUDGETS},
                    "n_seeds": len(mine), "seeds": [(p.get("tags") or {}).get("seed") for p in mine],
                    "points": mine, "spread": stats})
    return out


def _oriented(point: Mapping, setting: Mapping, budget: str) -> tuple[float, float]:
    """(retain, robust forget), both larger = better for the defender."""
    retain = point["retain"] if setting["retain_higher_is_better"] else -point["retain"]
    forget = point["forget"][budget]
    return float(retain), float(-forget if setting["attacker_best"] == "max" else forget)


def dominates(a: Mapping, b: Mapping, setting: Mapping, budget: str) -> bool:
    """Whether point ``a`` is at least as good as ``b`` on retain and robust forget after ``budget``, better on one.

    A point with a NaN coordinate neither dominates nor is dominated.
    """
    ra, fa = _oriented(a, setting, budget)
    rb, fb = _oriented(b, setting, budget)
    if any(math.isnan(x) for x in (ra, fa, rb, fb)):
        return False
    return ra >= rb and fa >= fb and (ra > rb or fa > fb)


def dominated_by(point: Mapping, others: Sequence[Mapping], setting: Mapping, budget: str) -> list[Mapping]:
    """The points of ``others`` that dominate ``point`` after ``budget``."""
    return [o for o in others if o is not point and dominates(o, point, setting, budget)]
