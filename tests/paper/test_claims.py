"""undo.paper.claims: every rule on synthetic per-seed results that sit just inside and just outside its margin.

Arithmetic (accuracy, the attacker raises it; margin 0.01) and language (cross-entropy, the attacker lowers it;
margin 0.01 nats). Three seeds each unless a test says otherwise.
"""

import json
import math

import pytest
from click.testing import CliRunner

from undo.paper import claims
from undo.paper.claims import AGREE, DISAGREE, NOT_RUN, UNDETERMINED, seedwise

SEEDS = (0, 1, 2)
STEPS = [0, 10, 20, 40, 60]
EPS = 0.004  # well inside the 0.01 margin


def flat_curves(final, start=None, key="forget"):
    """One learning rate whose envelope is constant at ``final`` (area = final) unless ``start`` is given."""
    values = [final] * len(STEPS) if start is None else [start] + [final] * (len(STEPS) - 1)
    return {"0.001": {"step": STEPS, key: values, "retain": [0.9] * len(STEPS)}}


def inst(final, seed, tags=None, summary=None, retain=0.9, start=None):
    curves = flat_curves(final, start)
    for c in curves.values():
        c["retain"] = [retain] * len(STEPS)
    return {"artifact": "a", "tags": {"seed": seed, **(tags or {})}, "summary": summary or {}, "history": [],
            "results": {"curves": curves}}


def series_of(values, **kw):
    """``values``: one attack value per seed."""
    return [inst(v, s, **kw) for s, v in zip(SEEDS, values, strict=True)]


ARITH = {"higher_is_better": True, "measure_label": "Mul/Div accuracy"}
LANG = {"higher_is_better": False, "measure_label": "Korean CE"}


def verdicts(rows):
    return {(r.claim, r.setting): r.verdict for r in rows}


# The seed-wise rule itself ----------------------------------------------------------------------------------------

def test_seedwise_agree_disagree_undetermined_at_the_margin():
    assert seedwise({0: 0.011, 1: 0.02, 2: 0.5}, 0.01).verdict == AGREE
    assert seedwise({0: 0.01, 1: 0.02, 2: 0.5}, 0.01).verdict == UNDETERMINED  # one seed exactly at the margin
    assert seedwise({0: 0.01, 1: -0.2, 2: 0.009}, 0.01).verdict == DISAGREE
    assert seedwise({0: 0.5}, 0.01).verdict == UNDETERMINED  # one seed is not evidence
    assert seedwise({0: -0.009, 1: 0.3}, 0.01, shows=">=").verdict == AGREE  # "as well or better"
    assert seedwise({0: -0.011, 1: 0.3}, 0.01, shows=">=").verdict == UNDETERMINED
    assert seedwise({0: -math.inf, 1: -math.inf}, 0.0).verdict == DISAGREE
    assert "seed 0" in seedwise({0: 0.5, 1: 0.5}, 0.01).rule


# Figure 4 and 10: Unlearn-and-Distill slower than Unlearn-Only --------------------------------------------------

def fig4_results(uo, ud, df, setting="arithmetic", method="maxent", opts=ARITH):
    return {"series": {f"{setting}/{method}/unlearn_only": series_of(uo), f"{setting}/{method}/distill": series_of(ud),
                       f"{setting}/data_filtering": series_of(df)},
            "options": {"measure": "forget", "settings": {setting: opts}}}


@pytest.mark.parametrize("gap, verdict", [(0.01 + EPS, AGREE), (0.01 - EPS, DISAGREE)])
def test_fig4_slower_is_judged_at_the_resolution(gap, verdict):
    # accuracy: the distilled student relearns less (lower) by `gap` on every seed
    rows = verdicts(claims.fig4_claims(fig4_results([0.8] * 3, [0.8 - gap] * 3, [0.1] * 3)))
    assert rows[(claims.FIG4_SLOWER, "arithmetic/maxent")] == verdict


