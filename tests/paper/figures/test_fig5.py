"""Smoke test for undo.paper.figures.fig5: draws both settings from a synthetic results dict (no training)."""

import json

import pytest
from figure_helpers import load_figure

STEPS = [0, 25, 50, 75, 100]


@pytest.fixture(scope="module")
def fig5():
    return load_figure("fig5")


def _curves(measure, start, end, seed):
    out = {}
    for k, lr in enumerate(("0.001", "0.0001")):
        rate = 1.0 / (k + 1)
        vals = [start + (end - start) * min(1.0, rate * i / (len(STEPS) - 1)) + 0.01 * seed for i in range(len(STEPS))]
        out[lr] = {"step": STEPS, measure: vals}
    return out


def _panel(measure, label, best, uo, df, alphas):
    runs = []
    for seed in range(3):
        runs.append(
            {
                "role": "unlearn_only",
                "alpha": None,
                "beta": None,
                "seed": seed,
                "compute_steps": None,
                "artifact": "a",
                "curves": _curves(measure, df, uo, seed),
            }
        )
        runs.append(
            {
                "role": "data_filtering",
                "alpha": None,
                "beta": None,
                "seed": seed,
                "compute_steps": 1000,
                "artifact": "a",
                "curves": _curves(measure, df, df + 0.05 * (uo - df), seed),
            }
        )
        for a in alphas:
            end = uo + (df - uo) * a
            runs.append(
                {
                    "role": "undo",
                    "alpha": a,
                    "beta": 0.1,
                    "seed": seed,
                    "compute_steps": 1000 * a * 0.8 + 10 * seed,
                    "artifact": "a",
                    "curves": _curves(measure, df, end, seed),
                }
            )
    return {
        "measure": measure,
        "measure_label": label,
        "attacker_best": best,
        "robustness_at": "final",
        "reference_steps": 1000,
        "runs": runs,
    }


def results():
    return {
        "figure": "fig5",
        "scale": "mini",
        "created": "2026-11-23T10:00:00Z",
        "panels": {
            "language": _panel("forget_ce", "Korean CE", "min", uo=1.5, df=4.0, alphas=[0.2, 0.4, 0.6, 0.8]),
            "arithmetic": _panel("forget_acc", "Mul/Div accuracy", "max", uo=0.9, df=0.05, alphas=[0.55, 0.65, 0.75]),
        },
    }


def test_draw_writes_png_pdf_md(fig5, tmp_path):
    paths = fig5.draw(results(), tmp_path / "out" / "fig5")
    assert sorted(p.name for p in paths) == ["fig5.md", "fig5.pdf", "fig5.png"]
    for p in paths:
        assert p.exists() and p.stat().st_size > 0
    md = (tmp_path / "out" / "fig5.md").read_text()
    assert "## Arithmetic" in md and "## Language" in md and "monotone ordering holds" in md
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left


def test_main_cli_single_panel(fig5, tmp_path):
    res = results()
    del res["panels"]["language"]
    src = tmp_path / "fig5.json"
    src.write_text(json.dumps(res))
    fig5.main([str(src), str(tmp_path / "fig5")])
    assert (tmp_path / "fig5.png").stat().st_size > 0 and (tmp_path / "fig5.pdf").stat().st_size > 0


def test_language_panels_and_table_come_first(fig5, tmp_path, saved_figures):
    """The paper's Figure 5: (a) language robustness vs compute, (b) Korean relearning, (c, d) arithmetic."""
    fig5.draw(results(), tmp_path / "fig5")
    titles = [ax.get_title(loc="left") for ax in saved_figures[-1].axes]
    assert [t.split(":")[0] for t in titles] == ["(a) Language", "(b) Language", "(c) Arithmetic", "(d) Arithmetic"]
    md = (tmp_path / "fig5.md").read_text()
    assert md.index("## Language") < md.index("## Arithmetic")


