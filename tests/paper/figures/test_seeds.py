"""undo.paper.plotting's helpers for several seeds per configuration: median/min/max over seeds, their drawing and their
table cells, and the notes on extended or diverged relearning grids."""

import math

import pytest

from undo.paper import plotting


def test_seed_stats_leave_out_missing_values():
    assert plotting.seed_stats([0.2, None, math.nan, 0.6, 0.3]) == {"median": 0.3, "min": 0.2, "max": 0.6, "n": 3}
    assert plotting.seed_stats([None, math.nan]) is None


def test_seed_curve_over_the_union_of_steps():
    """Seed 1 stopped at step 10 (a stop rule); seed 0's step 10 diverged (NaN)."""
    curve = plotting.seed_curve([([0, 10, 20], [1.0, math.nan, 3.0]), ([0, 10], [2.0, 4.0])])
    assert curve["step"] == [0, 10, 20] and curve["n"] == [2, 1, 1]
    assert curve["median"] == [1.5, 4.0, 3.0] and curve["min"] == [1.0, 4.0, 3.0] and curve["max"] == [2.0, 4.0, 3.0]
    nothing = plotting.seed_curve([([0], [math.nan])])
    assert nothing["n"] == [0] and math.isnan(nothing["median"][0])
    assert plotting.seed_curve([([], [])]) is None


def test_plot_seed_curve_bands_only_where_several_seeds_are_left():
    plotting.apply_style()
    fig, ax = plotting.plt.subplots()
    curve = plotting.seed_curve([([0, 10, 20], [1.0, 2.0, 3.0]), ([0, 10], [2.0, 4.0])])
    line = plotting.plot_seed_curve(ax, curve, "C0", label="x", ls="--")
    assert list(line.get_ydata()) == [1.5, 3.0, 3.0] and line.get_linestyle() == "--" and line.get_label() == "x"
    (band,) = ax.collections
    xs, ys = band.get_paths()[0].vertices.T
    assert max(xs) == 10 and min(ys) == 1.0 and max(ys) == 4.0
    one = plotting.seed_curve([([0, 10], [1.0, 2.0])])
    plotting.plot_seed_curve(ax, one, "C1")
    assert len(ax.collections) == 1  # a single seed: no band
    plotting.plt.close(fig)


def test_table_cells_and_seed_counts():
    assert plotting.fmt_seed_stats({"median": 0.5, "min": 0.25, "max": 0.75, "n": 3}) == "0.500 [0.250–0.750]"
    assert plotting.fmt_seed_stats({"median": 0.5, "min": 0.25, "max": 0.75, "n": 3}, 1, "--") == "0.5 [0.2--0.8]"
    assert plotting.fmt_seed_stats({"median": 0.5, "min": 0.5, "max": 0.5, "n": 2}) == "0.500"  # seeds agree
    assert plotting.fmt_seed_stats({"median": 0.5, "min": 0.4, "max": 0.6}) == "0.500 [0.400–0.600]"  # analysis stats
    assert plotting.fmt_seed_stats(None) == "—" and plotting.fmt_seed_stats({"median": math.nan}) == "—"
    assert plotting.seeds_text([2, 2]) == "2 seeds" and plotting.seeds_text([1]) == "1 seed"
    assert plotting.seeds_text([3, 1, 2]) == "1–3 seeds per configuration"
    assert plotting.seeds_list([2, None, 0, 2]) == [0, 2, None] and plotting.fmt_seeds([0, 2]) == "seeds 0, 2"


def test_relearn_grid_notes_name_each_attack_and_seed():
    diverged = {"step": [0, 5], "forget": [0.1, math.nan], "diverged": True}
    ok = {"step": [0, 5], "forget": [0.1, 0.2], "diverged": False}
    attacks = [("language/maxent", 0, {"curves": {"0.001": ok, "0.01": diverged}, "extra_lrs": {"up": 1, "down": 0}}),
               ("language/maxent", 1, {"curves": {"0.001": ok, "0.01": diverged}, "extra_lrs": {"up": 1, "down": 0}}),
               ("language/rmu", 0, {"curves": {"0.001": ok}, "extra_lrs": {"up": 0, "down": 0}}),
               ("arithmetic/rmu", None, {"curves": {"0.001": ok}})]
    assert plotting.relearn_grid_notes(attacks) == [
        "- language/maxent (seeds 0, 1): attack grid extended by 1 above (2 learning rates), the attacker's best rate "
        "was at the configured grid's edge.",
        "- language/maxent (seeds 0, 1): learning rate 0.01 diverged: NaN from then on, left out of every statistic "
        "over learning rates."]
    assert plotting.relearn_grid_notes([]) == []


@pytest.mark.parametrize("seeds", [[0, 1], [1, 0]])
def test_seed_key_orders_seeds(seeds):
    assert sorted(seeds + [None], key=plotting.seed_key) == [0, 1, None]
