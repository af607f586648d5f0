"""undo.claims on synthetic results whose verdicts are known; `undo report` through the CLI."""

import json

import pytest
from click.testing import CliRunner

from undo.claims import (
    AGREE,
    DISAGREE,
    NOT_RUN,
    SOURCES,
    UNDETERMINED,
    evaluate,
    fig2_claims,
    fig3_claims,
    fig4_claims,
    fig5_claims,
    fig6_claims,
    markdown,
)

STEPS = [0, 5, 10]


def _curves(final, key="forget"):
    """Two learning rates rising linearly from 0: the better one reaches ``final``, the other half of it."""
    return {"0.001": {"step": STEPS, key: [final * s / 10 for s in STEPS]},
            "0.0001": {"step": STEPS, key: [final * s / 20 for s in STEPS]}}


def fig5_results(attack_by_alpha, steps_by_alpha):
    runs = []
    for seed in (0, 1):
        runs.append({"role": "unlearn_only", "alpha": None, "beta": None, "seed": seed, "compute_steps": None,
                     "artifact": "a", "curves": _curves(0.8)})
        runs.append({"role": "data_filtering", "alpha": None, "beta": None, "seed": seed, "compute_steps": 100,
                     "artifact": "a", "curves": _curves(0.1)})
        for alpha, attack in attack_by_alpha.items():
            runs.append({"role": "undo", "alpha": alpha, "beta": 0.1, "seed": seed, "compute_steps": steps_by_alpha[alpha],
                         "artifact": "a", "curves": _curves(attack)})
    panel = {"measure": "forget", "measure_label": "Mul/Div accuracy", "attacker_best": "max", "robustness_at": "final",
             "reference_steps": 100, "runs": runs}
    return {"figure": "fig5", "panels": {"arithmetic": panel}}


def _verdicts(rows):
    return {(r.claim, r.setting): r.verdict for r in rows}


def test_fig5_trends_agree_when_robustness_and_compute_rise_with_alpha():
    rows = _verdicts(fig5_claims(fig5_results({0.2: 0.6, 0.5: 0.4, 0.8: 0.2}, {0.2: 20, 0.5: 50, 0.8: 80})))
    assert rows[("robustness rises with α", "arithmetic")] == AGREE
    assert rows[("compute rises with α", "arithmetic")] == AGREE
    assert rows[("Data Filtering is the most robust (Fig. 5)", "arithmetic")] == AGREE


def test_fig5_trends_disagree_when_reversed():
    res = fig5_results({0.2: 0.05, 0.5: 0.4, 0.8: 0.7}, {0.2: 80, 0.5: 50, 0.8: 20})
    rows = _verdicts(fig5_claims(res))
    assert rows[("robustness rises with α", "arithmetic")] == DISAGREE
    assert rows[("compute rises with α", "arithmetic")] == DISAGREE
    assert rows[("Data Filtering is the most robust (Fig. 5)", "arithmetic")] == DISAGREE  # α=0.2 beats it
    row = next(r for r in fig5_claims(res) if r.claim == "robustness rises with α")
    assert "ρ(α, robustness) = -1" in row.measured


def _instances(final):
    return [{"artifact": "a", "tags": {"seed": s}, "summary": {}, "history": [], "results": {"curves": _curves(final)}}
            for s in (0, 1)]


def fig4_results(language_distill=0.2):
    """Arithmetic (accuracy, attacker raises it): distillation helps GradDiff, not RMU. Language (CE, lowered)."""
    series = {"arithmetic/graddiff/unlearn_only": _instances(0.8), "arithmetic/graddiff/distill": _instances(0.3),
              "arithmetic/rmu/unlearn_only": _instances(0.5), "arithmetic/rmu/distill": _instances(0.6),
              "arithmetic/data_filtering": _instances(0.1),
              "language/maxent/unlearn_only": [{"artifact": "a", "tags": {"seed": 0}, "summary": {}, "history": [],
                                               "results": {"curves": {"0.001": {"step": STEPS, "forget": [9, 4, 3]}}}}],
              "language/maxent/distill": [{"artifact": "a", "tags": {"seed": 0}, "summary": {}, "history": [],
                                          "results": {"curves": {"0.001": {"step": STEPS,
                                                                           "forget": [9, 8, 8 + language_distill]}}}}]}
    opts = {"measure": "forget", "settings": {"arithmetic": {"attacker_best": "max", "measure_label": "Mul/Div accuracy"},
                                              "language": {"attacker_best": "min", "measure_label": "Korean CE"}}}
    return {"figure": "fig4", "series": series, "options": opts}