def _with_capped(res, capped_alpha_seeds):
    """Give every UNDO run a ``capped`` flag: true for the (α, seed) pairs listed, false otherwise."""
    for panel in res["panels"].values():
        for r in panel["runs"]:
            if r["role"] == "undo":
                r["capped"] = (r["alpha"], r["seed"]) in capped_alpha_seeds
    return res


def _hollow(ax) -> list[bool]:
    """Per UNDO point of a robustness-vs-compute panel (errorbar markers), whether it is drawn hollow."""
    from matplotlib.colors import to_rgba

    points = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata()) == 1]
    return [to_rgba(line.get_markerfacecolor()) == (1.0, 1.0, 1.0, 1.0) for line in points]


def test_capped_students_are_hollow_counted_and_tabled(fig5, tmp_path, saved_figures):
    res = _with_capped(results(), {(0.8, 0), (0.8, 2), (0.75, 1)})  # language α=0.8: 2 of 3; arithmetic α=0.75: 1
    fig5.draw(res, tmp_path / "fig5")
    fig = saved_figures[-1]
    language, arithmetic = fig.axes[0], fig.axes[2]
    assert _hollow(language) == [False, False, False, True] and _hollow(arithmetic) == [False, False, True]
    labels = [t.get_text() for t in language.texts]
    assert "α=0.8 (2/3 capped)" in labels and "α=0.6" in labels
    assert "UNDO α=0.8 (2/3 capped)" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "hollow: UNDO students that stopped at the step cap without meeting the stop rule" in fig._suptitle.get_text()
    md = (tmp_path / "fig5.md").read_text()
    assert "| Robustness | Capped |" in md and "|--:|--:|--:|--:|--:|--:|--:|" in md
    language_md = md.split("## Arithmetic")[0]
    assert "| UNDO | 0.8 | 0.1 | 3 |" in language_md and language_md.count("| 2/3 |") == 1
    assert language_md.count("| 0/3 |") == 3 and language_md.count("| — |\n") == 2  # references: not students
    assert "stopped at the step cap without meeting the stop rule" in language_md
    assert "| 1/3 |" in md.split("## Arithmetic")[1]


def test_results_without_capped_draw_as_if_none_was_capped(fig5, tmp_path):
    """Older results JSONs have no ``capped`` field: the figure is the same as with every flag false."""
    fig5.draw(results(), tmp_path / "old" / "fig5")
    fig5.draw(_with_capped(results(), set()), tmp_path / "new" / "fig5")
    assert (tmp_path / "old" / "fig5.png").read_bytes() == (tmp_path / "new" / "fig5.png").read_bytes()
    old, new = (tmp_path / "old" / "fig5.md").read_text(), (tmp_path / "new" / "fig5.md").read_text()
    assert "| 0/3 |" in new and "| 0/3 |" not in old and old == new.replace("| 0/3 |", "| — |")


def test_a_diverged_rate_is_noted_and_left_out(fig5, tmp_path):
    """Seed 1 of language Unlearn-Only also ran lr 0.01, which diverged after step 25: the final-step attack value
    (and so every robustness) is as without it, and the table says which attack diverged. Every seed counts."""
    fig5.draw(results(), tmp_path / "plain" / "fig5")
    res = results()
    run = next(r for r in res["panels"]["language"]["runs"] if r["role"] == "unlearn_only" and r["seed"] == 1)
    run["curves"]["0.01"] = {"step": STEPS, "forget_ce": [4.0, 1.0] + [float("nan")] * 3, "diverged": True}
    fig5.draw(res, tmp_path / "diverged" / "fig5")
    plain, md = ((tmp_path / d / "fig5.md").read_text() for d in ("plain", "diverged"))
    assert "- language/Unlearn-Only (seed 1): learning rate 0.01 diverged" in md
    table = lambda text: [line for line in text.splitlines() if line.startswith("| ")]  # noqa: E731
    assert table(md) == table(plain)
    assert "Seeds: 3 seeds." in md
