"""Figure 7 (Section 6): unlearning methods compared across adversarial strengths, drawn from a stored results JSON.

One row per setting (language, arithmetic), one column per attack budget: (a, d) before the relearning attack,
(b, e) after the moderate attack (``options.moderate_step``, 40 steps) and (c, f) after the extensive one (the
curves' last step: 500 in the paper, shorter at mini). Each point is one unlearned model: x is its forget
performance after the attack (the attacker's best learning rate at that step), y its own retain performance
(a cross-entropy axis is inverted, so better retain is up in every panel).
UNDO's points (one per retain threshold τ) are joined; Data Filtering is the oracle. With several seeds (each a
whole pipeline) a model's point is its median over seeds with min–max error bars on both axes
(``undo.paper.pareto.seed_medians``). Points on the Pareto frontier of a panel (not dominated by any other point of it,
medians compared) are ringed. A point far off its row's scale (GradDiff's Korean CE before the attack) sits at the
cut edge as a triangle with its value written (``undo.paper.plotting.clip_outliers``). Also writes ``<out_base>.md``: per
model, retain and forget at each budget (median over seeds [min–max]), the attacker's best learning rate, whether
it is on the frontier after the extensive attack, its number of seeds, and which attacks had their learning-rate
grid extended or a learning rate diverge.

A second adversary (series ``<setting>/<method>/lora``: the relearning attack through LoRA adapters) appears in the
extensive-attack panels only: its point is hollow, in its model's colour and marker, joined by a dotted line to the
same model's full-finetune point (both share the model's retain, measured before the attack). It enters neither the
frontier nor the claims; the table lists it apart, next to the full-finetune forget of the same models.

Usage (from the repo root)::

    python -m undo.paper.figures.fig7 figures/mini/fig7.json figures/mini/fig7
"""

from __future__ import annotations

from pathlib import Path

from undo.paper import names, pareto, plotting  # noqa: E402

METHOD_ORDER = names.ALL_METHODS
MARKERS = {"graddiff": "v", "maxent": "s", "rmu": "D", "sam": "^", "repnoise": "P", "undial": "X", "undo": "o",
           "data_filtering": "*"}
COLORS = {"graddiff": "#8c564b", "maxent": "#d62728", "rmu": "#9467bd", "sam": "#ff7f0e", "repnoise": "#bcbd22",
          "undial": "#17becf", "undo": "#1f77b4", "data_filtering": "#222222"}
ADVERSARY_LABELS = {"lora": "LoRA"}
BUDGET_TITLES = {"initial": "before the attack", "moderate": "after {step} steps", "long": "after {step} steps"}


def _budget_step(points: list[dict], budget: str) -> int | None:
    steps = {p["step"][budget] for p in points}
    return steps.pop() if len(steps) == 1 else None


def _direction(setting: dict) -> tuple[str, str]:
    forget = "lower" if setting["attacker_best"] == "max" else "higher"
    retain = "higher" if setting["retain_higher_is_better"] else "lower"
    return forget, retain


def _error(stats: dict) -> list[list[float]]:
    """matplotlib's asymmetric error bar, median to min and to max."""
    return [[stats["median"] - stats["min"]], [stats["max"] - stats["median"]]]


def _adversary_label(kind: str, attack: dict | None) -> str:
    """``LoRA r=8``: an adversary's name and rank."""
    rank = (attack or {}).get("rank")
    return ADVERSARY_LABELS.get(kind, kind) + (f" r={rank}" if rank is not None else "")


def _draw_adversaries(ax, adversaries: dict[str, list[dict]], budget: str) -> None:
    """Each other adversary's points (medians over seeds) hollow, a dotted line from the full-finetune twin's."""
    for kind, mine in adversaries.items():
        for m in mine:
            color = COLORS.get(m["method"], "0.5")
            full = (m["spread"].get("full_forget") or {}).get(budget, {}).get("median")
            if full is not None:
                ax.plot([full, m["forget"][budget]], [m["retain"], m["retain"]], color=color, lw=0.8, ls=":", alpha=0.8,
                        zorder=2)
            ax.scatter([m["forget"][budget]], [m["retain"]], marker=MARKERS.get(m["method"], "o"), facecolors="none",
                       edgecolors=color, linewidths=1.3, s=48, zorder=3.5)
        if mine:  # one legend entry per adversary: the hollow marker
            ax.scatter([], [], marker="o", facecolors="none", edgecolors="0.3", linewidths=1.3, s=48,
                       label=f"{_adversary_label(kind, mine[0].get('attack'))} adversary (hollow)")


