"""Figure 9 (App. B.2): distillation trends of Unlearn-and-Distill, drawn from a stored results JSON.

One row per setting (language, arithmetic), three panels: the forward-KL distillation loss, the student's retain
performance and its forget performance against distillation steps, one line per unlearning method (the teacher),
with each teacher's own retain / forget value as a dashed level. Also writes ``<out_base>.md``: per method, the
teacher's and the final student's retain and forget values and the steps taken.

Usage (from the repo root)::

    python figures/fig9.py figures/mini/fig9.json figures/mini/fig9
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run as a script or loaded by path: make the `undo` package importable
    sys.path.insert(0, str(_ROOT))

from undo import plotting  # noqa: E402

METHOD_COLORS = {"graddiff": "#2ca02c", "maxent": "#1f77b4", "rmu": "#9467bd"}


def trends(results: dict) -> dict:
    """``{setting: {method: {"loss": (steps, values), "retain": ..., "forget": ..., "teacher": {...}, ...}}}``."""
    out: dict[str, dict] = {}
    for name, instances in (results.get("series") or {}).items():
        setting, _, method = name.partition("/")
        if not method:
            raise ValueError(f"fig9: series {name!r}: expected <setting>/<method>")
        for inst in instances[:1]:  # one distillation per teacher (no seed sweep)
            hist = inst.get("history") or []
            loss = [(r["step"], r["train/loss"]) for r in hist if "train/loss" in r]
            evals = [r for r in hist if "eval/retain" in r]
            summary = inst.get("summary") or {}
            out.setdefault(setting, {})[method] = {
                "loss": tuple(map(list, zip(*loss, strict=True))) if loss else ([], []),
                "retain": ([r["step"] for r in evals], [r["eval/retain"] for r in evals]),
                "forget": ([r["step"] for r in evals], [r["eval/forget"] for r in evals]),
                "teacher": summary.get("teacher_eval") or {},
                "final": summary.get("eval") or {},
                "steps": summary.get("steps"),
            }
    if not out:
        raise ValueError("fig9: results have no distillation series")
    return out


def _fmt(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def markdown(results: dict, data: dict) -> str:
    lines = plotting.markdown_header("Figure 9: distillation trends of Unlearn-and-Distill", results)
    for setting in plotting.ordered(data, plotting.SETTING_ORDER):
        labels = ((results.get("options") or {}).get("settings") or {}).get(setting, {})
        lines += [f"## {setting.capitalize()} (retain: {labels.get('retain', 'retain')}, forget: "
                  f"{labels.get('forget', 'forget')})", "",
                  "| teacher | steps | teacher retain | student retain | teacher forget | student forget |",
                  "|---|---|---|---|---|---|"]
        for method in plotting.ordered(data[setting], plotting.METHOD_ORDER):
            d = data[setting][method]
            lines.append(f"| {plotting.METHOD_LABELS.get(method, method)} | {d['steps']} | {_fmt(d['teacher'].get('retain'))} | "
                         f"{_fmt(d['final'].get('retain'))} | {_fmt(d['teacher'].get('forget'))} | "
                         f"{_fmt(d['final'].get('forget'))} |")
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
                    steps, values = d[key]
                    ax.plot(steps, values, color=color, label=plotting.METHOD_LABELS.get(method, method))
                    if key != "loss" and d["teacher"].get(key) is not None:
                        ax.axhline(d["teacher"][key], color=color, ls="--", lw=0.8, alpha=0.7)
                ax.set_xlabel("Distillation step")
                ax.set_ylabel(ylabel)
                ax.set_title(f"({plotting.LETTERS[3 * row + col]}) {setting.capitalize()}: {ylabel}", loc="left")
            axes[row][0].legend(title="teacher", title_fontsize=7)
        fig.suptitle(f"Figure 9: distillation into a random init (scale: {results.get('scale', '?')}; "
                     "dashed = the teacher's value)", fontsize=9)
        fig.tight_layout()
        paths = plotting.save(fig, out_base)
    finally:
        plotting.plt.close(fig)
    paths.append(plotting.write_text(markdown(results, data), plotting.with_ext(out_base, ".md")))
    return paths


def main(argv: list[str] | None = None) -> None:
    plotting.script_main(draw, __doc__, argv)


if __name__ == "__main__":
    main()
