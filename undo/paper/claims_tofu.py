"""The TOFU claims (App. F): Figures 12 and 13 and Table 14, checked on their results JSONs.

The rules, fixed before any run they judge (per seed i, the seed of the unlearning and of everything after it, a
statistic d_i; verdicts as in :mod:`undo.paper.claims`: agree when every seed has d_i > margin, disagree when none
does). Values are TOFU metrics in [0, 1]; the margin is ``MARGIN`` = 0.01 and "near" means within ``NEAR`` = 0.05 (a
twentieth of the metric's range) unless a rule says otherwise. One row per model family.

- Fig. 12, finetuning raises the forget metrics and unlearning drops them near zero: with F the forget Q&A
  probability after finetuning, C the control's (the base model that never saw TOFU, before its attack) and U_i the
  unlearned model's, d_i = min(F - C, F - U_i, NEAR - U_i): finetuning taught the forget authors (F above the
  control), unlearning took it away (U_i below F) to near zero (U_i below NEAR).
- Fig. 12, the distilled student keeps the control's forget metrics and approaches the teacher's retain: with D_i the
  student after distillation and T_i its teacher (the unlearned model), d_i = min(NEAR - (D_i forget - C forget),
  NEAR - (T_i utility - D_i utility)) on forget Q&A probability and model utility: the student knows the forget
  authors at most NEAR better than the control, and its model utility is at most NEAR below its teacher's; margin 0.
- Fig. 13, under relearning the distilled model stays closer to the control than to the unlearned-only model: each
  attack at its attacker's best learning rate (:mod:`undo.paper.tofu`), the mean over the attack's evaluations of
  the forget Q&A probability, a_U, a_D, a_C; d_i = |a_D - a_U| - |a_D - a_C| (positive: D's attack tracks the
  control's more than the unlearned-only model's).
- Tab. 14, INT4 raises the unlearned-only model's forget truth ratio more than the distilled model's: per 4-bit mode
  m, with TR the forget truth ratio, d_i = (TR_U(m) - TR_U(full)) - (TR_D(m) - TR_D(full)); one row per family and
  mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import median
from typing import Any

from . import tofu
from .claims import Claim, _not_run, _row, seedwise

MARGIN = 0.01   # TOFU metrics are in [0, 1]: one hundredth of the range
NEAR = 0.05     # "near zero", "near the control's", "approaches the teacher's": a twentieth of the range
FORGET = "forget_Q_A_Prob"

FIG12_SUPPRESS = "Finetuning raises the forget metrics; unlearning drops them near zero"
FIG12_DISTILL = "The distilled student keeps the control's forget metrics while its retain approaches the teacher's"
FIG13 = "Under relearning the distilled model stays closer to the control than to the unlearned-only model"
TAB14 = "INT4 quantization raises the unlearned-only model's forget truth ratio more than the distilled model's"
PAPER = {
    FIG12_SUPPRESS: "During finetuning, both models learn the fictional author information, with forget metrics "
                    "increasing steadily ... The unlearning phase shows suppression of forget knowledge, with Forget "
                    "QA probability dropping to near zero within 50 steps (App. F.1, Figure 12).",
    FIG12_DISTILL: "The student models maintain forget metrics similar to the base model that hasn't seen TOFU, "
                   "despite being trained on outputs from the full dataset, while retain metrics gradually recover to "
                   "match the teacher's performance (App. F.1, Figure 12).",
    FIG13: "Models that underwent unlearning followed by distillation show relearning rates closer to control "
           "baselines that never saw the forget authors, while unlearned-only models rapidly recover the suppressed "
           "knowledge (App. F.1, Figure 13).",
    TAB14: "Under INT4 quantization, standard unlearning shows substantial degradation of unlearning performance, "
           "with forget truth ratio jumping from 0.000 to 0.185. The distilled models demonstrate better robustness, "
           "with forget truth ratio reaching only 0.017 (App. F.2, Table 14).",
}


def _family(series: Mapping[str, Any], family: str) -> dict[str, Any]:
    return {name.split("/", 1)[1]: inst for name, inst in series.items() if name.startswith(family + "/")}


def _control(instances) -> float | None:
    """The control's forget Q&A probability before any attack, the median over its attacks' data orders (the same
    model every time: they agree)."""
    values = [m[FORGET] for m in tofu.control_metrics(instances).values() if FORGET in m]
    return median(values) if values else None


def fig12_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    series = results.get("series") or {}
    for family in tofu.families(series):
        mine = _family(series, family)
        setting = tofu.FAMILY_LABELS.get(family, family)
        control = _control(mine.get("control"))
        finetuned = [tofu.final_eval(i).get(FORGET) for i in mine.get("finetune") or []]
        if control is None or not finetuned or finetuned[0] is None or not mine.get("unlearn"):
            for claim in (FIG12_SUPPRESS, FIG12_DISTILL):
                rows.append(_not_run(claim, "fig12", setting, PAPER[claim], "missing finetune, unlearn or control runs"))
            continue
        f = finetuned[0]
        unlearned = {tofu.seed(i): tofu.final_eval(i) for i in mine["unlearn"]}
        d = {s: min(f - control, f - u[FORGET], NEAR - u[FORGET]) for s, u in unlearned.items() if FORGET in u}
        rows.append(_row(FIG12_SUPPRESS, "fig12", setting, PAPER[FIG12_SUPPRESS],
                         f"forget Q&A probability: control {control:.3f}, after finetuning {f:.3f}, after unlearning "
                         + ", ".join(f"seed {s}: {u[FORGET]:.3f}" for s, u in unlearned.items())
                         + f"; d = min(F − C, F − U, {NEAR:g} − U)", seedwise(d, MARGIN)))
        students = {tofu.seed(i): tofu.final_eval(i) for i in mine.get("distill") or []}
        d, parts = {}, []
        for s, student in students.items():
            teacher = unlearned.get(s)
            if teacher is None or FORGET not in student:
                continue
            d[s] = min(NEAR - (student[FORGET] - control), NEAR - (teacher["model_utility"] - student["model_utility"]))
            parts.append(f"seed {s}: forget {student[FORGET]:.3f} (control {control:.3f}), utility "
                         f"{student['model_utility']:.3f} (teacher {teacher['model_utility']:.3f})")
        if not d:
            rows.append(_not_run(FIG12_DISTILL, "fig12", setting, PAPER[FIG12_DISTILL], "missing distillation runs"))
            continue
        rows.append(_row(FIG12_DISTILL, "fig12", setting, PAPER[FIG12_DISTILL],
                         "student after distillation: " + "; ".join(parts)
                         + f"; d = min({NEAR:g} − (D forget − C forget), {NEAR:g} − (T utility − D utility))",
                         seedwise(d, 0.0)))
    return rows


def _mean(values) -> float:
    finite = [float(v) for v in values if v == v]
    return sum(finite) / len(finite) if finite else float("nan")


def fig13_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    series = results.get("series") or {}
    for family in tofu.families(series):
        setting = tofu.FAMILY_LABELS.get(family, family)
        attacked = tofu.attack_curves(_family(series, family).get("relearn") or [])
        controls = attacked.get("control") or {}
        d, parts = {}, []
        for s, unlearned in (attacked.get("unlearn") or {}).items():
            distilled = (attacked.get("distill") or {}).get(s)
            control = controls.get(s, next(iter(controls.values()), None))
            if distilled is None or control is None:
                continue
            a_u, a_d, a_c = (_mean(c[FORGET]) for c in (unlearned, distilled, control))
            d[s] = abs(a_d - a_u) - abs(a_d - a_c)
            parts.append(f"seed {s}: unlearned {a_u:.3f}, distilled {a_d:.3f}, control {a_c:.3f}")
        if not d:
            rows.append(_not_run(FIG13, "fig13", setting, PAPER[FIG13], "missing relearning of a role"))
            continue
        rows.append(_row(FIG13, "fig13", setting, PAPER[FIG13],
                         "forget Q&A probability averaged over the attack at the attacker's best rate: "
                         + "; ".join(parts) + "; d = |D − U| − |D − C|", seedwise(d, MARGIN)))
    return rows


def tab14_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    series = results.get("series") or {}
    metric = "forget_truth_ratio"
    for family in tofu.families(series):
        table = tofu.quantized(_family(series, family).get("quantize") or [])
        unlearned, distilled = table.get("unlearn") or {}, table.get("distill") or {}
        if "none" not in unlearned or "none" not in distilled:
            rows.append(_not_run(TAB14, "tab14", tofu.FAMILY_LABELS.get(family, family), PAPER[TAB14],
                                 "missing full-precision rows of the unlearned or distilled model"))
            continue
        for mode in sorted(m for m in unlearned if m != "none" and m in distilled):
            d, parts = {}, []
            for s in unlearned[mode]:
                if s not in distilled[mode] or s not in unlearned["none"] or s not in distilled["none"]:
                    continue
                rise_u = unlearned[mode][s][metric] - unlearned["none"][s][metric]
                rise_d = distilled[mode][s][metric] - distilled["none"][s][metric]
                d[s] = rise_u - rise_d
                parts.append(f"seed {s}: GradDiff {unlearned['none'][s][metric]:.3f} → {unlearned[mode][s][metric]:.3f}"
                             f", distilled {distilled['none'][s][metric]:.3f} → {distilled[mode][s][metric]:.3f}")
            setting = f"{tofu.FAMILY_LABELS.get(family, family)}, {tofu.MODE_LABELS.get(mode, mode)}"
            rows.append(_row(TAB14, "tab14", setting, PAPER[TAB14],
                             "forget truth ratio, full precision → 4 bits: " + "; ".join(parts)
                             + "; d = rise(GradDiff) − rise(distilled)", seedwise(d, MARGIN)))
    return rows


SOURCES = {"fig12": (fig12_claims, [FIG12_SUPPRESS, FIG12_DISTILL]), "fig13": (fig13_claims, [FIG13]),
           "tab14": (tab14_claims, [TAB14])}
