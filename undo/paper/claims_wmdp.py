"""The WMDP claims (Section 6, App. D.2): Figures 8 and 11 and Table 13, checked on their results JSONs.

The rules, fixed before any run they judge (per seed i a statistic d_i; verdicts as in :mod:`undo.paper.claims`:
agree when every seed has d_i > margin, disagree when none does). The margin is 0.01 of accuracy (about one
item of a mini forget benchmark of 160 items, 13 of WMDP-Bio's 1,273) unless a rule says otherwise.

- Fig. 8, UNDO relearns less than its Unlearn-Only teacher (per domain and method): the strongest attack on each
  model in seed i is the adversary with the most forget accuracy at the last step (attacker's best learning rate,
  :mod:`undo.paper.wmdp`); d_i = forget(teacher_i) - forget(UNDO_i) under those attacks.
- Fig. 11, UNDO is on the forget/retain frontier after the high-compute attack (per domain): in seed i, an UNDO
  point (MaxEnt's or RMU's) that no baseline (MaxEnt and RMU at each of Table 10's points, SAM, RepNoise) dominates, where a baseline dominates
  when it has at least UNDO's retain and a forget accuracy (after its strongest attack, last step) no more than
  the margin above UNDO's; d_i = +1 if such an UNDO point exists, else -1; margin 0.
- Table 13, retain after distillation falls as alpha rises: d_i = -Spearman rho(alpha, retain after
  distillation) over the alphas of seed i (0 when retain is the same at every alpha); margin 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import analysis, wmdp
from .claims import Claim, _not_run, _row, seedwise

MARGIN = 0.01  # accuracy: about one item of a mini forget benchmark (module docstring)

FIG8 = "UNDO relearns less than its Unlearn-Only teacher under the best adversary"
FIG11 = "UNDO is on the forget/retain frontier after the high-compute attack"
TAB13 = "Retain after distillation falls as the shrinkage alpha rises"
PAPER = {
    FIG8: "UNDO consistently improves relearning resilience across all WMDP configurations (Section 6, Figure 8).",
    FIG11: "UNDO is on the Pareto frontier for WMDP-Bio, and competitive with other methods for WMDP-Cyber "
           "(App. D.2.7, Figure 11).",
    TAB13: "When we apply higher alpha values to Gemma-2-2b, it doesn't recover retain performance: MMLU 0.55, 0.49, "
           "0.37, 0.25 at alpha 0, 0.25, 0.35, 0.6 (App. D.2.7, Table 13).",
}


def _strongest_by_seed(instances) -> dict:
    """Per seed: (the adversary with the most forget at the last step, its value); the attacker raises accuracy."""
    by_adv = wmdp.adversary_curves(instances)
    sign = 1.0 if next(iter(by_adv.values()))["best"] == "max" else -1.0
    out: dict = {}
    for name, entry in by_adv.items():
        for seed, value in wmdp.seed_values_at(entry).items():
            if value == value and (seed not in out or sign * value > sign * out[seed][1]):
                out[seed] = (name, value)
    return out


def fig8_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    series = results.get("series") or {}
    for name in series:
        domain, method = name.split("/", 1)
        if method.startswith("undo_"):
            continue
        undo = series.get(f"{domain}/undo_{method}")
        setting = f"WMDP-{domain.capitalize()}, {wmdp.method_label(method)}"
        if not series[name] or not undo:
            rows.append(_not_run(FIG8, "fig8", setting, PAPER[FIG8], "missing Unlearn-Only or UNDO runs"))
            continue
        teacher, student = _strongest_by_seed(series[name]), _strongest_by_seed(undo)
        d = {s: teacher[s][1] - student[s][1] for s in teacher if s in student}
        parts = [f"seed {s}: {wmdp.method_label(method)} {teacher[s][1]:.3f} ({teacher[s][0]}) vs UNDO "
                 f"{student[s][1]:.3f} ({student[s][0]})" for s in d]
        rows.append(_row(FIG8, "fig8", setting, PAPER[FIG8],
                         "forget accuracy at the last attack step, strongest adversary per model and seed: "
                         + "; ".join(parts) + "; d = teacher's − UNDO's", seedwise(d, MARGIN)))
    return rows


def _point(instances, seed) -> dict | None:
    mine = [i for i in instances if (i.get("tags") or {}).get("seed") == seed]
    if not mine:
        return None
    retain = wmdp.unattacked(mine, "retain").get(seed)
    strongest = _strongest_by_seed(mine).get(seed)
    return None if retain is None or strongest is None else {"retain": retain, "forget": strongest[1]}


def fig11_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    series = wmdp.method_series(results.get("series") or {})
    for domain in sorted({n.split("/", 1)[0] for n in series}):
        setting = f"WMDP-{domain.capitalize()}"
        mine = {n.split("/", 1)[1]: inst for n, inst in series.items() if n.startswith(domain + "/") and inst}
        undos = [m for m in mine if m.startswith("undo_")]
        rivals = [m for m in mine if not m.startswith("undo_")]
        seeds = sorted({(i.get("tags") or {}).get("seed") for m in undos for i in mine[m]}, key=str)
        d, parts = {}, []
        for seed in seeds:
            points = {m: _point(mine[m], seed) for m in undos + rivals}
            rival_points = {m: p for m, p in points.items() if m in rivals and p}
            if not rival_points:
                continue
            free = []
            for u in undos:
                p = points[u]
                if p is None:
                    continue
                beaten = [m for m, r in rival_points.items() if r["retain"] >= p["retain"] and r["forget"] <= p["forget"] + MARGIN]
                if not beaten:
                    free.append(u)
                parts.append(f"seed {seed}: {wmdp.method_label(u)} (retain {p['retain']:.3f}, forget {p['forget']:.3f}) "
                             + ("undominated" if not beaten else "dominated by " + ", ".join(
                                 f"{wmdp.method_label(m)} ({rival_points[m]['retain']:.3f}, "
                                 f"{rival_points[m]['forget']:.3f})" for m in beaten)))
            d[seed] = 1.0 if free else -1.0
        if not d:
            rows.append(_not_run(FIG11, "fig11", setting, PAPER[FIG11], "missing UNDO or baseline runs"))
        else:
            rows.append(_row(FIG11, "fig11", setting, PAPER[FIG11],
                             "(retain of the released model, forget after the strongest attack at the last step): "
                             + "; ".join(parts) + f"; d = +1 when an UNDO point is dominated by no baseline (one "
                             f"with at least its retain and a forget at most {MARGIN:g} above), else -1",
                             seedwise(d, 0.0)))
    return rows


def tab13_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    by_seed: dict = {}
    for inst in (results.get("series") or {}).get("distilled", []):
        retain = (inst.get("summary", {}).get("eval") or {}).get("retain")
        if retain is not None:
            by_seed.setdefault(inst["tags"].get("seed"), {})[float(inst["tags"]["alpha"])] = retain
    d, parts = {}, []
    for seed, points in by_seed.items():
        alphas = sorted(points)
        if len(alphas) < 3:
            continue
        rho = analysis._spearman(alphas, [points[a] for a in alphas])
        rho = 0.0 if rho is None else rho  # the same retain at every alpha: no fall
        d[seed] = -rho
        parts.append(f"seed {seed}: " + ", ".join(f"α={a:g}: {points[a]:.3f}" for a in alphas) + f" (ρ = {rho:+.2f})")
    if not d:
        return [_not_run(TAB13, "tab13", "WMDP-Bio", PAPER[TAB13], "fewer than three alphas per seed")]
    return [_row(TAB13, "tab13", "WMDP-Bio, MaxEnt teacher", PAPER[TAB13],
                 "retain accuracy after distillation: " + "; ".join(parts) + "; d = −ρ(α, retain)", seedwise(d, 0.0))]


SOURCES = {"fig8": (fig8_claims, [FIG8]), "fig11": (fig11_claims, [FIG11]), "tab13": (tab13_claims, [TAB13])}
