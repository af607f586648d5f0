"""undo.paper.claims_tofu and undo.paper.tofu: App. F's rules on synthetic results just inside and outside their
margins (TOFU metrics in [0, 1]; margin 0.01, "near" 0.05), one row per model family."""

import pytest

from undo.paper import claims_tofu, tofu
from undo.paper.claims import AGREE, DISAGREE, UNDETERMINED

SEEDS = (0, 1, 2)
STEPS = [0, 10, 20]


def trained(seed, forget, utility=0.5, truth=0.5):
    """A training stage's instance whose final evaluation has these values."""
    final = {"forget_Q_A_Prob": forget, "model_utility": utility, "forget_truth_ratio": truth}
    return {"artifact": "a", "tags": {} if seed is None else {"seed": seed}, "summary": {"eval": final},
            "history": [{"step": 0, **{f"eval/{k}": v for k, v in final.items()}}]}


def attacked(seed, model, values, lrs=("0.001",)):
    """A relearning attack: the forget Q&A probability along STEPS (``values``), at every learning rate."""
    curves = {lr: {"step": STEPS, "forget_Q_A_Prob": list(values), "forget": list(values),
                   "forget_Q_A_ROUGE": list(values), "forget_truth_ratio": [0.5] * 3, "train_loss": [None, 1, 1]}
              for lr in lrs}
    return {"artifact": "r", "tags": {"seed": seed, "model": model}, "summary": {}, "history": [],
            "results": {"higher_is_better": True, "curves": curves}}


def fig12_results(finetuned=0.8, control=0.1, unlearned=0.02, student=0.12, utility_gap=0.03, family="gemma"):
    return {"series": {
        f"{family}/finetune": [trained(None, finetuned)],
        f"{family}/unlearn": [trained(s, unlearned, utility=0.5) for s in SEEDS],
        f"{family}/distill": [trained(s, student, utility=0.5 - utility_gap) for s in SEEDS],
        f"{family}/control": [attacked(s, "base_model", [control] * 3) for s in SEEDS]}}


def verdicts(rows, claim):
    return [r.verdict for r in rows if r.claim == claim]


def test_fig12_suppression_rule_both_ways():
    rows = claims_tofu.fig12_claims(fig12_results())
    assert verdicts(rows, claims_tofu.FIG12_SUPPRESS) == [AGREE]
    # unlearning leaves 0.045: below NEAR (0.05) by less than the margin, so no seed shows "near zero"
    assert verdicts(claims_tofu.fig12_claims(fig12_results(unlearned=0.045)), claims_tofu.FIG12_SUPPRESS) == [DISAGREE]
    # finetuning that taught nothing beyond the control's knowledge
    assert verdicts(claims_tofu.fig12_claims(fig12_results(finetuned=0.105, unlearned=0.0)),
                    claims_tofu.FIG12_SUPPRESS) == [DISAGREE]


def test_fig12_distillation_rule_both_ways():
    assert verdicts(claims_tofu.fig12_claims(fig12_results()), claims_tofu.FIG12_DISTILL) == [AGREE]
    # the student knows the forget authors 0.06 better than the control: more than NEAR
    assert verdicts(claims_tofu.fig12_claims(fig12_results(student=0.16)), claims_tofu.FIG12_DISTILL) == [DISAGREE]
    # its utility is 0.06 below its teacher's
    assert verdicts(claims_tofu.fig12_claims(fig12_results(utility_gap=0.06)), claims_tofu.FIG12_DISTILL) == [DISAGREE]


def fig13_results(distilled, unlearned=(0.1, 0.6, 0.8), control=(0.1, 0.2, 0.3)):
    return {"series": {"phi/relearn": [attacked(s, "unlearn", unlearned) for s in SEEDS]
                       + [attacked(s, "distill", distilled) for s in SEEDS]
                       + [attacked(s, "pretrain_base", control) for s in SEEDS]}}


def test_fig13_rule_both_ways():
    (row,) = claims_tofu.fig13_claims(fig13_results(distilled=(0.1, 0.25, 0.35)))
    assert row.verdict == AGREE and row.setting == "Phi"
    # halfway between the unlearned-only model (mean 0.5) and the control (mean 0.2): d = 0
    (row,) = claims_tofu.fig13_claims(fig13_results(distilled=(0.1, 0.4, 0.55)))
    assert row.verdict == DISAGREE


def test_fig13_reads_the_attackers_best_learning_rate():
    inst = attacked(0, "unlearn", [0.1, 0.2, 0.3], lrs=("0.001", "0.003"))
    inst["results"]["curves"]["0.003"]["forget"] = [0.1, 0.5, 0.9]
    assert tofu.best_curve(inst)["lr"] == "0.003"
    assert tofu.role(attacked(0, "pretrain_base", [0] * 3)) == "control"


def quantize(seed, model, full, int4):
    metrics = {m: {"forget_Q_A_Prob": 0.0, "model_utility": 0.4, "forget_truth_ratio": v} for m, v in
               (("none", full), ("bnb-fp4", int4))}
    return {"artifact": "q", "tags": {"seed": seed, "model": model}, "history": [],
            "summary": {"modes": {m: {"record": {"backend": "x"}, "eval": e} for m, e in metrics.items()}}}


def test_tab14_rule_both_ways_and_split_seeds():
    def rows(distilled_rise):
        return claims_tofu.tab14_claims({"series": {"gemma/quantize": [quantize(s, "unlearn", 0.0, 0.185) for s in SEEDS]
                                                    + [quantize(s, "distill", 0.0, distilled_rise[s]) for s in SEEDS]}})

    (row,) = rows({0: 0.017, 1: 0.017, 2: 0.017})
    assert row.verdict == AGREE and row.setting == "Gemma-2, INT4 (bnb FP4)"
    (row,) = rows({0: 0.18, 1: 0.18, 2: 0.18})          # d = 0.005: inside the margin
    assert row.verdict == DISAGREE
    (row,) = rows({0: 0.017, 1: 0.18, 2: 0.017})
    assert row.verdict == UNDETERMINED


def test_missing_runs_are_not_run():
    rows = claims_tofu.fig12_claims({"series": {"gemma/finetune": [trained(None, 0.8)]}})
    assert {r.verdict for r in rows} == {"not run"}


@pytest.mark.parametrize("figure", ["fig12", "fig13", "tab14"])
def test_every_figure_is_a_claims_source(figure):
    from undo.paper.claims import all_sources

    sources, paper = all_sources()
    fn, names = sources[figure]
    assert all(n in paper for n in names)
