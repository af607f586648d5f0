"""undo.paper.plotting.clip_limits / clip_outliers: a diverging curve (GradDiff's Korean CE, Figures 3 a, 4 a, 7 a, 10 a)
is cut off at the edge with its value written, ordinary panels are left as drawn, and the figures' Markdown tables
do not change."""

import json

import numpy as np
import pytest
from figure_helpers import FIGURES, load_figure, off_scale_lines, off_scale_texts, panel_axes

from undo.paper import plotting

STEPS = np.arange(0, 55, 5)


def ordinary_curves(shift=0.0):
    """Four relearning-like curves within 3-8."""
    return [3 + k + shift + 2 * np.exp(-STEPS / 10) for k in range(4)]


def row(*panels):
    """A row of panels, each a list of curves over STEPS (``panel[0]`` in colour C3, the others C0..)."""
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(1, len(panels), figsize=(9, 2.8))
    axes = list(np.atleast_1d(axes))
    for ax, curves in zip(axes, panels, strict=True):
        for i, curve in enumerate(curves):
            ax.plot(STEPS, curve, color=f"C{(i + 3) % 10}")
    return fig, axes


# -------------------------------------------------------------------------------------------------- the rule

def test_rule_cuts_one_diverging_curve_of_a_row():
    diverging = np.full(len(STEPS), 35.0)
    panel = np.concatenate([diverging, *ordinary_curves()])
    pool = np.concatenate([panel, *ordinary_curves(), *ordinary_curves(0.5)])
    low, high = plotting.clip_limits(panel, pool)
    assert low is None and 8.0 < high < 9.0  # the outermost ordinary value (8.5) plus 5 % headroom
    assert plotting.clip_limits(np.concatenate(ordinary_curves()), pool) == (None, None)  # its siblings: untouched


@pytest.mark.parametrize("values", [
    np.concatenate(ordinary_curves()),                                      # everything within 3-8
    np.concatenate([np.linspace(0.0, 0.95, 11), np.linspace(0.0, 0.84, 11),  # Figure 4 f: a small overshoot
                    *(np.linspace(0.02, 0.35, 11) * k for k in (0.5, 0.8, 1.0))]),
    np.concatenate([np.full(11, 35.0), np.full(11, 30.0), *ordinary_curves()[:2]]),  # half the values high: a spread
    np.full(20, 4.0),                                                       # no spread at all
    np.array([]),
])
def test_rule_leaves_ordinary_panels(values):
    assert plotting.clip_limits(values) == (None, None)


def test_rule_pools_the_row_so_a_steady_rise_stays():
    """Figure 4's arithmetic row: each panel's Unlearn-Only rises far above the rest, as relearning should."""
    panels = [np.concatenate([np.linspace(0, top, 5), np.linspace(0, top * 0.8, 5), np.linspace(0.02, 0.16, 5),
                              np.linspace(0.02, 0.14, 5)]) for top in (0.72, 0.8, 0.95)]
    pool = np.concatenate(panels)
    assert [plotting.clip_limits(p, pool) for p in panels] == [(None, None)] * 3


# -------------------------------------------------------------------------------------------------- drawing

def test_clip_outliers_cuts_marks_and_writes_the_value():
    fig, axes = row([np.full(len(STEPS), 35.0), *ordinary_curves()], ordinary_curves(), ordinary_curves(0.5))
    before = [ax.get_ylim() for ax in axes]
    limits = plotting.clip_outliers(axes)
    assert limits[1:] == [(None, None)] * 2 and 8.0 < limits[0][1] < 9.0
    assert axes[0].get_ylim()[1] == pytest.approx(limits[0][1]) and axes[0].get_ylim()[0] < 3.0
    assert off_scale_texts(axes[0]) == ["off scale:", "↑35.0"]
    assert len(off_scale_lines(axes[0])) == 2  # the broken-axis sign: two strokes
    for ax, ylim in zip(axes[1:], before[1:], strict=True):  # ordinary panels: as drawn
        assert ax.get_ylim() == ylim and not off_scale_lines(ax) and not off_scale_texts(ax)
    plotting.plt.close(fig)


def test_a_lone_ordinary_panel_is_untouched():
    fig, axes = row(ordinary_curves())
    ylim = axes[0].get_ylim()
    assert plotting.clip_outliers(axes[0]) == [(None, None)]
    assert axes[0].get_ylim() == ylim and not off_scale_lines(axes[0]) and not off_scale_texts(axes[0])
    plotting.plt.close(fig)


