"""undo.paper.figures.fig9 on a synthetic results dict (distillation histories of two teachers)."""


import pytest
from figure_helpers import load_figure


@pytest.fixture(scope="module")
def fig9():
    return load_figure("fig9")


def _instance(final_retain, seed=None, steps=(10, 20), teacher_retain=0.8):
    hist = [{"step": 0, "eval/retain": 0.0, "eval/forget": 0.0}]
    for step in steps:
        hist.append({"step": step, "train/loss": 1.0 / step, "train/lr": 1e-3})
        hist.append({"step": step, "eval/retain": final_retain * step / steps[-1], "eval/forget": 0.01})
    return {"artifact": "a", "tags": {} if seed is None else {"seed": seed}, "history": hist,
            "summary": {"steps": steps[-1], "teacher_eval": {"retain": teacher_retain, "forget": 0.02},
                        "eval": {"retain": final_retain, "forget": 0.01}}}


def test_draws_and_tabulates(fig9, tmp_path):
    results = {"scale": "smoke", "series": {"arithmetic/maxent": [_instance(0.75)], "arithmetic/rmu": [_instance(0.5)]},
               "options": {"settings": {"arithmetic": {"retain": "Add/Sub accuracy", "forget": "Mul/Div accuracy"}}}}
    data = fig9.trends(results)
    retain = data["arithmetic"]["maxent"]["retain"]
    assert retain["step"] == [0, 10, 20] and retain["median"] == [0.0, 0.375, 0.75] and retain["n"] == [1, 1, 1]
    assert data["arithmetic"]["rmu"]["loss"]["step"] == [10, 20] and data["arithmetic"]["rmu"]["loss"]["median"] == [0.1, 0.05]
    paths = fig9.draw(results, tmp_path / "fig9")
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md"} and all(p.stat().st_size > 0 for p in paths)
    assert "| MaxEnt | 20 | 1 | 0.800 | 0.750 | 0.020 | 0.010 |" in (tmp_path / "fig9.md").read_text()


def test_refuses_empty(fig9, tmp_path):
    with pytest.raises(ValueError, match="no distillation series"):
        fig9.draw({"series": {}}, tmp_path / "fig9")


def test_several_seeds_median_band_and_teacher_median(fig9, tmp_path, saved_figures):
    """Each seed distils its own teacher (retain 0.8 / 0.7); seed 1's stop rule ended it at step 10."""
    results = {"scale": "mini", "series": {"arithmetic/maxent": [_instance(0.75, seed=0),
                                                                 _instance(0.5, seed=1, steps=(10,), teacher_retain=0.7)]},
               "options": {"settings": {"arithmetic": {"retain": "Add/Sub accuracy", "forget": "Mul/Div accuracy"}}}}
    retain = fig9.trends(results)["arithmetic"]["maxent"]["retain"]
    # step 10: seed 0 at 0.375, seed 1 at its final 0.5; step 20: seed 0 alone
    assert retain["step"] == [0, 10, 20] and retain["median"] == pytest.approx([0.0, 0.4375, 0.75])
    assert retain["n"] == [2, 2, 1] and retain["min"][1] == 0.375 and retain["max"][1] == 0.5
    fig9.draw(results, tmp_path / "fig9")
    md = (tmp_path / "fig9.md").read_text()
    assert "| MaxEnt | 15 [10–20] | 2 | 0.750 [0.700–0.800] | 0.625 [0.500–0.750] | 0.020 | 0.010 |" in md
    assert "Seeds: 2 seeds." in md
    ax = saved_figures[-1].axes[1]  # (b) retain
    teacher = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in teacher] == [pytest.approx(0.75)]  # the median of the seeds' teachers
    (band,) = ax.collections
    xs = band.get_paths()[0].vertices[:, 0]
    assert max(xs) == 10  # the band ends where only one seed is left
