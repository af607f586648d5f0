"""undo.paper.figures.fig6 and analysis.summarize_grid on a synthetic α × β grid whose cells and spreads are known."""


import pytest
from figure_helpers import load_figure

from undo.paper import analysis

STEPS = [0, 5, 10]
ALPHAS, BETAS = (0.1, 0.3, 0.5, 0.7), (0.05, 0.1, 0.5, 1.0)


def _load():
    return load_figure("fig6")


def _curves(final):
    """Two learning rates rising linearly from 0: the better one reaches ``final``, the other half of it."""
    return {"0.001": {"step": STEPS, "forget": [final * s / 10 for s in STEPS], "retain": [0.9] * 3},
            "0.0001": {"step": STEPS, "forget": [final * s / 20 for s in STEPS], "retain": [0.9] * 3}}


def grid_results(attack, steps, cap=500, seeds=(0,), settings=("arithmetic",)):
    """``attack(α, β)`` is each student's final forget accuracy under attack, ``steps(α, β)`` its distillation steps;
    a student at ``cap`` steps did not meet the stop rule."""
    series = {}
    for setting in settings:
        undo, distill = [], []
        for a in ALPHAS:
            for b in BETAS:
                for seed in seeds:
                    tags = {"alpha": a, "beta": b, "seed": seed}
                    undo.append({"artifact": f"relearn/x-{a}-{b}-{seed}", "tags": tags, "summary": {}, "history": [],
                                 "results": {"curves": _curves(attack(a, b)), "model_steps": steps(a, b)}})
                    distill.append({"artifact": f"distill/x-{a}-{b}-{seed}", "tags": tags, "history": [],
                                    "summary": {"steps": steps(a, b), "max_steps": cap,
                                                "stop_reached": steps(a, b) < cap,
                                                "teacher_eval": {"retain": 0.9}, "eval": {"retain": 0.87}}})
        series[f"{setting}/undo"] = undo
        series[f"{setting}/distill"] = distill
        series[f"{setting}/unlearn_only"] = [{"artifact": "r", "tags": {"seed": 0}, "summary": {}, "history": [],
                                              "results": {"curves": _curves(0.8)}}]
    opts = {"measure": "forget", "settings": {s: {"higher_is_better": True, "measure_label": "Mul/Div accuracy"}
                                              for s in settings}}
    return {"figure": "fig6", "scale": "smoke", "series": series, "options": opts}


def alpha_driven(a, b):
    return 0.8 - a  # robustness grows with α only


def alpha_steps(a, b):
    return min(500, int(100 + 600 * a))  # α = 0.7 hits the cap


def test_grid_summary_joins_relearning_and_distillation():
    s = analysis.summarize_grid(grid_results(alpha_driven, alpha_steps))["arithmetic"]
    assert s["alphas"] == list(ALPHAS) and s["betas"] == list(BETAS) and len(s["cells"]) == 16
    cell = next(c for c in s["cells"] if c["alpha"] == 0.3 and c["beta"] == 0.5)
    assert cell["attack"]["median"] == pytest.approx(0.5) and cell["steps"]["median"] == 280
    assert cell["capped"] == 0 and cell["retain"]["median"] == pytest.approx(0.87) and cell["teacher_retain"] == 0.9
    assert cell["curve"]["median"] == pytest.approx([0.0, 0.25, 0.5])
    capped = [c for c in s["cells"] if c["capped"]]
    assert {c["alpha"] for c in capped} == {0.7} and all(c["steps"]["median"] == 500 for c in capped)
    assert s["references"]["unlearn_only"]["best"]["final"]["median"] == pytest.approx(0.8)


def test_factor_spread_on_known_values():
    values = {(a, b): 10 * a + b for a in (0.1, 0.7) for b in (0.0, 1.0)}
    spread = analysis.factor_spread(values)
    assert spread["alpha"]["spread"] == pytest.approx(6.0) and spread["beta"]["spread"] == pytest.approx(1.0)
    assert spread["alpha"]["means"][0.1] == pytest.approx(1.5) and spread["complete"]
    del values[(0.7, 1.0)]
    assert not analysis.factor_spread(values)["complete"]
    assert analysis.factor_spread({(0.1, 0.0): 1.0})["alpha"]["spread"] is None