def _draw_panel(ax, setting: dict, models: list[dict], budget: str, adversaries: dict | None = None) -> None:
    """One point per model at its median over seeds, min–max bars on both axes; the frontier of the medians ringed;
    ``adversaries`` (other adversaries' medians) hollow, without bars."""
    front = {id(m) for m in models if not pareto.dominated_by(m, models, setting, budget)}
    for method in plotting.ordered((m["method"] for m in models), METHOD_ORDER):
        mine = [m for m in models if m["method"] == method]
        color = COLORS.get(method, "0.5")
        if method == "undo":
            mine.sort(key=lambda m: float(m["tags"].get("tolerance") or 0))
            ax.plot([m["forget"][budget] for m in mine], [m["retain"] for m in mine], color=color, lw=0.9,
                    alpha=0.7, zorder=2)
        for m in mine:
            if m["n_seeds"] > 1:  # fmt "none", no caps: only a LineCollection, which clip_outliers does not count
                ax.errorbar(m["forget"][budget], m["retain"], xerr=_error(m["spread"]["forget"][budget]),
                            yerr=_error(m["spread"]["retain"]), fmt="none", ecolor=color, elinewidth=0.8, alpha=0.6,
                            capsize=0, zorder=2.5)
        ax.scatter([m["forget"][budget] for m in mine], [m["retain"] for m in mine], marker=MARKERS.get(method, "o"),
                   color=color, s=70 if method == "data_filtering" else 34, zorder=3,
                   label=names.METHOD_LABELS.get(method, method))
        ringed = [m for m in mine if id(m) in front]
        if ringed:
            ax.scatter([m["forget"][budget] for m in ringed], [m["retain"] for m in ringed], s=130, facecolors="none",
                       edgecolors="0.35", linewidths=0.8, zorder=4)
    if adversaries:
        _draw_adversaries(ax, adversaries, budget)
    forget_dir, retain_dir = _direction(setting)
    ax.set_xlabel(f"{setting['forget_label']} ({forget_dir} = more robust)")
    if not setting["retain_higher_is_better"]:
        ax.invert_yaxis()  # better retain is up in every panel
    ax.set_ylabel(f"{setting['retain_label']} ({retain_dir} = better, up)")


def _best_lrs(lrs: list[str]) -> str:
    """The attacker's best learning rate: one value when the seeds agree, else each seed's in seed order."""
    shown = ["—" if not lr else lr for lr in lrs]  # "": every learning rate diverged by then
    return shown[0] if len(set(shown)) == 1 else " / ".join(shown)


def _grid_notes(results: dict) -> list[str]:
    attacks = [(name, plotting.seed_of(inst), inst.get("results")) for name, instances in results["series"].items()
               for inst in instances]
    return plotting.relearn_grid_notes(attacks)


