"""Tests for undo.paper.analysis: attacker envelopes, robustness/compute and the Figure 5 summary (Section 5)."""

import json
import math

import pytest

from undo.paper import analysis

STEPS = [0, 10, 20]


def curves_for(final, measure="forget_acc"):
    """Two LRs: the small one is better at step 10, the large one at the final step (value ``final``)."""
    return {
        "0.001": {"step": STEPS, measure: [0.0, final / 2, final], "retain_acc": [0.9, 0.9, 0.9]},
        "0.0001": {"step": STEPS, measure: [0.01, final * 0.6, final - 0.05], "retain_acc": [0.9, 0.9, 0.9]},
    }


def run(role, final, seed, alpha=None, beta=None, compute=None):
    return {
        "role": role,
        "alpha": alpha,
        "beta": beta,
        "seed": seed,
        "compute_steps": compute,
        "artifact": f"relearn/{role}-{seed}",
        "curves": curves_for(final),
    }


# Known answer: P_UO median 0.85, P_DF median 0.15; seed i's robustness = (P_i - P_UO,i) / (P_DF,i - P_UO,i).
FINALS = {
    ("unlearn_only", None): ([0.8, 0.9, 0.85], [None] * 3),
    ("undo", 0.2): ([0.7, 0.6, 0.65], [200, 300, 250]),
    ("undo", 0.6): ([0.3, 0.4, 0.5], [500, 600, 400]),
    ("data_filtering", None): ([0.1, 0.2, 0.15], [1000] * 3),
}


def make_panel(finals=FINALS, at="final"):
    runs = []
    for (role, alpha), (vals, compute) in finals.items():
        for seed, (v, c) in enumerate(zip(vals, compute, strict=True)):
            runs.append(run(role, v, seed, alpha=alpha, beta=0.1 if alpha is not None else None, compute=c))
    runs.reverse()  # order in the JSON must not matter
    return {
        "measure": "forget_acc",
        "measure_label": "Mul/Div accuracy",
        "attacker_best": "max",
        "robustness_at": at,
        "reference_steps": 1000,
        "runs": runs,
    }


def test_envelope_max_and_argmax_lr():
    steps, vals, lrs = analysis.envelope(curves_for(0.8), "forget_acc", "max")
    assert steps == STEPS
    assert vals == pytest.approx([0.01, 0.48, 0.8])
    assert lrs == ["0.0001", "0.0001", "0.001"]


def test_envelope_min_mode():
    curves = {"1e-3": {"step": [0, 5], "forget_ce": [3.0, 1.0]}, "1e-5": {"step": [0, 5], "forget_ce": [2.5, 2.0]}}
    steps, vals, lrs = analysis.envelope(curves, "forget_ce", "min")
    assert steps == [0, 5] and vals == [2.5, 1.0] and lrs == ["1e-5", "1e-3"]


def test_envelope_skips_nan():
    curves = {
        "1e-3": {"step": [0, 5], "forget_ce": [float("nan"), 9.0]},
        "1e-5": {"step": [0, 5], "forget_ce": [2.5, 2.0]},
    }
    _, vals, lrs = analysis.envelope(curves, "forget_ce", "min")
    assert vals == [2.5, 2.0] and lrs == ["1e-5", "1e-5"]


@pytest.mark.parametrize(
    "curves",
    [
        {},
        {"1e-3": {"step": [0, 10], "m": [0, 1]}, "1e-4": {"step": [0, 20], "m": [0, 1]}},
        {"1e-3": {"step": [0, 10], "m": [0]}},
        {"1e-3": {"step": [0, 10]}},
    ],
)
def test_envelope_errors(curves):
    with pytest.raises(ValueError):
        analysis.envelope(curves, "m", "max")


def test_envelope_bad_best():
    with pytest.raises(ValueError):
        analysis.envelope(curves_for(0.5), "forget_acc", "maximum")


def test_attack_value_final_vs_mean():
    c = curves_for(0.8)
    assert analysis.attack_value(c, "forget_acc", "max") == pytest.approx(0.8)
    assert analysis.attack_value(c, "forget_acc", "max", at="mean") == pytest.approx((0.01 + 0.48 + 0.8) / 3)
    with pytest.raises(ValueError):
        analysis.attack_value(c, "forget_acc", "max", at="auc")


