"""undo.paper.figures.fig4, as Figure 4 and as Figure 10, on a synthetic results dict whose envelope, average and ordering are known."""

import math
from types import SimpleNamespace

import pytest
import yaml
from figure_helpers import REPO, load_figure

STEPS = [0, 5, 10]


def _load(name):
    """The figure's module; Figure 10 is Figure 4's drawn with the ``options.bold`` of reproduce/fig10.yaml."""
    module = load_figure(name)
    if name == "fig4":
        return module
    bold = yaml.safe_load((REPO / "reproduce" / f"{name}.yaml").read_text())["options"]["bold"]
    return SimpleNamespace(draw=lambda res, out: module.draw(res, out, bold=bold))


def _instance(seed, fast, slow, key="forget"):
    """Two learning rates: one reaching `fast` per step, one reaching `slow` (values rise linearly from 0)."""
    curves = {lr: {"step": STEPS, key: [rate * s for s in STEPS], "retain": [0.8] * 3}
              for lr, rate in (("0.001", fast), ("0.0001", slow))}
    return {"artifact": f"relearn/x-seed{seed}", "tags": {"seed": seed}, "summary": {}, "history": [],
            "results": {"curves": curves}}


def results(settings=("arithmetic", "language"), methods=("graddiff", "maxent")):
    series = {}
    for setting in settings:
        for m in methods:
            series[f"{setting}/{m}/unlearn_only"] = [_instance(s, 0.08, 0.02) for s in (0, 1)]
            series[f"{setting}/{m}/distill"] = [_instance(s, 0.04, 0.0) for s in (0, 1)]
        series[f"{setting}/data_filtering"] = [_instance(s, 0.02, 0.0) for s in (0, 1)]
    return {"figure": "fig4", "scale": "smoke", "series": series,
            "options": {"bold": "best", "measure": "forget",
                        "settings": {"arithmetic": {"higher_is_better": True, "measure_label": "Mul/Div accuracy"},
                                     "language": {"higher_is_better": True, "measure_label": "Korean CE"}}}}


def test_summary_envelope_and_average_are_known():
    from undo.paper import analysis

    s = analysis.summarize_series(results())["arithmetic"]
    uo = s["methods"]["maxent"]["unlearn_only"]
    assert uo["n_seeds"] == 2 and uo["best"]["curve"]["median"] == pytest.approx([0.0, 0.4, 0.8])
    assert uo["mean"]["curve"]["median"] == pytest.approx([0.0, 0.25, 0.5])
    assert uo["best"]["final"]["median"] == pytest.approx(0.8) and uo["best"]["area"]["median"] == pytest.approx(0.4)
    assert s["methods"]["maxent"]["distill"]["best"]["final"]["median"] == pytest.approx(0.4)
    assert s["references"]["data_filtering"]["mean"]["final"]["median"] == pytest.approx(0.1)


@pytest.mark.parametrize("name,bold_word", [("fig4", "best learning rate"), ("fig10", "average over learning rates")])
def test_draws_png_pdf_md(tmp_path, name, bold_word):
    paths = _load(name).draw(results(), tmp_path / name)
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md"}
    assert all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / f"{name}.md").read_text()
    assert bold_word in md and "## Language" in md and "## Arithmetic" in md
    final = "0.800" if name == "fig4" else "0.500"  # Unlearn-Only at the last step: envelope 0.8, average 0.5
    assert f"| MaxEnt | Unlearn-Only | 2 | {final} |" in md


def test_missing_method_panel_is_marked_not_run(tmp_path):
    res = results()
    del res["series"]["language/graddiff/unlearn_only"], res["series"]["language/graddiff/distill"]
    paths = _load("fig4").draw(res, tmp_path / "fig4")
    assert paths[0].stat().st_size > 0
    assert "GradDiff" not in (tmp_path / "fig4.md").read_text().split("## Arithmetic")[0]


def test_refuses_results_without_method_series(tmp_path):
    res = results()
    res["series"] = {k: v for k, v in res["series"].items() if k.endswith("data_filtering")}
    with pytest.raises(ValueError, match="no <setting>/<method>/<role>"):
        _load("fig4").draw(res, tmp_path / "fig4")


def test_extended_grid_and_a_diverged_rate(tmp_path, saved_figures):
    """Seed 1 of arithmetic MaxEnt's Unlearn-Only attack: its grid was extended by 0.01, which reached 0.9 at step 5
    and diverged before step 10. The attacker's best takes the 0.9 and skips the NaN; so does the average."""
    res = results()
    attack = res["series"]["arithmetic/maxent/unlearn_only"][1]["results"]
    attack["curves"]["0.01"] = {"step": STEPS, "forget": [0.0, 0.9, math.nan], "retain": [0.8] * 3, "diverged": True}
    attack["extra_lrs"] = {"up": 1, "down": 0}
    _load("fig4").draw(res, tmp_path / "fig4")
    md = (tmp_path / "fig4.md").read_text()
    # best per seed: [0, 0.4, 0.8] and [0, 0.9, 0.8]: final 0.8, area 0.4 and 0.567
    assert "| MaxEnt | Unlearn-Only | 2 | 0.800 | 0.483 [0.400–0.567] |" in md
    assert "- arithmetic/maxent/unlearn_only (seed 1): attack grid extended by 1 above (3 learning rates)" in md
    assert "- arithmetic/maxent/unlearn_only (seed 1): learning rate 0.01 diverged" in md
    assert "Seeds: 2 seeds." in md
    ax = saved_figures[-1].axes[3]  # (d) Arithmetic: MaxEnt (language is the first row)
    assert ax.get_title(loc="left") == "(d) Arithmetic: MaxEnt"
    bold = [line for line in ax.lines if line.get_linewidth() == 2.0 and line.get_label() == "Unlearn-Only"]
    assert list(bold[0].get_ydata()) == pytest.approx([0.0, 0.65, 0.8])  # the median over seeds
    # Figure 10 averages each seed's rates that have a value: seed 1 reads 0.467 at step 5, 0.5 at 10 (NaN left out)
    _load("fig10").draw(res, tmp_path / "fig10")
    assert "| MaxEnt | Unlearn-Only | 2 | 0.500 | 0.286 [0.250–0.322] |" in (tmp_path / "fig10.md").read_text()