def _adversary_tables(setting: dict, adversaries: dict[str, list[dict]], moderate, long) -> list[str]:
    """Per other adversary of a setting, its table: forget at each budget and, for the same models, the
    full-finetune attack's forget after the extensive attack."""
    lines = []
    for kind, mine in adversaries.items():
        attack = mine[0].get("attack") or {}
        targets = ", ".join(attack.get("target_modules") or []) or "?"
        lines += [f"{_adversary_label(kind, attack)} adversary (alpha {attack.get('alpha', '?')}, on {targets}): "
                  "the same relearning data, steps and evaluations, adapters trained instead of every weight.", "",
                  f"| model | retain | forget @0 | forget @{moderate} | forget @{long} | best lr @{long} "
                  f"| full finetuning: forget @{long} | trained parameters | seeds |",
                  "|---|---|---|---|---|---|---|--:|--:|"]
        for m in mine:
            f = m["spread"]["forget"]
            full = (m["spread"].get("full_forget") or {}).get("long")
            trained = sorted({(p.get("attack") or {}).get("trainable_parameters") for p in m["points"]} - {None})
            cells = [m["label"], plotting.fmt_seed_stats(m["spread"]["retain"]),
                     *(plotting.fmt_seed_stats(f[b]) for b in pareto.BUDGETS), _best_lrs(m["best_lr"]["long"]),
                     plotting.fmt_seed_stats(full) if full else "—", " / ".join(str(t) for t in trained) or "?",
                     str(m["n_seeds"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def markdown(results: dict, summary: dict, models: dict[str, list[dict]],
             adversaries: dict[str, dict[str, list[dict]]] | None = None) -> str:
    adversaries = adversaries or {}
    lines = plotting.markdown_header("Figure 7: unlearning methods across adversarial strengths", results)
    counts = [m["n_seeds"] for per in models.values() for m in per]
    lines += ["Retain: the unlearned model's own retain performance (before any attack). Forget: after 0 steps, the "
              "moderate and the extensive relearning attack, the attacker's best learning rate at that step (its "
              "learning rate in the *best lr* column, each seed's when they differ). *Frontier*: not dominated on "
              "(retain, forget after the extensive attack) by any other model of the setting, Data Filtering "
              "included, compared at the median over seeds. With several seeds a cell is the median over seeds "
              f"[min–max]; seeds: {plotting.seeds_text(counts)}.", ""]
    if results.get("scale") != "paper":
        lines += [f"At scale {results.get('scale')} the extensive attack is shorter than the paper's 500 steps "
                  "(reproduce/synthetic/<setting>/relearn.yaml); the step is in each table's header.", ""]
    for name in plotting.ordered(summary, plotting.SETTING_ORDER):
        s, mine = summary[name], models[name]
        forget_dir, retain_dir = _direction(s)
        moderate, long = _budget_step(mine, "moderate"), _budget_step(mine, "long")
        lines += [f"## {name.capitalize()} (retain: {s['retain_label']}, {retain_dir} is better; forget: "
                  f"{s['forget_label']}, {forget_dir} is more robust)", "",
                  f"| model | retain | forget @0 | forget @{moderate} | forget @{long} | best lr @{long} | frontier @{long} "
                  "| seeds |",
                  "|---|---|---|---|---|---|---|--:|"]
        order = {m: i for i, m in enumerate(METHOD_ORDER)}
        for m in sorted(mine, key=lambda m: (order.get(m["method"], len(order)), float(m["tags"].get("tolerance") or 0))):
            on = "yes" if not pareto.dominated_by(m, mine, s, "long") else "no"
            f = m["spread"]["forget"]
            cells = [m["label"], plotting.fmt_seed_stats(m["spread"]["retain"]),
                     *(plotting.fmt_seed_stats(f[b]) for b in pareto.BUDGETS), _best_lrs(m["best_lr"]["long"]), on,
                     str(m["n_seeds"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines += _adversary_tables(s, adversaries.get(name) or {}, moderate, long)
    notes = _grid_notes(results)
    if notes:
        lines += ["Relearning attacks with an extended grid or a diverged learning rate:", "", *notes, ""]
    return "\n".join(lines)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 7; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    summary = pareto.setting_points(results)
    models = {name: pareto.seed_medians(s["points"]) for name, s in summary.items()}
    adversaries = {name: {kind: pareto.seed_medians(points) for kind, points in s["adversaries"].items()}
                   for name, s in summary.items()}
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
                step = _budget_step(models[name], budget)
                when = BUDGET_TITLES[budget].format(step=step if step is not None else "?")
                ax.set_title(f"({plotting.LETTERS[row * len(pareto.BUDGETS) + col]}) {name.capitalize()}, {when}",
                             loc="left")
                _draw_panel(ax, summary[name], models[name], budget,
                            adversaries[name] if budget == "long" else None)
            # a row shares its forget (x) and retain (y) measures; GradDiff's Korean CE is 22 before the attack
            plotting.clip_outliers(axes[row], axis="x")
            plotting.clip_outliers(axes[row], axis="y")
        plotting.figure_legend(fig, axes, y=-0.02)
        counts = [m["n_seeds"] for per in models.values() for m in per]
        seeds = (f"median over {plotting.seeds_text(counts)}, bars min–max; " if max(counts) > 1 else "")
        title = (f"Figure 7: retain vs forget after relearning attacks of increasing strength (scale: "
                 f"{results.get('scale', '?')}; {seeds}forget = attacker's best learning rate per step; ringed = Pareto "
                 "frontier; UNDO: α=0.6, β=0.1, one point per retain threshold)")
        paths = plotting.finish(fig, out_base, title, wrap=170, rect=(0, 0.05, 1, 1))
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, summary, models, adversaries)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