def test_fig4_distill_slower_per_method_and_direction():
    rows = _verdicts(fig4_claims(fig4_results()))
    claim = "Unlearn-and-Distill relearns slower than Unlearn-Only"
    assert rows[(claim, "arithmetic/graddiff")] == AGREE
    assert rows[(claim, "arithmetic/rmu")] == DISAGREE
    assert rows[(claim, "language/maxent")] == AGREE  # CE stays higher: slower relearning
    assert rows[("Data Filtering is the most robust (Fig. 4)", "arithmetic")] == AGREE
    assert rows[("Data Filtering is the most robust (Fig. 4)", "language")] == NOT_RUN  # no oracle series


def _sweep(setting, points, higher=True):
    inst = [{"artifact": "a", "tags": {"lr": lr}, "history": [],
             "summary": {"eval_initial": {"retain": r0, "forget": f0}, "eval": {"retain": r1, "forget": f1}}}
            for lr, r0, r1, f0, f1 in points]
    return {"series": {f"{setting}/maxent": inst},
            "options": {"tolerance": 0.1, "settings": {setting: {"higher_is_better": higher}}}}


def test_fig3_maxent_selection_from_the_paper_numbers():
    res = _sweep("arithmetic", [(9e-5, 0.875, 0.795, 0.8675, 0.0125), (4e-4, 0.875, 0.05, 0.8675, 0.0)])
    (row,) = fig3_claims(res)
    assert row.verdict == AGREE and "selected lr 9e-05" in row.measured
    lang = _sweep("language", [(8e-5, 4.9359, 4.9895, 3.4672, 12.3808)], higher=False)
    assert fig3_claims(lang)[0].verdict == AGREE
    weak = _sweep("arithmetic", [(1e-5, 0.875, 0.87, 0.8675, 0.6)])
    assert fig3_claims(weak)[0].verdict == DISAGREE  # admissible but forget barely suppressed
    none = _sweep("arithmetic", [(4e-4, 0.875, 0.05, 0.8675, 0.0)])
    assert fig3_claims(none)[0].verdict == DISAGREE and "no learning rate" in fig3_claims(none)[0].measured


def test_missing_results_are_not_run_and_report_is_written(tmp_path, monkeypatch):
    rows = evaluate(tmp_path)
    assert rows and all(r.verdict == NOT_RUN for r in rows)
    assert {r.figure for r in rows} == set(SOURCES) >= {"fig2", "fig3", "fig4", "fig5"}
    (tmp_path / "figures" / "mini").mkdir(parents=True)
    (tmp_path / "figures" / "mini" / "fig4.json").write_text(json.dumps(fig4_results()))
    monkeypatch.chdir(tmp_path)
    from undo.cli import cli

    out = CliRunner().invoke(cli, ["report", "--scale", "mini"])
    assert out.exit_code == 0, out.output
    md = (tmp_path / "figures" / "mini" / "claims.md").read_text()
    assert "| claim | figure | setting | paper | measured | verdict |" in md
    assert "arithmetic/graddiff" in md and "**not run**" in md and "**agree**" in md and "**disagree**" in md
    assert markdown(rows, "mini").count("\n| ") == len(rows) + 1


@pytest.mark.parametrize("bad", [{"series": {"a/b/c/d": []}}])
def test_bad_series_names_are_refused(bad):
    with pytest.raises(ValueError, match="expected <setting>"):
        fig4_claims(bad)


def test_fig4_tie_is_undetermined():
    res = fig4_results()
    res["series"]["arithmetic/graddiff/distill"] = _instances(0.8)  # same curves as Unlearn-Only
    rows = _verdicts(fig4_claims(res))
    assert rows[("Unlearn-and-Distill relearns slower than Unlearn-Only", "arithmetic/graddiff")] == UNDETERMINED


def _distill(losses):
    return [{"artifact": "d", "tags": {}, "summary": {}, "results": None,
             "history": [{"step": 10 * (i + 1), "train/loss": v} for i, v in enumerate(losses)]}]


def fig2_results(reference=0.7, random=0.15, oracle=0.1, kl_last=0.05):
    """Arithmetic (the attacker raises accuracy); the KL of both students falls from 1.0 to ``kl_last``."""
    series = {"arithmetic/kl/student_reference": _distill([1.0, 0.3, kl_last]),
              "arithmetic/kl/student_random": _distill([5.0, 1.0, 5.0 * kl_last]),
              "arithmetic/student_reference": _instances(reference),
              "arithmetic/student_random": _instances(random),
              "arithmetic/oracle": _instances(oracle)}
    return {"figure": "fig2", "series": series,
            "options": {"measure": "forget", "settings": {"arithmetic": {"attacker_best": "max"}}}}