def test_fig4_split_seeds_are_undetermined_and_cross_entropy_is_oriented():
    rows = verdicts(claims.fig4_claims(fig4_results([0.8] * 3, [0.5, 0.5, 0.9], [0.1] * 3)))
    assert rows[(claims.FIG4_SLOWER, "arithmetic/maxent")] == UNDETERMINED
    # cross-entropy: the attacker lowers it, so a HIGHER value after the attack is more robust
    lang = fig4_results([3.0] * 3, [3.5] * 3, [5.0] * 3, setting="language", opts=LANG)
    assert verdicts(claims.fig4_claims(lang))[(claims.FIG4_SLOWER, "language/maxent")] == AGREE
    lang = fig4_results([3.0] * 3, [2.5] * 3, [5.0] * 3, setting="language", opts=LANG)
    assert verdicts(claims.fig4_claims(lang))[(claims.FIG4_SLOWER, "language/maxent")] == DISAGREE


@pytest.mark.parametrize("ud, verdict", [([0.16] * 3, AGREE), ([0.16, 0.16, 0.2], UNDETERMINED), ([0.25] * 3, DISAGREE)])
def test_fig4_approaches_data_filtering_needs_a_ratio_of_0_9(ud, verdict):
    # Unlearn-Only 0.8, Data Filtering 0.1: ratio (0.8 - ud) / 0.7; 0.16 -> 0.914, 0.2 -> 0.857
    rows = verdicts(claims.fig4_claims(fig4_results([0.8] * 3, ud, [0.1] * 3)))
    assert rows[(claims.FIG4_APPROACH, "arithmetic")] == verdict


def test_fig10_reads_the_average_over_learning_rates():
    res = fig4_results([0.8] * 3, [0.3] * 3, [0.1] * 3)
    for name in ("arithmetic/maxent/distill",):  # a second, very strong rate: the envelope says no, the average (0.65) yes
        for i in res["series"][name]:
            i["results"]["curves"]["0.01"] = {"step": STEPS, "forget": [0.3, 1.0, 1.0, 1.0, 1.0]}
    rows = verdicts(claims.fig4_claims(res))
    assert rows[(claims.FIG4_SLOWER, "arithmetic/maxent")] == DISAGREE  # envelope at the last step: 1.0 vs 0.8
    assert verdicts(claims.fig10_claims(res))[(claims.FIG10_SLOWER, "arithmetic/maxent")] == AGREE


# Figure 2 -------------------------------------------------------------------------------------------------------

def _kl(first, last, seed, student):
    return {"artifact": "a", "tags": {"seed": seed}, "summary": {}, "results": None,
            "history": [{"step": 0, "train/loss": first}, {"step": 10, "train/loss": (first + last) / 2},
                        {"step": 20, "train/loss": last}]}


def fig2_results(ref, rnd, orc, kl_last=0.05):
    return {"series": {"arithmetic/kl/student_reference": [_kl(1.0, kl_last, s, "r") for s in SEEDS],
                       "arithmetic/kl/student_random": [_kl(1.0, kl_last, s, "n") for s in SEEDS],
                       "arithmetic/student_reference": series_of(ref), "arithmetic/student_random": series_of(rnd),
                       "arithmetic/oracle": series_of(orc)},
            "options": {"measure": "forget", "settings": {"arithmetic": ARITH}}}


def test_fig2_rules():
    rows = verdicts(claims.fig2_claims(fig2_results([0.7] * 3, [0.15] * 3, [0.1] * 3)))
    assert rows[("Student (Reference) relearns faster than Student (Random)", "arithmetic")] == AGREE
    assert rows[("Student (Random) relearns like the Oracle Teacher", "arithmetic")] == AGREE
    assert rows[("Oracle matching drives the distillation KL toward zero", "arithmetic")] == AGREE
    near = verdicts(claims.fig2_claims(fig2_results([0.15 + 0.01 - EPS] * 3, [0.15] * 3, [0.1] * 3, kl_last=0.11)))
    assert near[("Student (Reference) relearns faster than Student (Random)", "arithmetic")] == DISAGREE
    assert near[("Oracle matching drives the distillation KL toward zero", "arithmetic")] == DISAGREE  # 0.11 > 0.1


# Figure 3 and the premise ---------------------------------------------------------------------------------------

def _sweep(points, setting="arithmetic"):
    """points: (seed, lr, retain0, retain1, forget0, forget1)."""
    return [{"artifact": "a", "tags": {"lr": lr, "seed": s}, "history": [],
             "summary": {"eval_initial": {"retain": r0, "forget": f0}, "eval": {"retain": r1, "forget": f1}}}
            for s, lr, r0, r1, f0, f1 in points]


def fig3_results(points, setting="arithmetic", higher=True):
    return {"series": {f"{setting}/maxent": _sweep(points, setting)},
            "options": {"tolerance": 0.1, "settings": {setting: {"higher_is_better": higher}}}}


