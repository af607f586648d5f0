"""Figure 11 (App. D.2.7): WMDP forget vs retain accuracy of every method, after unlearning and after a low- and a
high-compute relearning attack, drawn from a stored results JSON.

One column per domain (Bio, Cyber), one row per budget: (1) the released model (no attack), (2) after
``options.low_step`` relearning steps, (3) after the last step. x: forget accuracy after the strongest attack at
that budget (over Table 12's adversaries and the learning-rate grid, mean over seeds); y: the released model's
retain accuracy (MMLU), what the defender ships, as in Figure 7. Series are named ``<domain>/<method>`` (maxent,
rmu, sam, repnoise, undo_maxent, undo_rmu; ``maxent_frontier``/``rmu_frontier`` hold Table 10's Medium and Worst
points, drawn half-filled and hollow in their method's marker beside the filled Best). Points on a panel's Pareto frontier (no other point has both lower
forget and higher retain) are ringed. Also writes ``<out_base>.md`` with every point, the adversary behind it and
whether it is on the frontier.

Usage (from the repo root)::

    python -m undo.paper.figures.fig11 figures/mini/fig11.json figures/mini/fig11
"""

from __future__ import annotations

import statistics
from pathlib import Path

from undo.paper import plotting, wmdp

DOMAINS = ("bio", "cyber")
ORDER = ("maxent", "maxent_medium", "maxent_worst", "rmu", "rmu_medium", "rmu_worst", "sam", "repnoise", "undo_maxent",
         "undo_rmu")
MARKERS = {"maxent": "s", "rmu": "D", "sam": "^", "repnoise": "P", "undo_maxent": "o", "undo_rmu": "h"}
COLORS = {"maxent": "#d62728", "rmu": "#9467bd", "sam": "#ff7f0e", "repnoise": "#bcbd22", "undo_maxent": "#1f77b4",
          "undo_rmu": "#17becf"}
BUDGETS = ("initial", "low", "high")


def points(results: dict) -> dict[str, list[dict]]:
    """Per domain, one point per method: retain, forget at each budget, the adversary behind each forget value."""
    low = int(results.get("options", {}).get("low_step", 50))
    out: dict[str, list[dict]] = {}
    for name, instances in wmdp.method_series(results["series"]).items():
        domain, method = name.split("/", 1)
        if not instances:
            continue
        retain = wmdp.unattacked(instances, "retain")
        forget0 = wmdp.unattacked(instances, "forget")
        low_attack, high_attack = wmdp.strongest(instances, low), wmdp.strongest(instances, None)
        out.setdefault(domain, []).append({
            "method": method, "retain": statistics.fmean(retain.values()), "seeds": len(retain),
            "forget": {"initial": statistics.fmean(forget0.values()), "low": low_attack["mean"],
                       "high": high_attack["mean"]},
            "adversary": {"initial": "", "low": low_attack["adversary"], "high": high_attack["adversary"]},
            "step": {"initial": 0, "low": low, "high": _last_step(instances)}})
    for domain in out:
        out[domain].sort(key=lambda p: ORDER.index(p["method"]) if p["method"] in ORDER else len(ORDER))
    return out


def _last_step(instances) -> int:
    return int(next(iter(instances[0]["results"]["curves"].values()))["step"][-1])


def _style(method: str) -> dict:
    """The method's marker and colour; Table 10's Medium point half-transparent, its Worst point hollow."""
    base, point = wmdp.split_point(method)
    color = COLORS.get(base, "0.5")
    style = {"marker": MARKERS.get(base, "o"), "s": 40}
    if point == "worst":
        return {**style, "facecolors": "none", "edgecolors": color, "linewidths": 1.2}
    return {**style, "color": color, "alpha": 0.55 if point == "medium" else 1.0}


def on_frontier(point: dict, others: list[dict], budget: str) -> bool:
    """Not dominated: no other point with forget <= and retain >= (one strictly)."""
    f, r = point["forget"][budget], point["retain"]
    return not any(o is not point and o["forget"][budget] <= f and o["retain"] >= r and
                   (o["forget"][budget] < f or o["retain"] > r) for o in others)


def markdown(results: dict, pts: dict[str, list[dict]]) -> str:
    lines = plotting.markdown_header("Figure 11: WMDP forget vs retain after unlearning and relearning", results)
    lines += ["Retain: the released model's MMLU accuracy (stand-in at mini/smoke). Forget: WMDP accuracy after the "
              "strongest adversary at that budget (mean over seeds; its name in brackets). *Frontier*: not dominated "
              "after the high-compute attack.", ""]
    for domain in plotting.ordered(pts, DOMAINS):
        mine = pts[domain]
        steps = mine[0]["step"]
        lines += [f"## WMDP-{domain.capitalize()}", "",
                  f"| method | retain | forget @0 | forget @{steps['low']} | forget @{steps['high']} | frontier | seeds |",
                  "|---|--:|--:|--:|--:|---|--:|"]
        for p in mine:
            cells = [f"{p['forget']['initial']:.3f}"] + [
                f"{p['forget'][b]:.3f} ({wmdp.ADVERSARY_LABELS.get(p['adversary'][b], p['adversary'][b])})"
                for b in ("low", "high")]
            lines.append(f"| {wmdp.method_label(p['method'])} | {p['retain']:.3f} | " + " | ".join(cells) +
                         f" | {'yes' if on_frontier(p, mine, 'high') else 'no'} | {p['seeds']} |")
        lines.append("")
    return "\n".join(lines)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 11; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    pts = points(results)
    domains = plotting.ordered(pts, DOMAINS)
    if not domains:
        raise ValueError("fig11: results have no <domain>/<method> series")
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(len(BUDGETS), len(domains), figsize=(4.6 * len(domains), 9.0), squeeze=False)
    try:
        for col, domain in enumerate(domains):
            mine = pts[domain]
            for row, budget in enumerate(BUDGETS):
                ax = axes[row][col]
                for p in mine:
                    ax.scatter(p["forget"][budget], p["retain"], zorder=3, label=wmdp.method_label(p["method"]),
                               **_style(p["method"]))
                    if on_frontier(p, mine, budget):
                        ax.scatter(p["forget"][budget], p["retain"], s=140, facecolors="none", edgecolors="0.35",
                                   linewidths=0.8, zorder=4)
                when = "after unlearning" if budget == "initial" else f"after {mine[0]['step'][budget]} steps"
                ax.set_title(f"({plotting.LETTERS[row * len(domains) + col]}) WMDP-{domain.capitalize()}, {when}",
                             loc="left")
                ax.set_xlabel("forget accuracy (lower = more robust)")
                ax.set_ylabel("retain accuracy (higher = better)")
        plotting.figure_legend(fig, axes, y=-0.01)
        title = (f"Figure 11: WMDP forget vs retain (scale: {results.get('scale', '?')}; forget after the strongest "
                 "adversary, mean over seeds; ringed = Pareto frontier)")
        paths = plotting.finish(fig, out_base, title, wrap=110, rect=(0, 0.04, 1, 1))
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, pts)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
