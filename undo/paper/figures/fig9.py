"""Figure 9 (App. B.2): distillation trends of Unlearn-and-Distill, drawn from a stored results JSON.

One row per setting (language, arithmetic), three panels: the forward-KL distillation loss, the student's retain
performance and its forget performance against distillation steps, one line per unlearning method (the teacher),
with each teacher's own retain / forget value as a dashed level (a retain or forget panel with values far off its
scale is cut by ``undo.paper.plotting.clip_outliers``). Each seed distils its own teacher (that seed's unlearned model):
lines are medians over seeds with a min–max band, the teacher's level the median of the seeds' teachers. Also
writes ``<out_base>.md``: per method, the teacher's and the final student's retain and forget values and the steps
taken (median over seeds [min–max]) and the number of seeds.

Usage (from the repo root)::

    python -m undo.paper.figures.fig9 figures/mini/fig9.json figures/mini/fig9
"""

from __future__ import annotations

from pathlib import Path

from undo.paper import plotting  # noqa: E402

METHOD_COLORS = {"graddiff": "#2ca02c", "maxent": "#1f77b4", "rmu": "#9467bd"}


def trends(results: dict) -> dict:
    """Per setting and method (the teacher), over seeds: ``{setting: {method: {"loss", "retain", "forget": curves,
    "teacher", "final", "steps": stats, "n_seeds"}}}``.

    Each seed distils its own teacher (seed i's unlearned model) into its own student, so every curve is the
    median/min/max over seeds (:func:`undo.paper.plotting.seed_curve`); ``teacher`` and ``final`` map ``retain`` and
    ``forget`` to the median/min/max over seeds of the teacher's and the final student's values, ``steps`` is that
    of the distillation steps taken.
    """
    out: dict[str, dict] = {}
    for name, instances in (results.get("series") or {}).items():
        setting, _, method = name.partition("/")
        if not method:
            raise ValueError(f"fig9: series {name!r}: expected <setting>/<method>")
        if not instances:
            continue
        loss, retain, forget, summaries = [], [], [], []
        for inst in sorted(instances, key=lambda i: plotting.seed_key(plotting.seed_of(i))):
            hist = inst.get("history") or []
            steps = [r for r in hist if "train/loss" in r]
            evals = [r for r in hist if "eval/retain" in r]
            loss.append(([r["step"] for r in steps], [r["train/loss"] for r in steps]))
            retain.append(([r["step"] for r in evals], [r["eval/retain"] for r in evals]))
            forget.append(([r["step"] for r in evals], [r.get("eval/forget") for r in evals]))
            summaries.append(inst.get("summary") or {})

        out.setdefault(setting, {})[method] = {
            "loss": plotting.seed_curve(loss), "retain": plotting.seed_curve(retain),
            "forget": plotting.seed_curve(forget), "n_seeds": len(instances),
            "teacher": {m: _over_seeds(summaries, "teacher_eval", m) for m in ("retain", "forget")},
            "final": {m: _over_seeds(summaries, "eval", m) for m in ("retain", "forget")},
            "steps": plotting.seed_stats(sm.get("steps") for sm in summaries),
        }
    if not out:
        raise ValueError("fig9: results have no distillation series")
    return out


def _over_seeds(summaries: list[dict], key: str, measure: str) -> dict | None:
    """Median/min/max over seeds of ``summary[key][measure]`` (e.g. the teacher's retain)."""
    return plotting.seed_stats((sm.get(key) or {}).get(measure) for sm in summaries)


def _seed_counts(data: dict) -> list[int]:
    return [d["n_seeds"] for per in data.values() for d in per.values()]


def markdown(results: dict, data: dict) -> str:
    lines = plotting.markdown_header("Figure 9: distillation trends of Unlearn-and-Distill", results)
    lines += ["Each seed distils its own teacher (that seed's unlearned model); with several seeds a cell is the median "
              f"over seeds [min–max]. Seeds: {plotting.seeds_text(_seed_counts(data))}.", ""]
    for setting in plotting.ordered(data, plotting.SETTING_ORDER):
        labels = ((results.get("options") or {}).get("settings") or {}).get(setting, {})
        lines += [f"## {setting.capitalize()} (retain: {labels.get('retain', 'retain')}, forget: "
                  f"{labels.get('forget', 'forget')})", "",
                  "| teacher | steps | seeds | teacher retain | student retain | teacher forget | student forget |",
                  "|---|---|--:|---|---|---|---|"]
        for method in plotting.ordered(data[setting], plotting.METHOD_ORDER):
            d = data[setting][method]
            cells = [plotting.METHOD_LABELS.get(method, method), plotting.fmt_seed_stats(d["steps"], 0), str(d["n_seeds"]),
                     *(plotting.fmt_seed_stats(d[who][m]) for m in ("retain", "forget") for who in ("teacher", "final"))]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 9 from a results dict; writes ``out_base`` .png, .pdf and .md and returns their paths."""
    out_base = Path(out_base)
    data = trends(results)
    settings = plotting.ordered(data, plotting.SETTING_ORDER)
    opts = (results.get("options") or {}).get("settings") or {}
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(len(settings), 3, figsize=(10.0, 2.8 * len(settings)), squeeze=False)
    try:
        for row, setting in enumerate(settings):
            labels = opts.get(setting, {})
            panels = (("loss", "Forward KL (train)"), ("retain", labels.get("retain", "retain")),
                      ("forget", labels.get("forget", "forget")))
            for col, (key, ylabel) in enumerate(panels):
                ax = axes[row][col]
                for method in plotting.ordered(data[setting], plotting.METHOD_ORDER):
                    d, color = data[setting][method], METHOD_COLORS.get(method, "0.4")
                    if d[key] is not None:
                        plotting.plot_seed_curve(ax, d[key], color, label=plotting.METHOD_LABELS.get(method, method))
                    teacher = d["teacher"].get(key) if key != "loss" else None
                    if teacher is not None:  # each seed's teacher differs: the median over seeds
                        ax.axhline(teacher["median"], color=color, ls="--", lw=0.8, alpha=0.7)
                ax.set_xlabel("Distillation step")
                ax.set_ylabel(ylabel)
                ax.set_title(f"({plotting.LETTERS[3 * row + col]}) {setting.capitalize()}: {ylabel}", loc="left")
                if key != "loss":  # a GradDiff teacher's Korean CE can sit far above the other models'
                    plotting.clip_outliers(ax)
            axes[row][0].legend(title="teacher", title_fontsize=7)
        counts = _seed_counts(data)
        seeds = f"median over {plotting.seeds_text(counts)}, bands min–max; " if max(counts) > 1 else ""
        paths = plotting.finish(fig, out_base, f"Figure 9: distillation into a random init (scale: "
                                f"{results.get('scale', '?')}; {seeds}dashed = the teacher's value"
                                f"{', median over seeds' if seeds else ''})")
    finally:
        plotting.plt.close(fig)
    paths += plotting.write_texts(out_base, {".md": markdown(results, data)})
    return paths


def main(argv: list[str] | None = None) -> None:
    plotting.script_main(draw, __doc__, argv)


if __name__ == "__main__":
    main()
