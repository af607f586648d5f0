"""Figure 2 (Section 3): matching oracle behaviour doesn't guarantee robust unlearning, drawn from a stored results JSON.

One row per setting: (a) the forward KL to the Oracle Teacher during distillation for Student (Reference) and
Student (Random); (b) forget performance through the relearning attack of both students and of the Oracle
Teacher, the attacker's best learning rate at each step bold, the average over learning rates dashed (medians
over seeds, bands min–max). Also writes ``<out_base>.md``: the KL at the first and last logged step, and per
model the attacker-best forget performance at the last step and its mean over steps.

Usage (from the repo root)::

    python figures/fig2.py figures/mini/fig2.json figures/mini/fig2
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run as a script or loaded by path: make the `undo` package importable
    sys.path.insert(0, str(_ROOT))

from undo import analysis, plotting  # noqa: E402

MODELS = ("student_reference", "student_random", "oracle")
LABELS = {"student_reference": "Student (Reference)", "student_random": "Student (Random)", "oracle": "Oracle Teacher"}
COLORS = {"student_reference": "#d62728", "student_random": "#1f77b4", "oracle": "#222222"}


def _fmt(st: dict | None) -> str:
    return "—" if st is None else (f"{st['median']:.3f}" if st["min"] == st["max"] else
                                   f"{st['median']:.3f} [{st['min']:.3f}, {st['max']:.3f}]")


def markdown(results: dict, kl: dict, summary: dict) -> str:
    lines = plotting.markdown_header("Figure 2: oracle matching, then relearning", results)
    lines += ["KL: forward KL(oracle ‖ student) per token during distillation, first and last logged step. Relearning: "
              "forget performance under the attack, the attacker's best learning rate at each step, median over "
              "seeds [min, max]; *final*: at the last evaluated step; *area*: mean over evaluated steps.", ""]
    for setting in plotting.ordered({**kl, **summary}, plotting.SETTING_ORDER):
        lines += [f"## {setting.capitalize()}", "", "| student | KL first | KL last | steps |", "|---|---|---|---|"]
        for student, pts in (kl.get(setting) or {}).items():
            if pts:
                lines.append(f"| {LABELS.get(student, student)} | {pts[0][1]:.4f} | {pts[-1][1]:.4f} | {pts[-1][0]} |")
        s = summary.get(setting)
        if s:
            direction = "lower" if s["attacker_best"] == "max" else "higher"
            lines += ["", f"{s['measure_label']} under relearning ({direction} is more robust):", "",
                      "| model | seeds | final | area |", "|---|---|---|---|"]
            for model in plotting.ordered(s["references"], MODELS):
                r = s["references"][model]
                lines.append(f"| {LABELS.get(model, model)} | {r['n_seeds']} | {_fmt(r['best']['final'])} | "
                             f"{_fmt(r['best']['area'])} |")
        lines.append("")
    return "\n".join(lines)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 2; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    kl, summary = analysis.split_distill_series(results)
    settings = plotting.ordered({**kl, **summary}, plotting.SETTING_ORDER)
    if not settings:
        raise ValueError("fig2: results have no series")
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(len(settings), 2, figsize=(8.4, 2.8 * len(settings)), squeeze=False)
    try:
        for row, setting in enumerate(settings):
            ax_kl, ax_rl = axes[row]
            ax_kl.set_title(f"({plotting.LETTERS[2 * row]}) {setting.capitalize()}: distillation KL", loc="left")
            for student, pts in (kl.get(setting) or {}).items():
                if pts:
                    ax_kl.plot(*zip(*pts, strict=True), color=COLORS.get(student, "0.5"), label=LABELS.get(student, student))
            ax_kl.set_yscale("log")
            ax_kl.set_xlabel("Distillation step")
            ax_kl.set_ylabel("KL(oracle ‖ student)")
            ax_rl.set_title(f"({plotting.LETTERS[2 * row + 1]}) {setting.capitalize()}: relearning", loc="left")
            s = summary.get(setting)
            if s is None:
                ax_rl.text(0.5, 0.5, "not run", transform=ax_rl.transAxes, ha="center", va="center", color="0.4")
                continue
            for model in plotting.ordered(s["references"], MODELS):
                r, color = s["references"][model], COLORS.get(model, "0.5")
                best, mean = r["best"]["curve"], r["mean"]["curve"]
                if best is not None:
                    band = (best["min"], best["max"]) if r["n_seeds"] > 1 else None
                    plotting.plot_envelope(ax_rl, best["step"], best["median"], LABELS.get(model, model), color,
                                           bold=True, band=band)
                if mean is not None:
                    ax_rl.plot(mean["step"], mean["median"], color=color, lw=0.8, ls="--", alpha=0.6)
            ax_rl.set_xlabel("Relearning step")
            ax_rl.set_ylabel(s["measure_label"])
        plotting.figure_legend(fig, axes, y=-0.01)
        title = (f"Figure 2: oracle matching (scale: {results.get('scale', '?')}); relearning bold = attacker's best "
                 "learning rate per step, dashed = average over learning rates (median over seeds, bands min–max)")
        fig.suptitle(textwrap.fill(title, 130), fontsize=9)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        paths = plotting.save(fig, out_base)
    finally:
        plotting.plt.close(fig)
    paths.append(plotting.write_text(markdown(results, kl, summary), plotting.with_ext(out_base, ".md")))
    return paths


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