def test_robustness_formula():
    assert analysis.robustness(0.5, 0.9, 0.1) == pytest.approx(0.5)  # accuracy: lower is more robust
    assert analysis.robustness(0.9, 0.9, 0.1) == 0.0
    assert analysis.robustness(0.1, 0.9, 0.1) == 1.0
    assert analysis.robustness(3.0, 1.0, 5.0) == pytest.approx(0.5)  # cross-entropy: higher is more robust
    with pytest.raises(ValueError, match="undefined"):
        analysis.robustness(0.5, 0.3, 0.3)


def test_compute_ratio():
    assert analysis.compute_ratio(450, 1000) == pytest.approx(0.45)
    with pytest.raises(ValueError):
        analysis.compute_ratio(450, 0)
    with pytest.raises(ValueError):
        analysis.compute_ratio(None, 1000)


def test_summarize_panel_known_answer():
    s = analysis.summarize_panel(make_panel())
    json.dumps(s)  # plain structure
    assert [(g["role"], g["alpha"]) for g in s["groups"]] == [
        ("unlearn_only", None),
        ("undo", 0.2),
        ("undo", 0.6),
        ("data_filtering", None),
    ]
    assert s["references"] == pytest.approx({"unlearn_only": 0.85, "data_filtering": 0.15})
    assert not s["warnings"]
    uo, a2, a6, df = s["groups"]
    assert all(g["n_seeds"] == 3 and g["seeds"] == [0, 1, 2] for g in s["groups"])
    assert a6["attack"] == pytest.approx({"median": 0.4, "min": 0.3, "max": 0.5})
    # each seed against its own pipeline's references: seed i's Unlearn-Only and Data Filtering values
    uo_by_seed, df_by_seed = FINALS[("unlearn_only", None)][0], FINALS[("data_filtering", None)][0]
    rob = [(p - uo) / (df - uo) for p, uo, df in zip(FINALS[("undo", 0.6)][0], uo_by_seed, df_by_seed, strict=True)]
    assert a6["robustness_per_seed"] == pytest.approx(rob)
    assert a6["robustness"] == pytest.approx({"median": sorted(rob)[1], "min": min(rob), "max": max(rob)})
    rob2 = [(p - uo) / (df - uo) for p, uo, df in zip(FINALS[("undo", 0.2)][0], uo_by_seed, df_by_seed, strict=True)]
    assert a2["robustness"]["median"] == pytest.approx(sorted(rob2)[1])
    assert a2["compute_ratio"] == pytest.approx({"median": 0.25, "min": 0.2, "max": 0.3})
    assert a6["compute_ratio"] == pytest.approx({"median": 0.5, "min": 0.4, "max": 0.6})
    assert uo["compute_ratio"] is None and df["compute_ratio"]["median"] == 1.0
    assert uo["robustness_per_seed"] == pytest.approx([0.0] * 3) and df["robustness_per_seed"] == pytest.approx([1.0] * 3)
    assert a6["final_best_lr"] == ["0.001"] * 3
    assert a6["curve"]["step"] == STEPS and a6["curve"]["max"][-1] == pytest.approx(0.5)


def test_summarize_panel_passes_capped_through():
    panel = make_panel()
    for r in panel["runs"]:  # α=0.6: seeds 0 and 2 stopped at the step cap unmet, seed 1 met the stop rule
        if r["alpha"] == 0.6:
            r["capped"] = r["seed"] != 1
        elif r["alpha"] == 0.2:
            r["capped"] = False
    s = analysis.summarize_panel(panel)
    uo, a2, a6, df = s["groups"]
    assert (a6["capped"], a6["capped_per_seed"]) == (2, [True, False, True])
    assert (a2["capped"], a2["capped_per_seed"]) == (0, [False, False, False])
    assert (uo["capped"], uo["capped_per_seed"]) == (0, [None, None, None])  # no field: not a distilled student
    # nothing else moves: the summary without the fields is the same apart from them
    plain = analysis.summarize_panel(make_panel())
    strip = lambda summary: [{k: v for k, v in g.items() if not k.startswith("capped")} for g in summary["groups"]]  # noqa: E731
    assert strip(s) == strip(plain) and {k: v for k, v in s.items() if k != "groups"} == \
        {k: v for k, v in plain.items() if k != "groups"}
    assert all(g["capped"] == 0 and set(g["capped_per_seed"]) == {None} for g in plain["groups"])


def test_summarize_panel_mean_mode():
    s = analysis.summarize_panel(make_panel(at="mean"))
    a6 = s["groups"][2]
    assert a6["attack"]["median"] == pytest.approx((0.01 + 0.6 * 0.4 + 0.4) / 3)


