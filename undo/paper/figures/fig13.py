"""Figure 13 (App. F.1): relearning TOFU's forget set after unlearning, with and without distillation, drawn from a
stored results JSON.

Per model family (``gemma``, ``phi``) one panel: x is the relearning step, y the forget metrics of
``undo.paper.tofu.FORGET_METRICS`` through the attack on each model of ``undo.paper.tofu.ROLES`` (the unlearned-only
model, the unlearned-and-distilled one, the control that never saw TOFU), a colour per model. As in the paper, each
forget metric is a light line (its own line style) and their mean (``undo.paper.tofu.mean_forget``) is bold; every
line is the median over seeds of the curve at the attacker's best learning rate (``undo.paper.tofu.attack_curves``),
the bold one with a light min–max band. The panel's title names the best learning rate(s). Series are named
``<family>/relearn`` (tag ``model`` tells the model). Also writes ``<out_base>.md``: per family and model the forget
Q&A probability and the mean forget metric before the attack and after its last step, median over seeds [min–max].

Usage (from the repo root)::

    python -m undo.paper.figures.fig13 figures/mini/fig13.json figures/mini/fig13
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D

from undo.paper import plotting, tofu

COLORS = {"unlearn": plotting.REFERENCE_COLORS["unlearn_only"], "distill": "#1f77b4", "control": "#2ca02c"}
LABELS = {"unlearn": "Unlearned only (GradDiff)", "distill": "Unlearned + distilled", "control": "Control (base)"}
SHORT = {"unlearn": "unlearned", "distill": "distilled", "control": "control"}
METRIC_STYLES = dict(zip(tofu.FORGET_METRICS, ("-", "--", ":"), strict=True))
MEAN = "mean_forget"  # the bold line's key among a role's curves


def gather(results: dict) -> dict[str, dict[str, dict]]:
    """Per family and role: ``curves`` (each forget metric and their mean, median/min/max over seeds at the attacker's
    best learning rate), ``lrs`` (the best learning rate of each seed) and ``seeds`` (how many)."""
    series = results.get("series") or {}
    fams = tofu.families(series)
    if not fams:
        raise ValueError("fig13: results have no series (expected <family>/relearn)")
    return {family: _family(tofu.needed(series, f"{family}/relearn", "fig13"), family) for family in fams}


def _family(instances: list, family: str) -> dict[str, dict]:
    attacked = tofu.attack_curves(instances)
    missing = [r for r in tofu.ROLES if r not in attacked]
    if missing:
        raise ValueError(f"fig13: series '{family}/relearn' has no attack on {', '.join(missing)} (tag 'model')")
    return {r: _role(attacked[r]) for r in tofu.ROLES}


def _role(by_seed: dict) -> dict:
    seeds = plotting.seeds_list(by_seed)
    runs = [by_seed[s] for s in seeds]
    curves = {m: plotting.seed_curve((c["step"], c[m]) for c in runs if m in c) for m in tofu.FORGET_METRICS}
    curves[MEAN] = plotting.seed_curve((c["step"], tofu.mean_forget(c)) for c in runs
                                       if any(m in c for m in tofu.FORGET_METRICS))
    return {"curves": curves, "lrs": {s: by_seed[s]["lr"] for s in seeds}, "seeds": len(seeds)}


def lrs_text(lrs: dict) -> str:
    """The attacker's best learning rate(s) over seeds: ``1e-05`` or ``1e-05 (2 seeds), 3e-05 (1 seed)``."""
    counts: dict[str, int] = {}
    for lr in lrs.values():
        counts[lr] = counts.get(lr, 0) + 1
    if len(counts) == 1:
        return f"{float(next(iter(counts))):g}"
    return ", ".join(f"{float(lr):g} ({plotting.seeds_text([n])})" for lr, n in sorted(counts.items(),
                                                                                       key=lambda kv: float(kv[0])))