FASTER = ("Student (Reference) relearns faster than Student (Random)", "arithmetic")
LIKE = ("Student (Random) relearns like the Oracle Teacher", "arithmetic")
ZERO = ("Oracle matching drives the distillation KL toward zero", "arithmetic")


def test_fig2_claims_agree_on_the_papers_pattern():
    rows = _verdicts(fig2_claims(fig2_results()))
    assert rows[FASTER] == rows[LIKE] == rows[ZERO] == AGREE


def test_fig2_claims_disagree_when_the_students_swap():
    rows = _verdicts(fig2_claims(fig2_results(reference=0.15, random=0.7, kl_last=0.5)))
    assert rows[FASTER] == rows[LIKE] == rows[ZERO] == DISAGREE


def test_fig2_equal_students_are_undetermined_and_missing_ones_not_run():
    assert _verdicts(fig2_claims(fig2_results(reference=0.3, random=0.3)))[FASTER] == UNDETERMINED
    res = fig2_results()
    del res["series"]["arithmetic/student_random"]
    assert _verdicts(fig2_claims(res))[FASTER] == NOT_RUN
def fig6_results(attack, steps, cap=500, alphas=(0.1, 0.3, 0.5, 0.7), betas=(0.05, 0.1, 0.5, 1.0)):
    """Language (CE, the attacker lowers it): ``attack(α, β)`` is the final Korean CE, ``steps(α, β)`` the steps."""
    undo, distill = [], []
    for a in alphas:
        for b in betas:
            tags = {"alpha": a, "beta": b, "seed": 0}
            undo.append({"artifact": "r", "tags": tags, "summary": {}, "history": [],
                         "results": {"curves": {"0.001": {"step": STEPS, "forget": [12.0, 6.0, attack(a, b)]}}}})
            distill.append({"artifact": "d", "tags": tags, "history": [],
                            "summary": {"steps": steps(a, b), "max_steps": cap, "stop_reached": steps(a, b) < cap}})
    return {"figure": "fig6", "series": {"language/undo": undo, "language/distill": distill},
            "options": {"measure": "forget", "settings": {"language": {"attacker_best": "min",
                                                                      "measure_label": "Korean CE"}}}}


def test_fig6_alpha_matters_more_than_beta_agrees_when_alpha_drives_both():
    rows = fig6_claims(fig6_results(lambda a, b: 3.0 + 2 * a + 0.1 * b, lambda a, b: min(500, int(100 + 600 * a))))
    verdicts = _verdicts(rows)
    assert verdicts[("α matters more than β", "language")] == AGREE
    assert verdicts[("compute is driven by α", "language")] == AGREE
    robust = next(r for r in rows if r.claim == "α matters more than β")
    assert "over α 1.2 vs over β 0.095" in robust.measured  # 2 × (0.7 − 0.1) vs 0.1 × (1.0 − 0.05)
    compute = next(r for r in rows if r.claim == "compute is driven by α")
    assert "4 of 16 students hit the step cap" in compute.measured  # α = 0.7: 520 steps -> capped at 500


def test_fig6_disagrees_when_beta_drives_robustness_and_compute():
    rows = _verdicts(fig6_claims(fig6_results(lambda a, b: 3.0 + 0.1 * a + 2 * b, lambda a, b: int(100 + 300 * b))))
    assert rows[("α matters more than β", "language")] == DISAGREE
    assert rows[("compute is driven by α", "language")] == DISAGREE


def test_fig6_ties_and_single_levels_are_undetermined():
    flat = _verdicts(fig6_claims(fig6_results(lambda a, b: 4.0, lambda a, b: 100)))
    assert flat[("α matters more than β", "language")] == UNDETERMINED
    assert flat[("compute is driven by α", "language")] == UNDETERMINED
    one_beta = fig6_claims(fig6_results(lambda a, b: 3.0 + a, lambda a, b: 100, betas=(0.1,)))
    assert all(r.verdict == UNDETERMINED and "at least two" in r.measured for r in one_beta)


def test_fig6_results_feed_the_report(tmp_path):
    (tmp_path / "fig6.json").write_text(json.dumps(fig6_results(lambda a, b: 3.0 + 2 * a, lambda a, b: 100 + 10 * a)))
    rows = [r for r in evaluate(tmp_path) if r.figure == "fig6"]
    assert {(r.claim, r.setting, r.verdict) for r in rows} == {("α matters more than β", "language", AGREE),
                                                              ("compute is driven by α", "language", AGREE)}
# Figure 7 -------------------------------------------------------------------------------------------------------

F7_STEPS = [0, 20, 40, 60]


