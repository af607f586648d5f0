"""Figure 5 (Section 5): UNDO trades compute for robustness to relearning, drawn from a stored results JSON.

For each setting present one row of two panels, language first as in the paper ((a) language robustness vs
compute, (b) Korean relearning, (c) arithmetic robustness vs compute, (d) multiplication & division relearning):
left, robustness (P_UNDO - P_UO) / (P_DF - P_UO) against compute S_UNDO / S_DF, one point per α at the median over
seeds with min–max error bars, unlearn-only at (0, 0) and data filtering at (1, 1); right, the attacker-best
relearning envelope (best over learning rates at each step) per model, median over seeds in bold and min–max as a
band. A UNDO group with a seed whose student stopped at the step cap without meeting the stop rule (``capped`` in
the results) is drawn hollow and labelled with the count: such a student is weaker than its teacher on retain, so
part of its robustness is weakness. Every seed is a whole pipeline (its own references, teacher, students and
attacks). Also writes ``<out_base>.md`` with the number of seeds, one table per setting (with a Capped column), an
honest note on whether the trend holds, and which attacks had a learning rate diverge.

Usage (from the repo root)::

    python -m undo.paper.figures.fig5 figures/mini/fig5.json /tmp/fig5
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from undo.paper import analysis, plotting  # noqa: E402

CAPPED_NOTE = "hollow: UNDO students that stopped at the step cap without meeting the stop rule (count in the label)"


def _panels(results: dict) -> list[str]:
    """Settings in the paper's order (Figure 5: (a, b) language, (c, d) arithmetic), then any others by name."""
    panels = results.get("panels") or {}
    if not panels:
        raise ValueError("fig5: results have no panels")
    return plotting.ordered(sorted(panels), plotting.SETTING_ORDER)


def _capped(group: dict) -> tuple[int, int]:
    """(capped seeds, seeds whose stop rule outcome is known); (0, 0) for results without ``capped`` fields."""
    known = [c for c in group.get("capped_per_seed") or [] if c is not None]
    return sum(known), len(known)


def _capped_label(group: dict) -> str:
    capped, known = _capped(group)
    return f" ({capped}/{known} capped)" if capped else ""


def _color(group: dict, colors: dict) -> tuple | str:
    if group["role"] in plotting.REFERENCE_COLORS:
        return plotting.REFERENCE_COLORS[group["role"]]
    if group["alpha"] is not None:
        return colors[float(group["alpha"])]
    return "0.5"


def _draw_tradeoff(ax, summary: dict, colors: dict) -> list[dict]:
    """Left panel; returns the plotted UNDO groups so their α labels can be placed once the layout is final."""
    ax.axhline(0, color=plotting.REFERENCE_COLORS["unlearn_only"], lw=0.6, ls=":", alpha=0.7)
    ax.axhline(1, color=plotting.REFERENCE_COLORS["data_filtering"], lw=0.6, ls=":", alpha=0.7)
    undo = [g for g in summary["groups"] if g["role"] == "undo" and g["robustness"] and g["compute_ratio"]]
    if len(undo) > 1:  # thin guide through the medians, in α order
        ax.plot(
            [g["compute_ratio"]["median"] for g in undo],
            [g["robustness"]["median"] for g in undo],
            color="0.6",
            lw=0.7,
            zorder=1,
        )
    for g in undo:
        x, y = g["compute_ratio"], g["robustness"]
        hollow = {"mfc": "white", "mew": 1.2} if _capped(g)[0] else {}
        ax.errorbar(
            x["median"],
            y["median"],
            xerr=[[x["median"] - x["min"]], [x["max"] - x["median"]]],
            yerr=[[y["median"] - y["min"]], [y["max"] - y["median"]]],
            fmt="o",
            ms=4.5,
            color=_color(g, colors),
            ecolor=_color(g, colors),
            elinewidth=0.8,
            capsize=2,
            zorder=3,
            **hollow,
        )
    ax.plot(
        [0],
        [0],
        marker="X",
        ms=7,
        ls="none",
        color=plotting.REFERENCE_COLORS["unlearn_only"],
        label="Unlearn-Only",
        zorder=4,
    )
    ax.plot(
        [1],
        [1],
        marker="*",
        ms=9,
        ls="none",
        color=plotting.REFERENCE_COLORS["data_filtering"],
        label="Data Filtering",
        zorder=4,
    )
    skipped = [g["label"] for g in summary["groups"] if g["role"] == "undo" and g not in undo]
    if skipped or summary["warnings"]:
        note = "; ".join(summary["warnings"]) or f"not plotted: {', '.join(skipped)}"
        ax.text(
            0.03,
            0.9,
            textwrap.fill(note, 50),
            transform=ax.transAxes,
            fontsize=6,
            va="top",
            color="0.3",
            bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9, "boxstyle": "round,pad=0.3"},
            zorder=5,
        )
    ax.set_xlabel(r"Compute  $S_\mathrm{UNDO}\,/\,S_\mathrm{DataFiltering}$")
    ax.set_ylabel("Robustness")
    ax.set_xlim(-0.05, max([1.08] + [g["compute_ratio"]["max"] + 0.05 for g in undo]))
    ax.legend(loc="lower right")
    return undo