def test_draws_png_pdf_md_with_capped_cells_marked(tmp_path):
    res = grid_results(alpha_driven, alpha_steps, settings=("arithmetic", "language"))
    res["options"]["settings"]["language"] = {"higher_is_better": True, "measure_label": "Korean CE"}
    paths = _load().draw(res, tmp_path / "fig6")
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md"} and all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "fig6.md").read_text()
    assert md.index("## Language") < md.index("## Arithmetic")
    assert "| 0.7 | ≥500 | ≥500 | ≥500 | ≥500 |" in md  # capped students are not shown as recovered
    assert "| 0.1 | 160 | 160 | 160 | 160 |" in md
    assert "| 0.3 | 0.500 | 0.500 | 0.500 | 0.500 |" in md  # attack value at the final step
    assert "spread over α 0.600" in md and "spread over β 0.000" in md
    assert "Unlearn-Only 0.800" in md
    assert "Capped without meeting the stop rule: α=0.7 β=0.05, α=0.7 β=0.1, α=0.7 β=0.5, α=0.7 β=1." in md


def test_partly_capped_cell_and_missing_cell(tmp_path):
    fig6 = _load()
    cell = {"steps": {"median": 450.0}, "capped": 1, "n_seeds": 3, "max_steps": 500}
    assert fig6.steps_text(cell) == "450 (1/3 capped)"
    assert fig6.steps_text(None) == "—"
    res = grid_results(alpha_driven, alpha_steps)
    res["series"]["arithmetic/undo"] = [i for i in res["series"]["arithmetic/undo"]
                                        if (i["tags"]["alpha"], i["tags"]["beta"]) != (0.5, 1.0)]
    fig6.draw(res, tmp_path / "fig6")
    assert "| 0.5 | 400 | 400 | 400 | — |" in (tmp_path / "fig6.md").read_text()


def test_refuses_results_without_grid(tmp_path):
    res = grid_results(alpha_driven, alpha_steps)
    del res["series"]["arithmetic/undo"]
    with pytest.raises(ValueError, match="no <setting>/undo series"):
        _load().draw(res, tmp_path / "fig6")
    res["series"]["arithmetic/oops"] = []
    with pytest.raises(ValueError, match="expected <setting>/<undo"):
        analysis.summarize_grid(res)


def test_two_seeds_one_capped_one_diverged_rate(tmp_path, saved_figures):
    """Seed 1 of (α=0.3, β=0.5) hit the cap; seed 0 of (α=0.1, β=0.05) had its attack grid extended by a rate that
    diverged. Cells are medians over both seeds, the partly capped one hatched and counted."""
    res = grid_results(alpha_driven, alpha_steps, seeds=(0, 1))
    for inst in res["series"]["arithmetic/distill"]:
        if (inst["tags"]["alpha"], inst["tags"]["beta"], inst["tags"]["seed"]) == (0.3, 0.5, 1):
            inst["summary"].update(steps=500, stop_reached=False)
    attack = next(i for i in res["series"]["arithmetic/undo"] if i["tags"] == {"alpha": 0.1, "beta": 0.05, "seed": 0})
    attack["results"]["curves"]["0.01"] = {"step": STEPS, "forget": [0.0, float("nan"), float("nan")],
                                           "retain": [0.9] * 3, "diverged": True}
    attack["results"]["extra_lrs"] = {"up": 1, "down": 0}
    _load().draw(res, tmp_path / "fig6")
    md = (tmp_path / "fig6.md").read_text()
    assert "Seeds per cell: 2." in md
    assert "| 0.3 | 280 | 280 | 390 (1/2 capped) | 280 |" in md  # median of 280 and the cap, 500
    assert "| 0.1 | 0.700 | 0.700 | 0.700 | 0.700 |" in md  # the diverged rate changes no attack value
    assert "- arithmetic/undo α=0.1 β=0.05 (seed 0): attack grid extended by 1 above (3 learning rates)" in md
    assert "- arithmetic/undo α=0.1 β=0.05 (seed 0): learning rate 0.01 diverged" in md
    matrix = saved_figures[-1].axes[4]
    hatched = [p for p in matrix.patches if p.get_hatch()]
    assert [p.get_xy() for p in hatched if p.get_xy()[1] == 0.5] == [(1.5, 0.5)]  # α=0.3 (row 1), β=0.5 (column 2)
    assert "390\n(1/2 capped)" in [t.get_text() for t in matrix.texts]
