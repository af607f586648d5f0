"""Figure 12 (App. F.1): TOFU metrics through finetuning, GradDiff unlearning and distillation, drawn from a stored
results JSON.

Per model family (``gemma``, ``phi``) one row of three panels: (a) finetuning on the full TOFU set, (b) unlearning
forget10 with GradDiff, (c) distilling the unlearned model into the base model; x is the training step, y each of
the seven metrics of ``undo.paper.tofu.PHASE_METRICS`` (one colour per metric in every panel). Unlearning and
distillation run once per seed: the median over seeds is drawn with a light min–max band. The distillation panel
also marks, per metric, the control (the base model that never saw TOFU, median over seeds) as a thin dashed line
and the teacher (the unlearned model's final value, median over seeds) as a dotted one. Series are named
``<family>/finetune``, ``<family>/unlearn``, ``<family>/distill`` and ``<family>/control`` (the control's relearning
attack, read before its first update). Also writes ``<out_base>.md``: per family and metric the value after each
phase and the control's, median over seeds [min–max].

Usage (from the repo root)::

    python -m undo.paper.figures.fig12 figures/mini/fig12.json figures/mini/fig12
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D

from undo.paper import plotting, tofu

PHASE_TITLES = {"finetune": "finetuning", "unlearn": "unlearning (GradDiff)", "distill": "distillation"}
COLORS = dict(zip(tofu.PHASE_METRICS, ("#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#1f77b4",
                                        "#2ca02c"), strict=True))
CONTROL_STYLE = {"ls": "--", "lw": 0.7, "alpha": 0.8}
TEACHER_STYLE = {"ls": ":", "lw": 1.0, "alpha": 0.9}


def gather(results: dict) -> dict[str, dict]:
    """Per family: ``curves`` (phase -> metric -> curve over seeds), ``final`` (phase -> metric -> stats over
    seeds, the unlearned model's being the teacher's), ``control`` (metric -> stats) and ``seeds`` (phase -> count)."""
    series = results.get("series") or {}
    fams = tofu.families(series)
    if not fams:
        raise ValueError("fig12: results have no series (expected <family>/finetune, /unlearn, /distill, /control)")
    return {family: _family(series, family) for family in fams}


def _family(series: dict, family: str) -> dict:
    phases = {phase: tofu.needed(series, f"{family}/{phase}", "fig12") for phase in tofu.PHASES}
    control = tofu.control_metrics(tofu.needed(series, f"{family}/control", "fig12"))
    if not control:
        raise ValueError(f"fig12: series '{family}/control' holds no relearning curve to read the control from")
    return {
        "curves": {phase: {m: plotting.seed_curve(tofu.phase_curves(insts, m).values()) for m in tofu.PHASE_METRICS}
                   for phase, insts in phases.items()},
        "final": {phase: {m: plotting.seed_stats(tofu.final_eval(i).get(m) for i in insts) for m in tofu.PHASE_METRICS}
                  for phase, insts in phases.items()},
        "control": {m: plotting.seed_stats(c.get(m) for c in control.values()) for m in tofu.PHASE_METRICS},
        "seeds": {**{phase: len(insts) for phase, insts in phases.items()}, "control": len(control)},
    }


def markdown(results: dict, data: dict) -> str:
    lines = plotting.markdown_header("Figure 12: TOFU metrics through finetuning, unlearning and distillation", results)
    lines += ["Each metric after each phase (the last evaluation of its stage) and the control's (the base model that "
              "never saw TOFU), median over seeds [min–max]. The value after unlearning is the distillation's teacher.",
              ""]
    for family, d in data.items():
        seeds = ", ".join(f"{phase} {n}" for phase, n in d["seeds"].items())
        lines += [f"## {tofu.FAMILY_LABELS.get(family, family)}", "", f"Seeds (instances): {seeds}.", "",
                  "| metric | after finetuning | after unlearning | after distillation | control |",
                  "|---|--:|--:|--:|--:|"]
        for m in tofu.PHASE_METRICS:
            cells = [plotting.fmt_seed_stats(d["final"][phase][m]) for phase in tofu.PHASES]
            lines.append(f"| {tofu.METRIC_LABELS[m]} | " + " | ".join(cells) + f" | "
                         f"{plotting.fmt_seed_stats(d['control'][m])} |")
        lines.append("")
    return "\n".join(lines)


def _levels(ax, stats: dict, style: dict) -> None:
    """A horizontal line per metric at the median over seeds of ``stats`` (the control's or the teacher's)."""
    for m, st in stats.items():
        if st is not None:
            ax.axhline(st["median"], color=COLORS[m], **style)


def _panel(ax, d: dict, phase: str, index: int, family: str) -> None:
    for m in tofu.PHASE_METRICS:
        if d["curves"][phase][m] is not None:
            plotting.plot_seed_curve(ax, d["curves"][phase][m], COLORS[m], label=tofu.METRIC_LABELS[m])
    if phase == "distill":
        _levels(ax, d["control"], CONTROL_STYLE)
        _levels(ax, d["final"]["unlearn"], TEACHER_STYLE)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"{PHASE_TITLES[phase].split(' ')[0].capitalize()} step")
    ax.set_ylabel("metric value")
    ax.set_title(f"({plotting.LETTERS[index]}) {tofu.FAMILY_LABELS.get(family, family)}: {PHASE_TITLES[phase]}",
                 loc="left")


def _legend(fig) -> None:
    """One legend under the figure: a colour per metric, then what the line styles of the distillation panel mean."""
    handles = [Line2D([], [], color=COLORS[m], lw=1.2) for m in tofu.PHASE_METRICS]
    labels = [tofu.METRIC_LABELS[m] for m in tofu.PHASE_METRICS]
    handles += [Line2D([], [], color="0.3", lw=1.2), Line2D([], [], color="0.3", **CONTROL_STYLE),
                Line2D([], [], color="0.3", **TEACHER_STYLE)]
    labels += ["the model in training (median over seeds)", "control: base model that never saw TOFU",
               "teacher: the unlearned model's final value"]
    fig.legend(handles, labels, loc="lower center", ncol=5, bbox_to_anchor=(0.5, -0.02))


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 12; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    data = gather(results)
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(len(data), 3, figsize=(10.5, 2.9 * len(data) + 0.6), squeeze=False)
    try:
        for row, (family, d) in enumerate(data.items()):
            for col, phase in enumerate(tofu.PHASES):
                _panel(axes[row][col], d, phase, 3 * row + col, family)
        _legend(fig)
        title = (f"Figure 12: TOFU metrics through the three phases (scale: {results.get('scale', '?')}; unlearning "
                 "and distillation: median over seeds, band min–max; dashed: control, dotted: teacher, median over "
                 "seeds)")
        paths = plotting.finish(fig, out_base, title, wrap=130, rect=(0, 0.07 if len(data) > 1 else 0.11, 1, 1))
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, data)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