def test_fig3_needs_an_admissible_rate_that_suppresses():
    ok = [(s, 1e-4, 0.9, 0.85, 0.98, 0.19) for s in SEEDS]  # 0.19 <= 0.2 x 0.98
    assert verdicts(claims.fig3_claims(fig3_results(ok)))[(claims.FIG3, "arithmetic")] == AGREE
    weak = [(s, 1e-4, 0.9, 0.85, 0.98, 0.2) for s in SEEDS]  # 0.2 > 0.196
    assert verdicts(claims.fig3_claims(fig3_results(weak)))[(claims.FIG3, "arithmetic")] == DISAGREE
    broken = [(s, 1e-4, 0.9, 0.8, 0.98, 0.0) for s in SEEDS]  # retain falls 11%: no admissible rate
    row = claims.fig3_claims(fig3_results(broken))[0]
    assert row.verdict == DISAGREE and "no admissible rate" in row.measured
    ce = [(s, 1e-3, 3.6, 3.9, 2.8, 5.61) for s in SEEDS]  # CE: retain +8%, forget 2.8 -> 5.61 >= 2x
    assert claims.fig3_claims(fig3_results(ce, "language", higher=False))[0].verdict == AGREE


def test_premise_recovered_share():
    fig3 = fig3_results([(s, 1e-4, 0.9, 0.88, 0.98, 0.0) for s in SEEDS])
    for final, verdict in ((0.5, AGREE), (0.48, DISAGREE)):  # 0.5 / 0.98 = 51%; 0.48 / 0.98 = 49%
        fig4 = {"series": {"arithmetic/maxent/unlearn_only": series_of([final] * 3)},
                "options": {"settings": {"arithmetic": ARITH}}}
        (row,) = claims.premise_claims(fig4, fig3)
        assert row.verdict == verdict and "recovered" in row.measured


# Figure 5 -------------------------------------------------------------------------------------------------------

def fig5_results(attack_by_alpha, steps_by_alpha, capped=(), uo=0.8, df=0.1, reference_steps=100):
    runs = []
    for seed in SEEDS:
        runs.append({"role": "unlearn_only", "alpha": None, "beta": None, "seed": seed, "compute_steps": None,
                     "artifact": "a", "curves": flat_curves(uo)})
        runs.append({"role": "data_filtering", "alpha": None, "beta": None, "seed": seed,
                     "compute_steps": reference_steps, "reference_steps": reference_steps, "artifact": "a",
                     "curves": flat_curves(df)})
        for alpha, attack in attack_by_alpha.items():
            runs.append({"role": "undo", "alpha": alpha, "beta": 0.1, "seed": seed,
                         "compute_steps": steps_by_alpha[alpha], "reference_steps": reference_steps,
                         "capped": (alpha, seed) in capped, "artifact": "a", "curves": flat_curves(attack)})
    panel = {"measure": "forget", "measure_label": "Mul/Div accuracy", "attacker_best": "max",
             "robustness_at": "final", "reference_steps": reference_steps, "runs": runs}
    return {"figure": "fig5", "panels": {"arithmetic": panel}}


def test_fig5_trends_and_matching():
    res = fig5_results({0.2: 0.6, 0.5: 0.4, 0.8: 0.163}, {0.2: 20, 0.5: 50, 0.8: 70})
    rows = verdicts(claims.fig5_claims(res))
    assert rows[(claims.FIG5_ROBUST, "arithmetic")] == AGREE
    assert rows[(claims.FIG5_COMPUTE, "arithmetic")] == AGREE
    assert rows[(claims.FIG5_MATCH, "arithmetic")] == AGREE  # (0.8 - 0.163) / 0.7 = 0.91
    assert rows[(claims.FIG5_ABSTRACT, "arithmetic")] == AGREE  # at 70% of the compute
    res = fig5_results({0.2: 0.6, 0.5: 0.4, 0.8: 0.17}, {0.2: 20, 0.5: 50, 0.8: 81})
    rows = verdicts(claims.fig5_claims(res))
    assert rows[(claims.FIG5_MATCH, "arithmetic")] == DISAGREE  # exactly 0.9 is not above the margin
    assert rows[(claims.FIG5_ABSTRACT, "arithmetic")] == DISAGREE  # no α matches