def test_summarize_panel_undefined_robustness():
    finals = {
        ("unlearn_only", None): ([0.5], [None]),
        ("undo", 0.3): ([0.4], [100]),
        ("data_filtering", None): ([0.5], [1000]),
    }
    s = analysis.summarize_panel(make_panel(finals))
    assert all(g["robustness"] is None for g in s["groups"])
    assert any("undefined" in w for w in s["warnings"])


def test_trend_monotone():
    t = analysis.trend(analysis.summarize_panel(make_panel()))
    assert t["monotone"] and not t["violations"]
    assert t["spearman"] == pytest.approx(1.0) and t["n_undo"] == 2


def test_trend_non_monotone():
    finals = dict(FINALS)
    finals[("undo", 0.6)] = ([0.9, 0.95, 0.92], [500, 600, 400])  # more noise, *less* robust
    finals[("undo", 0.4)] = ([0.5, 0.55, 0.6], [300, 300, 300])
    t = analysis.trend(analysis.summarize_panel(make_panel(finals)))
    assert not t["monotone"]
    assert [(v["from"], v["to"]) for v in t["violations"]] == [("UNDO α=0.4", "UNDO α=0.6")]
    assert t["spearman"] == pytest.approx(-0.5)


def test_trend_min_mode():
    summary = {
        "attacker_best": "min",
        "groups": [
            {"role": "unlearn_only", "alpha": None, "label": "UO", "attack": {"median": 1.0}},
            {"role": "undo", "alpha": 0.2, "label": "a", "attack": {"median": 2.0}},
            {"role": "undo", "alpha": 0.6, "label": "b", "attack": {"median": 3.0}},
            {"role": "data_filtering", "alpha": None, "label": "DF", "attack": {"median": 4.0}},
        ],
    }
    t = analysis.trend(summary)
    assert t["monotone"] and t["spearman"] == pytest.approx(1.0)


def test_markdown_table():
    s = analysis.summarize_panel(make_panel())
    md = analysis.markdown_table(s, "Mul/Div accuracy")
    lines = md.strip().splitlines()
    assert len(lines) == 2 + 4
    for name in ("Unlearn-Only", "UNDO", "Data Filtering", "Mul/Div accuracy"):
        assert name in md
    assert "| 0.6 | 0.1 | 3 | 0.500 | 0.400 [0.300–0.500] |" in md
    assert not math.isnan(s["groups"][1]["robustness"]["median"])


def test_lr_average_skips_nan_and_checks_steps():
    from undo.paper.analysis import lr_average

    curves = {"1e-3": {"step": [0, 5], "forget": [0.0, float("nan")]}, "1e-4": {"step": [0, 5], "forget": [0.2, 0.4]}}
    assert lr_average(curves, "forget") == ([0, 5], pytest.approx([0.1, 0.4]))
    with pytest.raises(ValueError, match="disagree"):
        lr_average({"1e-3": {"step": [0, 5], "forget": [0, 1]}, "1e-4": {"step": [0, 10], "forget": [0, 1]}}, "forget")


def test_a_diverged_rate_never_wins_by_a_nan_comparison():
    """A diverged rate's NaN evaluations are skipped whatever its place in the grid (first, last, the only one left at
    a step), so it never becomes the attacker's best by a NaN comparison; before it diverged it competes as any other."""
    nan = math.nan
    curves = {"1e+30": {"step": [0, 5, 10], "forget": [0.1, nan, nan]},   # sorts last, diverged after step 0
              "1e-05": {"step": [0, 5, 10], "forget": [nan, 0.2, 0.3]},   # sorts first (NaN at step 0: skipped too)
              "0.001": {"step": [0, 5, 10], "forget": [0.1, 0.4, 0.2]}}
    steps, values, lrs = analysis.envelope(curves, "forget", "max")
    assert (steps, values, lrs) == ([0, 5, 10], [0.1, 0.4, 0.3], ["0.001", "0.001", "1e-05"])
    assert analysis.envelope(curves, "forget", "min")[1] == [0.1, 0.2, 0.2]
    assert analysis.attack_value(curves, "forget", "max") == 0.3
    only_diverged = {"0.1": {"step": [0, 5], "forget": [0.1, nan]}}
    assert math.isnan(analysis.envelope(only_diverged, "forget", "max")[1][1])


def test_the_best_single_rate_of_a_tofu_attack_is_never_a_diverged_one():
    from undo.paper.tofu import best_curve

    nan = math.nan
    curves = {"1e+30": {"step": [0, 5], "forget": [0.9, nan], "diverged": True},
              "0.001": {"step": [0, 5], "forget": [0.1, 0.2], "diverged": False}}
    assert best_curve({"results": {"curves": curves}})["lr"] == "0.001"