def _draw_relearning(ax, summary: dict, colors: dict) -> None:
    same_n = len({g["n_seeds"] for g in summary["groups"]}) == 1
    for g in summary["groups"]:
        c = g["curve"]
        if c is None:
            continue
        band = (c["min"], c["max"]) if g["n_seeds"] > 1 else None
        label = (g["label"] if same_n else f"{g['label']} (n={g['n_seeds']})") + _capped_label(g)
        plotting.plot_envelope(ax, c["step"], c["median"], label, _color(g, colors), bold=True, band=band)
    ax.set_xlabel("Relearning step")
    ax.set_ylabel(f"{summary['measure_label']} (best LR)")
    n = summary["groups"][0]["n_seeds"]
    title = f"median of {n} seeds, band min–max" if same_n and n > 1 else None
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title=title, title_fontsize=7)


def _with_capped_column(table: str, groups: list[dict]) -> str:
    """``analysis.markdown_table`` (one row per group, in order) with a last column: capped seeds / known seeds."""
    header, rule, *rows = table.rstrip("\n").split("\n")
    cells = []
    for g in groups:
        capped, known = _capped(g)
        unknown = g["n_seeds"] - known
        cells.append("—" if not known else f"{capped}/{known}" + (f" ({unknown} unknown)" if unknown else ""))
    rows = [f"{row} {cell} |" for row, cell in zip(rows, cells, strict=True)]
    return "\n".join([f"{header} Capped |", f"{rule}--:|", *rows]) + "\n"


def _markdown(results: dict, summaries: dict[str, dict]) -> str:
    lines = plotting.markdown_header("Figure 5: robustness vs compute", results)
    counts = [g["n_seeds"] for s in summaries.values() for g in s["groups"]]
    lines += ["Each seed is a whole pipeline (its own reference and oracle models, teacher, students and attacks); "
              f"cells are the median over seeds [min–max]. Seeds: {plotting.seeds_text(counts)}.", ""]
    for name, s in summaries.items():
        t = analysis.trend(s)
        how = "final step" if s["robustness_at"] == "final" else "mean over steps"
        lines += [
            f"## {name.capitalize()} ({s['measure_label']})",
            "",
            f"Attacker: best learning rate per step ({s['attacker_best']} of `{s['measure']}`), read at the {how}. "
            f"Robustness per seed against that seed's own Unlearn-Only and Data-Filtering values (the median over "
            f"seeds where a seed lacks its own); S_DF: the seed's own Data-Filtering pretraining steps "
            f"({s['reference_steps']} at most).",
            "",
            _with_capped_column(analysis.markdown_table(s, s["measure_label"]), s["groups"]),
        ]
        if any(_capped(g)[0] for g in s["groups"]):
            lines.append("Capped: seeds whose distilled student stopped at the step cap without meeting the stop "
                         "rule (of the seeds where that is recorded). Such a student is weaker than its teacher on "
                         "retain, so part of its robustness is weakness; hollow markers in the figure.")
            lines.append("")
        rho = "n/a" if t["spearman"] is None else f"{t['spearman']:.3f}"
        verdict = "holds" if t["monotone"] else "does not hold"
        lines.append(
            f"Trend (Unlearn-Only → UNDO α↑ → Data Filtering, robust direction): monotone ordering {verdict}; "
            f"Spearman(α, robustness-oriented attack value) over {t['n_undo']} UNDO groups = {rho}."
        )
        for v in t["violations"]:
            lines.append(f"- violation: {v['from']} ({v['from_value']:.3f}) → {v['to']} ({v['to_value']:.3f})")
        for w in s["warnings"]:
            lines.append(f"- warning: {w}")
        lines.append("")
        notes = _grid_notes(name, results["panels"][name])
        if notes:
            lines += ["Relearning attacks with a diverged learning rate:", "", *notes, ""]
    return "\n".join(lines)