def test_fig5_reversed_trends_disagree_and_capped_students_are_left_out():
    rows = verdicts(claims.fig5_claims(fig5_results({0.2: 0.1, 0.5: 0.4, 0.8: 0.7}, {0.2: 80, 0.5: 50, 0.8: 20})))
    assert rows[(claims.FIG5_ROBUST, "arithmetic")] == DISAGREE
    assert rows[(claims.FIG5_COMPUTE, "arithmetic")] == DISAGREE
    # the strong α=0.8 students are capped: the strongest setting with uncapped seeds is α=0.5, which does not match
    capped = {(0.8, s) for s in SEEDS}
    res = fig5_results({0.2: 0.6, 0.5: 0.4, 0.8: 0.1}, {0.2: 20, 0.5: 50, 0.8: 100}, capped=capped)
    out = claims.fig5_claims(res)
    rows = verdicts(out)
    assert rows[(claims.FIG5_MATCH, "arithmetic")] == DISAGREE
    assert rows[(claims.FIG5_ROBUST, "arithmetic")] == UNDETERMINED  # two uncapped α per seed: no trend to test
    assert "3 capped students left out" in next(r for r in out if r.claim == claims.FIG5_ROBUST).measured


# Figure 6 -------------------------------------------------------------------------------------------------------

def fig6_results(score, steps, setting="language", capped=(), opts=LANG, alphas=(0.2, 0.8), betas=(0.1, 1.0)):
    undo, distill = [], []
    for a in alphas:
        for b in betas:
            for s in SEEDS:
                undo.append(inst(score(a, b), s, tags={"alpha": a, "beta": b}))
                distill.append({"artifact": "d", "tags": {"alpha": a, "beta": b, "seed": s}, "history": [],
                                "summary": {"steps": steps(a, b), "stop_reached": (a, b, s) not in capped}})
    return {"series": {f"{setting}/undo": undo, f"{setting}/distill": distill},
            "options": {"measure": "forget", "settings": {setting: opts}}}


def test_fig6_alpha_versus_beta_main_effects_and_low_beta():
    # language CE (higher = more robust): alpha moves it by 1.0, beta by 0.2 (lower beta better)
    res = fig6_results(lambda a, b: 3 + 1.0 * (a == 0.8) - 0.2 * (b == 1.0), lambda a, b: 100 * (1 + 4 * a))
    rows = verdicts(claims.fig6_claims(res))
    assert rows[(claims.FIG6_ALPHA, "language")] == AGREE
    assert rows[(claims.FIG6_COMPUTE, "language")] == AGREE
    assert rows[(claims.FIG6_BETA, "language")] == AGREE
    # beta's effect exceeds alpha's by less than the margin: alpha does not matter more
    res = fig6_results(lambda a, b: 3 + 0.2 * (a == 0.8) + (0.2 + 0.01 - EPS) * (b == 1.0), lambda a, b: 100 + 50 * b)
    rows = verdicts(claims.fig6_claims(res))
    assert rows[(claims.FIG6_ALPHA, "language")] == DISAGREE
    assert rows[(claims.FIG6_COMPUTE, "language")] == DISAGREE
    # larger beta clearly better (by 0.011 > margin): "lower beta as well or better" fails
    res = fig6_results(lambda a, b: 3 + 0.011 * (b == 1.0), lambda a, b: 100)
    assert verdicts(claims.fig6_claims(res))[(claims.FIG6_BETA, "language")] == DISAGREE


def test_fig6_capped_corners_leave_the_seed_out():
    capped = {(0.8, 1.0, 0), (0.8, 1.0, 1)}
    res = fig6_results(lambda a, b: 3 + a, lambda a, b: 100, capped=capped)
    row = next(r for r in claims.fig6_claims(res) if r.claim == claims.FIG6_ALPHA)
    assert row.verdict == UNDETERMINED and "left out" in row.measured  # one seed left


# Figure 7 -------------------------------------------------------------------------------------------------------

def _f7(method, retain, initial, moderate, long, seed, tol=None):
    steps = [0, 20, 40, 100]
    tags = {"seed": seed} | ({"tolerance": tol, "alpha": 0.6} if tol is not None else {})
    return {"artifact": "a", "tags": tags, "summary": {}, "history": [],
            "results": {"curves": {"0.001": {"step": steps, "forget": [initial, moderate, moderate, long],
                                             "retain": [retain] * 4}}}}