def _f7_instance(retain, forget, tags=None):
    """One relearning run: two learning rates, the better one reaching forget[i] at F7_STEPS[i], retain fixed."""
    weak = [forget[0] + (f - forget[0]) / 2 for f in forget]
    curves = {lr: {"step": F7_STEPS, "forget": list(vals), "retain": [retain] * len(F7_STEPS)}
              for lr, vals in (("0.001", forget), ("0.0003", weak))}
    return {"artifact": "a", "tags": tags or {"seed": 0}, "summary": {}, "history": [], "results": {"curves": curves}}


def fig7_results(undo_points, sam_long=0.7, repnoise_long=0.6):
    """Arithmetic (accuracies): the attacker raises forget; retain higher is better.

    ``undo_points`` maps a retain threshold to (retain, forget after the long attack).
    """
    series = {"arithmetic/maxent": [_f7_instance(0.88, [0.0, 0.7, 0.8, 0.85])],
              "arithmetic/sam": [_f7_instance(0.87, [0.0, 0.3, 0.5, sam_long])],
              "arithmetic/repnoise": [_f7_instance(0.80, [0.0, 0.2, 0.4, repnoise_long])],
              "arithmetic/undo": [_f7_instance(r, [0.0, 0.05, 0.1, f], {"alpha": 0.6, "seed": 0, "tolerance": t})
                                  for t, (r, f) in undo_points.items()],
              "arithmetic/data_filtering": [_f7_instance(0.90, [0.0, 0.0, 0.01, 0.02])]}
    return {"figure": "fig7", "scale": "mini", "series": series,
            "options": {"moderate_step": 20, "settings": {"arithmetic": {"attacker_best": "max",
                                                                          "retain_higher_is_better": True}}}}


F7_FRONTIER = "UNDO lies on the Pareto frontier after the extensive attack"
F7_ROBUST = "SAM and RepNoise end the extensive attack less robust than UNDO"


def test_fig7_undo_on_frontier_and_more_robust_than_sam_repnoise():
    from undo.claims import fig7_claims

    # τ=0.33 is dominated by SAM (lower retain, higher forget), τ=0.05 by nobody: one free point suffices;
    # Data Filtering dominates every UNDO point and does not count
    rows = fig7_claims(fig7_results({0.05: (0.85, 0.2), 0.33: (0.6, 0.75)}))
    verdicts = _verdicts(rows)
    assert verdicts[(F7_FRONTIER, "arithmetic")] == AGREE
    assert verdicts[(F7_ROBUST, "arithmetic")] == AGREE
    frontier = next(r for r in rows if r.claim == F7_FRONTIER)
    assert "UNDO τ=0.33 (retain 0.6, forget 0.75): dominated by SAM" in frontier.measured
    assert "UNDO τ=0.05 (retain 0.85, forget 0.2): not dominated" in frontier.measured
    assert "after 60 attack steps" in frontier.measured


def test_fig7_dominated_undo_disagrees():
    from undo.claims import fig7_claims

    # both UNDO points lose to SAM on retain and on robust forget (SAM ends at 0.7 < 0.8)
    verdicts = _verdicts(fig7_claims(fig7_results({0.05: (0.86, 0.8), 0.33: (0.6, 0.9)})))
    assert verdicts[(F7_FRONTIER, "arithmetic")] == DISAGREE
    assert verdicts[(F7_ROBUST, "arithmetic")] == DISAGREE  # SAM 0.7 and RepNoise 0.6 are below UNDO's best 0.8


def test_fig7_cross_entropy_orientation_and_missing_methods():
    from undo.claims import UNDETERMINED, fig7_claims

    res = fig7_results({0.05: (0.85, 0.2)}, sam_long=0.2)
    assert _verdicts(fig7_claims(res))[(F7_ROBUST, "arithmetic")] == UNDETERMINED  # SAM ties UNDO
    # the same numbers read as cross-entropies flip both axes: high forget CE is robust, low retain CE is good
    res["options"]["settings"]["arithmetic"] = {"attacker_best": "min", "retain_higher_is_better": False}
    res["series"]["arithmetic/sam"] = [_f7_instance(0.87, [0.0, 0.3, 0.5, 0.7])]
    verdicts = _verdicts(fig7_claims(res))
    assert verdicts[(F7_FRONTIER, "arithmetic")] == DISAGREE  # MaxEnt: lower retain CE and higher forget CE
    assert verdicts[(F7_ROBUST, "arithmetic")] == DISAGREE  # SAM's CE 0.7 and RepNoise's 0.6 exceed UNDO's 0.2
    del res["series"]["arithmetic/undo"]
    assert {r.verdict for r in fig7_claims(res)} == {NOT_RUN}
