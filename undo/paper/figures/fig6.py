"""Figure 6 (Section 5): effects of UNDO's mixing coefficient α and noise scale β, drawn from a stored results JSON.

One row per setting (language, arithmetic). Panels (a–d): one per α, the relearning curve of each β's student (the
attacker's best learning rate at each step, median over seeds, band min–max), Unlearn-Only and Data Filtering as
thin dashed references on a y-axis shared across the row. Panel (e): the α × β matrix of distillation steps the
students needed to get back within tolerance of the teacher's retain performance (the stop rule of
``distill_undo.yaml``); a student that hit the step cap without meeting the rule is hatched and reads ``≥cap``.
Every seed is a whole pipeline (its own teacher, students and attacks): curves and cells are medians over seeds.
Also writes ``<out_base>.md``: per setting the steps matrix, the attack value at the final relearning step per
(α, β), the students' final retain (median over seeds [min–max]), how far each of α and β moves those values
(``analysis.factor_spread``), and which attacks had their learning-rate grid extended or a learning rate diverge.

Usage (from the repo root)::

    python -m undo.paper.figures.fig6 figures/mini/fig6.json figures/mini/fig6
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.patches import Rectangle  # noqa: E402

from undo.paper import analysis, plotting  # noqa: E402

REFERENCES = {"unlearn_only": "Unlearn-Only", "data_filtering": "Data Filtering"}


def _cell(summary: dict, alpha: float, beta: float) -> dict | None:
    return next((c for c in summary["cells"] if c["alpha"] == alpha and c["beta"] == beta), None)


def steps_text(cell: dict | None) -> str:
    """A matrix entry: median steps; ``≥cap`` when every seed hit the cap unmet, ``(k/n capped)`` when some did."""
    if cell is None or cell["steps"] is None:
        return "—"
    steps = f"{cell['steps']['median']:.0f}"
    if cell["capped"] and cell["capped"] == cell["n_seeds"]:
        return f"≥{cell['max_steps'] if cell['max_steps'] is not None else steps}"
    if cell["capped"]:
        return f"{steps} ({cell['capped']}/{cell['n_seeds']} capped)"
    return steps


def _stat_text(st: dict | None, n: int) -> str:
    if st is None or math.isnan(st["median"]):
        return "—"
    if n <= 1 or st["min"] == st["max"]:
        return f"{st['median']:.3f}"
    return f"{st['median']:.3f} [{st['min']:.3f}–{st['max']:.3f}]"


def _draw_alpha(ax, summary: dict, alpha: float, colors: dict) -> None:
    for role, label in REFERENCES.items():
        ref = summary["references"].get(role)
        if ref and ref["best"]["curve"]:
            c = ref["best"]["curve"]
            ax.plot(c["step"], c["median"], color=plotting.REFERENCE_COLORS[role], lw=0.9, ls="--", alpha=0.8,
                    label=label)
    for beta in summary["betas"]:
        cell = _cell(summary, alpha, beta)
        if cell is None or cell["curve"] is None:
            continue
        c = cell["curve"]
        band = (c["min"], c["max"]) if cell["n_seeds"] > 1 else None
        plotting.plot_envelope(ax, c["step"], c["median"], f"β={beta:g}", colors[beta], bold=True, band=band)
    ax.set_xlabel("Relearning step")


def _draw_matrix(ax, fig, summary: dict) -> None:
    alphas, betas = summary["alphas"], summary["betas"]
    grid = [[math.nan] * len(betas) for _ in alphas]
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            cell = _cell(summary, a, b)
            if cell is not None and cell["steps"] is not None:
                grid[i][j] = cell["steps"]["median"]
    image = ax.imshow(grid, cmap="Blues", aspect="auto", origin="lower", vmin=0)  # 0 = met the rule untrained
    finite = [v for row in grid for v in row if not math.isnan(v)]
    mid = max(finite) / 2 if finite else 0.0
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            cell = _cell(summary, a, b)
            if cell is not None and cell["capped"]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#ff8c00", lw=0))
            dark = not math.isnan(grid[i][j]) and grid[i][j] > mid
            ax.text(j, i, steps_text(cell).replace(" (", "\n("), ha="center", va="center", fontsize=6.5,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
    ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
    ax.set_xlabel("Noise scale β")
    ax.set_ylabel("Mixing coefficient α")
    ax.grid(False)
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03, label="Distillation steps")


def _spread_line(what: str, spread: dict, fmt: str) -> str:
    a, b = spread["alpha"]["spread"], spread["beta"]["spread"]
    show = lambda x: "—" if x is None else format(x, fmt)  # noqa: E731
    alpha_means = ", ".join(f"α={k:g}: {format(v, fmt)}" for k, v in spread["alpha"]["means"].items())
    beta_means = ", ".join(f"β={k:g}: {format(v, fmt)}" for k, v in spread["beta"]["means"].items())
    note = "" if spread["complete"] else " (incomplete grid: marginals average different cells)"
    return (f"- {what}: spread over α {show(a)} (means over β: {alpha_means}); spread over β {show(b)} "
            f"(means over α: {beta_means}){note}.")


def markdown(results: dict, summaries: dict) -> str:
    lines = plotting.markdown_header("Figure 6: effects of α and β", results)
    lines += ["Distillation steps until the student's retain performance is back within the stop rule of "
              "`distill_undo.yaml` (`≥N`: hit the N-step cap without meeting it, so N is only a lower bound), and "
              "the forget performance the strongest relearning attack elicits at its final step (attacker's best "
              "learning rate). Cells: median over seeds [min–max]. Spread = max − min of the means over the other "
              "factor (`undo.paper.analysis.factor_spread`, the rule of the claims in `undo/paper/claims.py`).", ""]
    for name in plotting.ordered(summaries, plotting.SETTING_ORDER):
        s = summaries[name]
        alphas, betas = s["alphas"], s["betas"]
        direction = "lower" if s["attacker_best"] == "max" else "higher"
        head = "| α \\ β | " + " | ".join(f"{b:g}" for b in betas) + " |"
        rule = "|---|" + "--:|" * len(betas)
        teacher = [c["teacher_retain"] for c in s["cells"] if c["teacher_retain"] is not None]
        seeds = sorted({c["n_seeds"] for c in s["cells"]})
        lines += [f"## {name.capitalize()} ({s['measure_label']}; {direction} is more robust)", "",
                  f"Seeds per cell: {', '.join(map(str, seeds)) or '—'}.", "",
                  "Distillation steps to recover the teacher's retain performance:", "", head, rule]
        lines += ["| " + " | ".join([f"{a:g}"] + [steps_text(_cell(s, a, b)) for b in betas]) + " |" for a in alphas]
        lines += ["", f"{s['measure_label']} after the strongest relearning attack (final step):", "", head, rule]
        lines += ["| " + " | ".join([f"{a:g}"] + [_stat_text((_cell(s, a, b) or {}).get("attack"),
                                                            (_cell(s, a, b) or {}).get("n_seeds", 0))
                                                 for b in betas]) + " |" for a in alphas]
        lines += ["", "Students' retain performance at the end of distillation"
                  + (f" (teacher: {teacher[0]:.3f}):" if teacher else ":"), "", head, rule]
        lines += ["| " + " | ".join([f"{a:g}"] + [_stat_text((_cell(s, a, b) or {}).get("retain"),
                                                            (_cell(s, a, b) or {}).get("n_seeds", 0))
                                                 for b in betas]) + " |" for a in alphas]
        capped_cells = [f"α={c['alpha']:g} β={c['beta']:g}" for c in s["cells"] if c["capped"]]
        if capped_cells:
            lines += ["", f"Capped without meeting the stop rule: {', '.join(capped_cells)}. Those students did not "
                      "recover the teacher's retain performance, so part of their resistance to relearning is "
                      "weakness, not robustness."]
        refs = [f"{label} {_stat_text(s['references'][r]['best']['final'], s['references'][r]['n_seeds'])}"
                for r, label in REFERENCES.items() if r in s["references"]]
        lines += ["", f"References after the same attack (final step, median over seeds): {'; '.join(refs) or '—'}.",
                  ""]
        attack = analysis.factor_spread({(c["alpha"], c["beta"]): c["attack"]["median"] for c in s["cells"]
                                         if c["attack"]})
        steps = analysis.factor_spread({(c["alpha"], c["beta"]): c["steps"]["median"] for c in s["cells"]
                                        if c["steps"]})
        capped = sum(c["capped"] for c in s["cells"])
        lines += [_spread_line(f"{s['measure_label']} after the attack", attack, ".3f"),
                  _spread_line("Distillation steps" + (f" ({capped} capped students counted at the cap)"
                                                       if capped else ""), steps, ".0f"), ""]
        notes = _grid_notes(results, name)
        if notes:
            lines += ["Relearning attacks with an extended grid or a diverged learning rate:", "", *notes, ""]
    return "\n".join(lines)


def _grid_notes(results: dict, setting: str) -> list[str]:
    """``undo.paper.plotting.relearn_grid_notes`` on a setting's attacks, a student named by its (α, β)."""
    attacks = []
    for name, instances in (results.get("series") or {}).items():
        if name.partition("/")[0] != setting or name.endswith("/distill"):
            continue
        for inst in instances:
            tags = inst.get("tags") or {}
            cell = f" α={tags['alpha']:g} β={tags['beta']:g}" if name.endswith("/undo") else ""
            attacks.append((name + cell, plotting.seed_of(inst), inst.get("results")))
    return plotting.relearn_grid_notes(attacks)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 6 from a results dict; writes ``out_base`` .png, .pdf and .md and returns their paths."""
    out_base = Path(out_base)
    summaries = {k: v for k, v in analysis.summarize_grid(results).items() if v["cells"]}
    if not summaries:
        raise ValueError("fig6: results have no <setting>/undo series with (alpha, beta) students")
    names = plotting.ordered(summaries, plotting.SETTING_ORDER)
    n_alpha = max(len(summaries[n]["alphas"]) for n in names)
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(len(names), n_alpha + 1, figsize=(2.6 * n_alpha + 3.4, 2.8 * len(names)),
                                      squeeze=False, gridspec_kw={"width_ratios": [1] * n_alpha + [1.25]})
    try:
        letter = iter(plotting.LETTERS)
        for row, name in enumerate(names):
            s = summaries[name]
            colors = plotting.alpha_colors(s["betas"], cmap="plasma")
            shared = axes[row][0]
            for col in range(n_alpha):
                ax = axes[row][col]
                if col >= len(s["alphas"]):
                    ax.set_visible(False)
                    continue
                if col:
                    ax.sharey(shared)
                alpha = s["alphas"][col]
                _draw_alpha(ax, s, alpha, colors)
                ax.set_title(f"({next(letter)}) {name.capitalize()}: α={alpha:g}", loc="left")
            shared.set_ylabel(f"{s['measure_label']} (best LR)")
            axes[row][0].legend(loc="best", fontsize=6)
            _draw_matrix(axes[row][n_alpha], fig, s)
            axes[row][n_alpha].set_title(f"({next(letter)}) {name.capitalize()}: steps to recover", loc="left")
        seeds = sorted({c["n_seeds"] for s in summaries.values() for c in s["cells"]})
        paths = plotting.finish(fig, out_base, f"Figure 6: effects of α and β (scale: {results.get('scale', '?')}; "
                                f"seeds per cell: {', '.join(map(str, seeds))}; hatched / ≥cap: step cap reached "
                                "without the stop rule)")
    finally:
        plotting.plt.close(fig)
    paths += plotting.write_texts(out_base, {".md": markdown(results, summaries)})
    return paths


def main(argv: list[str] | None = None) -> None:
    plotting.script_main(draw, __doc__, argv)


if __name__ == "__main__":
    main()