def _grid_notes(name: str, panel: dict) -> list[str]:
    """``undo.paper.plotting.relearn_grid_notes`` on a panel's runs (their curves keep each rate's ``diverged`` flag)."""
    return plotting.relearn_grid_notes(
        (f"{name}/{analysis.group_label(r['role'], r.get('alpha'), r.get('beta'))}", r.get("seed"), r)
        for r in panel.get("runs") or [])


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 5 from a results dict; writes ``out_base`` .png, .pdf and .md and returns their paths."""
    out_base = Path(out_base)
    names = _panels(results)
    summaries = {n: analysis.summarize_panel(results["panels"][n]) for n in names}
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(
        len(names), 2, figsize=(9.0, 3.1 * len(names)), squeeze=False, gridspec_kw={"width_ratios": [1, 1.25]}
    )
    labelled = []
    try:
        for row, name in enumerate(names):
            s = summaries[name]
            colors = plotting.alpha_colors(g["alpha"] for g in s["groups"] if g["alpha"] is not None)
            left, right = axes[row]
            labelled.append((left, _draw_tradeoff(left, s, colors)))
            _draw_relearning(right, s, colors)
            title = name.capitalize()
            left.set_title(f"({plotting.LETTERS[2 * row]}) {title}: robustness vs compute", loc="left")
            right.set_title(f"({plotting.LETTERS[2 * row + 1]}) {title}: relearning ({s['measure_label']})", loc="left")
        betas = sorted(
            {
                g["beta"]
                for s in summaries.values()
                for g in s["groups"]
                if g["role"] == "undo" and g["beta"] is not None
            }
        )
        beta_txt = f", β={betas[0]:g}" if len(betas) == 1 else ""
        # in the caption, not the panel legend: a taller legend would push the α labels about
        capped_txt = f"\n{CAPPED_NOTE}" if any(_capped(g)[0] for s in summaries.values() for g in s["groups"]) else ""
        fig.suptitle(
            f"Figure 5: UNDO trades compute for robustness to relearning (scale: {results.get('scale', '?')}"
            f"{beta_txt}; median over {plotting.seeds_text(g['n_seeds'] for s in summaries.values() for g in s['groups'])}, "
            f"bars/bands = min–max){capped_txt}",
            fontsize=9,
        )
        fig.tight_layout()
        for ax, groups in labelled:  # after layout, so the overlap check sees final positions
            plotting.annotate_points(
                ax,
                [g["compute_ratio"]["median"] for g in groups],
                [g["robustness"]["median"] for g in groups],
                [f"α={g['alpha']:g}{_capped_label(g)}" for g in groups],
            )
        paths = plotting.save(fig, out_base)
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": _markdown(results, summaries)})


def main(argv: list[str] | None = None) -> None:
    plotting.script_main(draw, __doc__, argv)


if __name__ == "__main__":
    main()