def test_off_scale_markers_sit_at_the_edge_as_triangles():
    """Figure 7 a: GradDiff's point beyond the forget (x) limit, its Pareto ring too; the y axis stays inverted."""
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(1, 2)
    xs = [3.2, 6.6, 6.8, 7.2, 3.5, 3.7, 3.9, 4.1]
    for ax, far in zip(axes, (22.0, 5.0), strict=True):
        ax.scatter(xs, np.linspace(3.7, 4.3, len(xs)), color="C0", label="UNDO")
        ax.scatter([far], [3.9], marker="v", color="#8c564b", label="GradDiff")
        ax.scatter([far], [3.9], s=130, facecolors="none", edgecolors="0.35")  # ring: not data of its own
        ax.invert_yaxis()
    limits = plotting.clip_outliers(axes, axis="x")
    assert limits[1] == (None, None) and 7.2 < limits[0][1] < 7.5
    assert axes[0].yaxis_inverted() and axes[0].get_xlim()[1] == pytest.approx(limits[0][1])
    markers = {line.get_marker(): line for line in off_scale_lines(axes[0]) if line.get_linestyle() == "None"
               and isinstance(line.get_marker(), str)}
    assert list(markers[">"].get_xdata()) == [1.0] and list(markers[">"].get_ydata()) == [3.9]  # at the right edge
    assert markers["o"].get_markerfacecolor() == "none"  # the ring follows its point
    assert off_scale_texts(axes[0]) == ["off scale:", "GradDiff 22.0→"]
    plotting.plt.close(fig)


# -------------------------------------------------------------------------------------------------- figures

# what the mini runs put off scale in panel (a): GradDiff's Korean CE after unlearning (Figure 3), at the start of
# the relearning attack (Figures 4, 10), before the attack (Figure 7, on the forget axis)
OFF_SCALE_MINI = {"fig3": "↑58.9", "fig4": "↑32.9", "fig10": "↑32.9", "fig7": "GradDiff 32.9→"}


def _no_clip(monkeypatch):
    monkeypatch.setattr(plotting, "clip_outliers", lambda axes, axis="y": [])


@pytest.mark.parametrize("name", ["fig3", "fig4", "fig7", "fig10"])
def test_mini_figures_clip_language_panel_a_and_keep_their_tables(name, tmp_path, saved_figures, monkeypatch):
    """The committed mini results: GradDiff's Korean CE (22-35) is cut in panel (a) only; the Markdown (and
    Figure 3's LaTeX) tables are the same as without any cutting."""
    results = json.loads((FIGURES / "mini" / f"{name}.json").read_text(encoding="utf-8"))
    load_figure(name).draw(results, tmp_path / "clipped" / name)
    axes = panel_axes(saved_figures[-1])
    cut = [ax.get_title(loc="left") for ax in axes if off_scale_texts(ax)]
    assert cut == [axes[0].get_title(loc="left")] and axes[0].get_title(loc="left").startswith("(a) Language")
    assert OFF_SCALE_MINI[name] in off_scale_texts(axes[0])
    _no_clip(monkeypatch)
    load_figure(name).draw(results, tmp_path / "plain" / name)
    for ext in (".md", ".tex") if name == "fig3" else (".md",):
        assert (tmp_path / "clipped" / f"{name}{ext}").read_text() == (tmp_path / "plain" / f"{name}{ext}").read_text()


@pytest.mark.parametrize("name", ["fig2", "fig5", "fig6"])  # fig9's early distillation steps are clipped (below)
def test_other_mini_figures_are_not_clipped(name, tmp_path, saved_figures):
    results = json.loads((FIGURES / "mini" / f"{name}.json").read_text(encoding="utf-8"))
    load_figure(name).draw(results, tmp_path / name)
    assert not [ax for ax in panel_axes(saved_figures[-1]) if off_scale_texts(ax) or off_scale_lines(ax)]


def test_a_clipped_mini_fig9_panel_writes_its_clipped_values(tmp_path, saved_figures):
    """The committed mini Figure 9: the first distillation steps of a random init sit far above the rest; every
    panel that cuts them says what it cut."""
    results = json.loads((FIGURES / "mini" / "fig9.json").read_text(encoding="utf-8"))
    load_figure("fig9").draw(results, tmp_path / "fig9")
    clipped = [ax for ax in panel_axes(saved_figures[-1]) if off_scale_lines(ax) or off_scale_texts(ax)]
    assert clipped and all(off_scale_texts(ax) for ax in clipped)
