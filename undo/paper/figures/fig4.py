"""Figure 4 (Section 4): Unlearn-and-Distill boosts robustness to relearning, drawn from a stored results JSON.

One row per setting (language, arithmetic), one panel per unlearning method (GradDiff, MaxEnt, RMU): forget
performance through the relearning attack of Unlearn-Only, Unlearn-and-Distill and Data Filtering. The bold
line is the attacker's best learning rate at each step (``options.bold: best``, Figure 4) or the average over
learning rates (``mean``, Figure 10: reproduce/fig10.yaml draws with this module); the other statistic is dashed. Lines are medians over seeds,
bands min–max (every seed a whole pipeline; a learning rate that diverged is skipped from then on, an attack grid
extended beyond the configured rates counts every rate it ran). A panel far off its row's scale (GradDiff's
Korean CE starts near 22 at mini) is cut by ``undo.paper.plotting.clip_outliers``, the off-scale values written at the
edge. Also writes ``<out_base>.md``: per model, the bold statistic at the last step and its mean over steps (the
area under the curve divided by the number of evaluations), median over seeds [min–max], and which attacks had
their learning-rate grid extended or a learning rate diverge.

Usage (from the repo root)::

    python -m undo.paper.figures.fig4 figures/mini/fig4.json figures/mini/fig4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from undo.paper import analysis, plotting  # noqa: E402

ROLE_LABELS = {"unlearn_only": "Unlearn-Only", "distill": "Unlearn-and-Distill", "data_filtering": "Data Filtering"}
COLORS = {**plotting.REFERENCE_COLORS, "distill": "#1f77b4"}
STAT_LABELS = {"best": "best learning rate", "mean": "average over learning rates"}


def panels(summary: dict) -> tuple[list[str], list[str]]:
    """Settings (rows) and methods (columns) present in a :func:`undo.paper.analysis.summarize_series` summary."""
    settings = plotting.ordered(summary, plotting.SETTING_ORDER)
    methods = plotting.ordered(dict.fromkeys(m for s in summary.values() for m in s["methods"]), plotting.METHOD_ORDER)
    if not settings or not methods:
        raise ValueError("fig4: results have no <setting>/<method>/<role> series")
    return settings, methods


def _draw_panel(ax, setting: dict, method: str, bold: str) -> None:
    other = "mean" if bold == "best" else "best"
    models = {**setting["methods"].get(method, {}), **setting["references"]}
    for role in plotting.ordered(models, ("unlearn_only", "distill", "data_filtering")):
        s, color = models[role], COLORS.get(role, "0.5")
        c = s[bold]["curve"]
        if c is None:
            continue
        band = (c["min"], c["max"]) if s["n_seeds"] > 1 else None
        plotting.plot_envelope(ax, c["step"], c["median"], ROLE_LABELS.get(role, role), color, bold=True, band=band)
        o = s[other]["curve"]
        if o is not None:
            ax.plot(o["step"], o["median"], color=color, lw=0.8, ls="--", alpha=0.6)
    ax.set_xlabel("Relearning step")
    ax.set_ylabel(f"{setting['measure_label']}")


def _seed_counts(summary: dict) -> list[int]:
    return [r["n_seeds"] for s in summary.values() for models in (*s["methods"].values(), s["references"])
            for r in models.values()]


def _grid_notes(results: dict) -> list[str]:
    attacks = [(name, plotting.seed_of(inst), inst.get("results")) for name, instances in results["series"].items()
               for inst in instances]
    return plotting.relearn_grid_notes(attacks)


def markdown(results: dict, summary: dict, bold: str) -> str:
    fig = "Figure 4" if bold == "best" else "Figure 10"
    lines = plotting.markdown_header(f"{fig}: Unlearn-and-Distill vs Unlearn-Only vs Data Filtering", results)
    lines += [f"Forget performance under the relearning attack, {STAT_LABELS[bold]} at each step; median over seeds "
              "[min–max], each seed a whole pipeline (its own reference, teacher, student and attacks). *final*: at the "
              "last evaluated step; *area*: mean over evaluated steps. Learning rates that diverged are skipped from "
              f"the step they diverged. Seeds: {plotting.seeds_text(_seed_counts(summary))}.", ""]
    for name in plotting.ordered(summary, plotting.SETTING_ORDER):
        s = summary[name]
        direction = "lower" if s["attacker_best"] == "max" else "higher"
        lines += [f"## {name.capitalize()} ({s['measure_label']}; {direction} is more robust)", "",
                  "| method | model | seeds | final | area |", "|---|---|---|---|---|"]
        rows = [(plotting.METHOD_LABELS.get(m, m), role, r) for m in plotting.ordered(s["methods"], plotting.METHOD_ORDER)
                for role, r in s["methods"][m].items()] + [("—", role, r) for role, r in s["references"].items()]
        for method, role, r in rows:
            lines.append(f"| {method} | {ROLE_LABELS.get(role, role)} | {r['n_seeds']} | "
                         f"{plotting.fmt_seed_stats(r[bold]['final'])} | {plotting.fmt_seed_stats(r[bold]['area'])} |")
        lines.append("")
    notes = _grid_notes(results)
    if notes:
        lines += ["Relearning attacks with an extended grid or a diverged learning rate (the average over learning "
                  "rates covers every rate the attack ran):", "", *notes, ""]
    return "\n".join(lines)


def draw(results: dict, out_base: Path, bold: str | None = None) -> list[Path]:
    """Draw Figure 4 (``bold="best"``) or Figure 10 (``"mean"``); writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    bold = bold or (results.get("options") or {}).get("bold", "best")
    if bold not in STAT_LABELS:
        raise ValueError(f"fig4: options.bold must be 'best' or 'mean', got {bold!r}")
    summary = analysis.summarize_series(results)
    settings, methods = panels(summary)
    plotting.apply_style()
    width = max(3.2 * len(methods), 4.8)
    fig, axes = plotting.plt.subplots(len(settings), len(methods), figsize=(width, 2.7 * len(settings)), squeeze=False)
    try:
        for row, name in enumerate(settings):
            for col, method in enumerate(methods):
                ax = axes[row][col]
                title = f"({plotting.LETTERS[row * len(methods) + col]}) {name.capitalize()}: {plotting.METHOD_LABELS.get(method, method)}"
                ax.set_title(title, loc="left")
                if method not in summary[name]["methods"]:
                    ax.text(0.5, 0.5, "not run", transform=ax.transAxes, ha="center", va="center", color="0.4")
                    ax.set_xticks([])
                    ax.set_yticks([])
                    continue
                _draw_panel(ax, summary[name], method, bold)
            plotting.clip_outliers(axes[row])  # a row shares its measure; GradDiff's Korean CE starts near 22 in (a)
        plotting.figure_legend(fig, axes, y=-0.02)
        which = "Figure 4" if bold == "best" else "Figure 10"
        title = (f"{which}: relearning, bold = {STAT_LABELS[bold]} per step, dashed = "
                 f"{STAT_LABELS['mean' if bold == 'best' else 'best']} (scale: {results.get('scale', '?')}; "
                 f"median over {plotting.seeds_text(_seed_counts(summary))}, bands min–max)")
        paths = plotting.finish(fig, out_base, title, wrap=int(width * 16), rect=(0, 0.05, 1, 1))
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, summary, bold)})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results_json", type=Path, help="results JSON written by the pipeline")
    ap.add_argument("out_base", type=Path, help="output path without extension (.png, .pdf and .md are written)")
    ap.add_argument("--bold", choices=("best", "mean"), help="override options.bold")
    args = ap.parse_args(argv)
    results = json.loads(args.results_json.read_text(encoding="utf-8"))
    for p in draw(results, args.out_base, args.bold):
        print(p)


if __name__ == "__main__":
    main()
