"""undo.paper.figures.fig2 on a synthetic results dict whose KL curves and relearning envelopes are known."""


import pytest
from figure_helpers import load_figure

STEPS = [0, 5, 10]


def _load():
    return load_figure("fig2")


def _relearn(fast, slow):
    curves = {lr: {"step": STEPS, "forget": [rate * s for s in STEPS]} for lr, rate in (("0.001", fast), ("0.0001", slow))}
    return [{"artifact": f"relearn/x-seed{seed}", "tags": {"seed": seed}, "summary": {}, "history": [],
             "results": {"curves": curves}} for seed in (0, 1)]


def _distill(losses, *more_seeds):
    """One distillation per seed, seed i logging ``(losses, *more_seeds)[i]`` at steps 10, 20, ..."""
    return [{"artifact": f"distill/x-seed{seed}", "tags": {"seed": seed}, "summary": {}, "history": [
        {"step": 0, "eval/forget": 0.5}, *({"step": 10 * (i + 1), "train/loss": v} for i, v in enumerate(kl))]}
        for seed, kl in enumerate((losses, *more_seeds))]


def results():
    series = {}
    for setting in ("language", "arithmetic"):
        series[f"{setting}/kl/student_reference"] = _distill([0.8, 0.2, 0.04])
        series[f"{setting}/kl/student_random"] = _distill([6.0, 1.0, 0.3])
        series[f"{setting}/student_reference"] = _relearn(0.08, 0.02)
        series[f"{setting}/student_random"] = _relearn(0.02, 0.0)
        series[f"{setting}/oracle"] = _relearn(0.015, 0.0)
    return {"figure": "fig2", "scale": "smoke", "series": series,
            "options": {"measure": "forget", "settings": {"arithmetic": {"higher_is_better": True,
                                                                         "measure_label": "Mul/Div accuracy"},
                                                          "language": {"higher_is_better": True,
                                                                       "measure_label": "Korean CE"}}}}


def test_draw_writes_figure_and_table_with_known_numbers(tmp_path):
    paths = _load().draw(results(), tmp_path / "fig2")
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md"} and all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "fig2.md").read_text()
    # KL first/last logged loss (evaluation rows without a loss are skipped), per student
    assert "| Student (Reference) | 1 | 0.8000 | 0.0400 | 30 |" in md
    assert "| Student (Random) | 1 | 6.0000 | 0.3000 | 30 |" in md
    # attacker-best envelope: the faster lr, 0.08 * 10 at the end, mean (0 + 0.4 + 0.8) / 3 over steps
    assert "| Student (Reference) | 2 | 0.800 | 0.400 |" in md
    assert "| Oracle Teacher | 2 | 0.150 | 0.075 |" in md
    assert md.index("## Language") < md.index("## Arithmetic")


def test_bad_series_name_is_refused(tmp_path):
    res = results()
    res["series"]["arithmetic/a/b/c"] = res["series"].pop("arithmetic/oracle")
    with pytest.raises(ValueError, match="series 'arithmetic/a/b/c'"):
        _load().draw(res, tmp_path / "fig2")


def test_panels_in_the_papers_order(tmp_path, saved_figures):
    """The paper's Figure 2: (a) the distillation KL, (b, c) relearning, language before arithmetic."""
    _load().draw(results(), tmp_path / "fig2")
    titles = [ax.get_title(loc="left") for ax in saved_figures[-1].axes]
    assert titles == ["(a) Distillation KL", "(b) Language: relearning", "(c) Arithmetic: relearning"]
    kl = saved_figures[-1].axes[0]
    assert {line.get_linestyle() for line in kl.lines} == {"-", "--"}  # one line style per setting


def test_kl_over_seeds_median_and_band(tmp_path, saved_figures):
    """Each seed distils its own oracle: the KL line is the median over seeds, the band min–max, the table's first
    and last KL median [min–max]. Seed 1 stopped a step earlier (a stop rule): past it only seed 0 is left."""
    res = results()
    res["series"]["language/kl/student_random"] = _distill([6.0, 1.0, 0.3], [4.0, 2.0])
    _load().draw(res, tmp_path / "fig2")
    md = (tmp_path / "fig2.md").read_text()
    language = md.split("## Arithmetic")[0]
    assert "| Student (Random) | 2 | 5.0000 [4.0000–6.0000] | 1.1500 [0.3000–2.0000] | 25 [20–30] |" in language
    assert "Seeds: 1–2 seeds per configuration." in md
    kl = saved_figures[-1].axes[0]
    (line,) = [ln for ln in kl.lines if ln.get_color() == "#1f77b4" and ln.get_linestyle() == "-"]  # language
    assert list(line.get_xdata()) == [10, 20, 30] and list(line.get_ydata()) == pytest.approx([5.0, 1.5, 0.3])
    (band,) = kl.collections  # only the two-seed student has a band, where both seeds logged
    xs, ys = band.get_paths()[0].vertices.T
    assert min(xs) == 10 and max(xs) == 20 and min(ys) == pytest.approx(1.0) and max(ys) == pytest.approx(6.0)
