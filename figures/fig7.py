"""Figure 7 (Section 6): unlearning methods compared across adversarial strengths, drawn from a stored results JSON.

One row per setting (language, arithmetic), one column per attack budget: (a, d) before the relearning attack,
(b, e) after the moderate attack (``options.moderate_step``, 40 steps) and (c, f) after the extensive one (the
curves' last step: 500 in the paper, shorter at mini). Each point is one unlearned model: x is its forget
performance after the attack (the attacker's best learning rate at that step), y its own retain performance
(a cross-entropy axis is inverted, so better retain is up in every panel).
UNDO's points (one per retain threshold τ) are joined; Data Filtering is the oracle. Points on the Pareto
frontier of a panel (not dominated by any other point of it) are ringed. Also writes ``<out_base>.md``: per
model, retain and forget at each budget, and whether it is on the frontier after the extensive attack.

Usage (from the repo root)::

    python figures/fig7.py figures/mini/fig7.json figures/mini/fig7
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run as a script or loaded by path: make the `undo` package importable
    sys.path.insert(0, str(_ROOT))

from undo import names, pareto, plotting  # noqa: E402

METHOD_ORDER = names.ALL_METHODS
MARKERS = {"graddiff": "v", "maxent": "s", "rmu": "D", "sam": "^", "repnoise": "P", "undial": "X", "undo": "o",
           "data_filtering": "*"}
COLORS = {"graddiff": "#8c564b", "maxent": "#d62728", "rmu": "#9467bd", "sam": "#ff7f0e", "repnoise": "#bcbd22",
          "undial": "#17becf", "undo": "#1f77b4", "data_filtering": "#222222"}
BUDGET_TITLES = {"initial": "before the attack", "moderate": "after {step} steps", "long": "after {step} steps"}


def _budget_step(points: list[dict], budget: str) -> int | None:
    steps = {p["step"][budget] for p in points}
    return steps.pop() if len(steps) == 1 else None


def _direction(setting: dict) -> tuple[str, str]:
    forget = "lower" if setting["attacker_best"] == "max" else "higher"
    retain = "higher" if setting["retain_higher_is_better"] else "lower"
    return forget, retain


def _draw_panel(ax, setting: dict, budget: str) -> None:
    points = setting["points"]
    front = {id(p) for p in points if not pareto.dominated_by(p, points, setting, budget)}
    for method in plotting.ordered((p["method"] for p in points), METHOD_ORDER):
        mine = [p for p in points if p["method"] == method]
        if method == "undo":
            mine.sort(key=lambda p: float(p["tags"].get("tolerance") or 0))
            ax.plot([p["forget"][budget] for p in mine], [p["retain"] for p in mine], color=COLORS[method], lw=0.9,
                    alpha=0.7, zorder=2)
        ax.scatter([p["forget"][budget] for p in mine], [p["retain"] for p in mine], marker=MARKERS.get(method, "o"),
                   color=COLORS.get(method, "0.5"), s=70 if method == "data_filtering" else 34, zorder=3,
                   label=names.METHOD_LABELS.get(method, method))
        ringed = [p for p in mine if id(p) in front]
        if ringed:
            ax.scatter([p["forget"][budget] for p in ringed], [p["retain"] for p in ringed], s=130, facecolors="none",
                       edgecolors="0.35", linewidths=0.8, zorder=4)
    forget_dir, retain_dir = _direction(setting)
    ax.set_xlabel(f"{setting['forget_label']} ({forget_dir} = more robust)")
    if not setting["retain_higher_is_better"]:
        ax.invert_yaxis()  # better retain is up in every panel
    ax.set_ylabel(f"{setting['retain_label']} ({retain_dir} = better, up)")


def _fmt(x: float) -> str:
    return "—" if x != x else f"{x:.3f}"


def markdown(results: dict, summary: dict) -> str:
    lines = plotting.markdown_header("Figure 7: unlearning methods across adversarial strengths", results)
    lines += ["Retain: the unlearned model's own retain performance (before any attack). Forget: after 0 steps, the "
              "moderate and the extensive relearning attack, the attacker's best learning rate at that step (its "
              "learning rate in the last column). *Frontier*: not dominated on (retain, forget after the extensive "
              "attack) by any other model of the setting, Data Filtering included.", ""]
    if results.get("scale") != "paper":
        lines += [f"At scale {results.get('scale')} the extensive attack is shorter than the paper's 500 steps "
                  "(reproduce/<setting>/relearn_long_base.yaml); the step is in each table's header.", ""]
    for name in plotting.ordered(summary, plotting.SETTING_ORDER):
        s = summary[name]
        forget_dir, retain_dir = _direction(s)
        pts = s["points"]
        moderate, long = _budget_step(pts, "moderate"), _budget_step(pts, "long")
        lines += [f"## {name.capitalize()} (retain: {s['retain_label']}, {retain_dir} is better; forget: "
                  f"{s['forget_label']}, {forget_dir} is more robust)", "",
                  f"| model | retain | forget @0 | forget @{moderate} | forget @{long} | best lr @{long} | frontier @{long} |",
                  "|---|---|---|---|---|---|---|"]
        order = {m: i for i, m in enumerate(METHOD_ORDER)}
        for p in sorted(pts, key=lambda p: (order.get(p["method"], len(order)), float(p["tags"].get("tolerance") or 0))):
            on = "yes" if not pareto.dominated_by(p, pts, s, "long") else "no"
            f = p["forget"]
            lines.append(f"| {p['label']} | {_fmt(p['retain'])} | {_fmt(f['initial'])} | {_fmt(f['moderate'])} | "
                         f"{_fmt(f['long'])} | {p['best_lr']['long']} | {on} |")
        lines.append("")
    return "\n".join(lines)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 7; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    summary = pareto.setting_points(results)
    settings = plotting.ordered(summary, plotting.SETTING_ORDER)
    if not settings:
        raise ValueError("fig7: results have no <setting>/<method> series")
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(len(settings), len(pareto.BUDGETS), figsize=(10.5, 3.1 * len(settings)),
                                      squeeze=False)
    try:
        for row, name in enumerate(settings):
            for col, budget in enumerate(pareto.BUDGETS):
                ax = axes[row][col]
                step = _budget_step(summary[name]["points"], budget)
                when = BUDGET_TITLES[budget].format(step=step if step is not None else "?")
                ax.set_title(f"({plotting.LETTERS[row * len(pareto.BUDGETS) + col]}) {name.capitalize()}, {when}",
                             loc="left")
                _draw_panel(ax, summary[name], budget)
        plotting.figure_legend(fig, axes, y=-0.02)
        title = (f"Figure 7: retain vs forget after relearning attacks of increasing strength (scale: "
                 f"{results.get('scale', '?')}; forget = attacker's best learning rate per step; ringed = Pareto "
                 "frontier; UNDO: α=0.6, β=0.1, one point per retain threshold)")
        fig.suptitle(textwrap.fill(title, 170), fontsize=9)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        paths = plotting.save(fig, out_base)
    finally:
        plotting.plt.close(fig)
    paths.append(plotting.write_text(markdown(results, summary), plotting.with_ext(out_base, ".md")))
    return paths


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