def best_text(per_role: dict) -> str:
    """The best learning rate(s) of a panel: one rate for every model, else per model (``unlearned 1e-05; ...``)."""
    texts = {r: lrs_text(d["lrs"]) for r, d in per_role.items()}
    if len(set(texts.values())) == 1:
        return f"{next(iter(texts.values()))} (every model)"
    return "; ".join(f"{SHORT[r]} {t}" for r, t in texts.items())


def _stat_at(curve: dict | None, index: int) -> dict | None:
    """The median/min/max over seeds at one step of a :func:`undo.paper.plotting.seed_curve` (0: first, -1: last)."""
    if curve is None:
        return None
    return {k: curve[k][index] for k in ("median", "min", "max", "n")}


def markdown(results: dict, data: dict) -> str:
    lines = plotting.markdown_header("Figure 13: relearning TOFU's forget set", results)
    lines += ["Each model is attacked at every learning rate of its grid; the attacker's best (the highest forget Q&A "
              "probability at the last step) is read. Cells: median over seeds [min–max]; mean forget = the mean of "
              f"{', '.join(tofu.METRIC_LABELS[m] for m in tofu.FORGET_METRICS)}.", ""]
    for family, per_role in data.items():
        last = max(d["curves"][MEAN]["step"][-1] for d in per_role.values() if d["curves"][MEAN])
        lines += [f"## {tofu.FAMILY_LABELS.get(family, family)}", "",
                  f"| model | seeds | best lr | forget Q&A prob. @0 | @{last} | mean forget @0 | @{last} |",
                  "|---|--:|---|--:|--:|--:|--:|"]
        for r, d in per_role.items():
            cells = [plotting.fmt_seed_stats(_stat_at(d["curves"][m], i))
                     for m in ("forget_Q_A_Prob", MEAN) for i in (0, -1)]
            lines.append(f"| {LABELS[r]} | {d['seeds']} | {lrs_text(d['lrs'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _panel(ax, per_role: dict, index: int, family: str) -> None:
    for r, d in per_role.items():
        for m in tofu.FORGET_METRICS:
            if d["curves"][m] is not None:
                ax.plot(d["curves"][m]["step"], d["curves"][m]["median"], color=COLORS[r], lw=0.9, alpha=0.35,
                        ls=METRIC_STYLES[m])
        if d["curves"][MEAN] is not None:
            plotting.plot_seed_curve(ax, d["curves"][MEAN], COLORS[r], label=LABELS[r], band_alpha=0.12, lw=2.2)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("Relearning step")
    ax.set_ylabel("forget metric value (higher = relearned)")
    ax.set_title(f"({plotting.LETTERS[index]}) {tofu.FAMILY_LABELS.get(family, family)}\n"
                 f"attacker's best lr: {best_text(per_role)}", loc="left", fontsize=8)


def _legend(fig, ax) -> None:
    """One legend under the figure: the models (bold: their mean forget metric) in a first row and, in grey, the
    line style of each light forget metric in a second."""
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.4", lw=0.9, ls=METRIC_STYLES[m]) for m in tofu.FORGET_METRICS]
    labels += [f"light: {tofu.METRIC_LABELS[m]}" for m in tofu.FORGET_METRICS]
    half = len(handles) // 2  # the legend fills columns first: interleave so that each row is one kind
    order = [i for pair in zip(range(half), range(half, 2 * half), strict=True) for i in pair]
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower center", ncol=half,
               bbox_to_anchor=(0.5, -0.01))


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 13; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    data = gather(results)
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(1, len(data), figsize=(4.8 * len(data), 3.8), squeeze=False)
    try:
        for index, (family, per_role) in enumerate(data.items()):
            _panel(axes[0][index], per_role, index, family)
        _legend(fig, axes[0][0])
        title = (f"Figure 13: relearning TOFU's forget set (scale: {results.get('scale', '?')}; attacker's best "
                 "learning rate, median over seeds; light: each forget metric, bold: their mean, band min–max)")
        paths = plotting.finish(fig, out_base, title, wrap=55 * len(data), rect=(0, 0.1, 1, 1))
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, data)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