def fig7_results(points):
    series = {}
    for method, retain, initial, moderate, long, tol in points:
        series.setdefault(f"arithmetic/{method}", []).extend(
            _f7(method, retain, initial, moderate, long, s, tol) for s in SEEDS)
    return {"series": series, "options": {"moderate_step": 40, "settings": {"arithmetic": {
        "higher_is_better": True, "forget_label": "Mul/Div", "retain_label": "Add/Sub"}}}}


def test_fig7_frontier_moderate_and_robust_methods():
    res = fig7_results([("maxent", 0.88, 0.0, 0.6, 0.9, None), ("graddiff", 0.85, 0.0, 0.5, 0.9, None),
                        ("sam", 0.88, 0.0, 0.3, 0.8, None), ("repnoise", 0.86, 0.0, 0.3, 0.7, None),
                        ("rmu", 0.2, 0.0, 0.0, 0.0, None),  # more robust, but UNDO keeps far more retain
                        ("undo", 0.85, 0.0, 0.2, 0.6 - 0.01 - EPS, 0.05), ("undo", 0.7, 0.0, 0.1, 0.2, 0.33),
                        ("data_filtering", 0.9, 0.0, 0.05, 0.1, None)])
    rows = verdicts(claims.fig7_claims(res))
    assert rows[(claims.FIG7_FRONTIER, "arithmetic")] == AGREE  # the tightest threshold (0.05) is the UNDO point
    assert rows[(claims.FIG7_ROBUST, "arithmetic")] == AGREE  # 0.586 vs RepNoise 0.7
    assert rows[(claims.FIG7_MODERATE, "arithmetic")] == AGREE  # 0.2 vs MaxEnt 0.6, GradDiff 0.5
    close = fig7_results([("sam", 0.88, 0.0, 0.3, 0.7, None), ("repnoise", 0.86, 0.0, 0.3, 0.7, None),
                          ("maxent", 0.88, 0.0, 0.2 + 0.01 - EPS, 0.9, None),
                          ("undo", 0.85, 0.0, 0.2, 0.7 - 0.01 + EPS, 0.05)])
    rows = verdicts(claims.fig7_claims(close))
    assert rows[(claims.FIG7_FRONTIER, "arithmetic")] == DISAGREE  # SAM: more retain, forget within the margin
    assert rows[(claims.FIG7_ROBUST, "arithmetic")] == DISAGREE
    assert rows[(claims.FIG7_MODERATE, "arithmetic")] == DISAGREE


def test_fig7_a_robust_low_retain_undo_point_does_not_put_undo_on_the_frontier():
    # the loose threshold's point (retain 0.5) is the most robust of all, but the rule reads the tightest one,
    # which a rival with more retain and more robustness dominates
    res = fig7_results([("repnoise", 0.9, 0.0, 0.1, 0.3, None), ("undo", 0.85, 0.0, 0.2, 0.6, 0.05),
                        ("undo", 0.5, 0.0, 0.0, 0.0, 0.33)])
    assert verdicts(claims.fig7_claims(res))[(claims.FIG7_FRONTIER, "arithmetic")] == DISAGREE
    only_undo = fig7_results([("undo", 0.85, 0.0, 0.2, 0.6, 0.05)])
    assert verdicts(claims.fig7_claims(only_undo))[(claims.FIG7_FRONTIER, "arithmetic")] == NOT_RUN


# The report -----------------------------------------------------------------------------------------------------

def test_report_lists_every_claim_with_its_margin(tmp_path, monkeypatch):
    fig_dir = tmp_path / "figures" / "mini"
    fig_dir.mkdir(parents=True)
    (fig_dir / "fig4.json").write_text(json.dumps(fig4_results([0.8] * 3, [0.3] * 3, [0.1] * 3)))
    rows = claims.evaluate(fig_dir)
    names = {r.claim for r in rows}
    for figure, (_, expected) in claims.SOURCES.items():
        assert set(expected) <= names, figure
    text = claims.markdown(rows, "mini")
    assert "agree when every seed has d > 0.01" in text and "**not run**" in text
    monkeypatch.chdir(tmp_path)
    from undo.cli import cli

    out = CliRunner().invoke(cli, ["report", "--scale", "mini"])
    assert out.exit_code == 0, out.output
    assert (fig_dir / "claims.md").is_file()
