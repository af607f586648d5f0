"""Figure 8 (Section 6): UNDO makes MaxEnt and RMU more resilient to relearning WMDP, drawn from a stored results JSON.

One panel per domain and method ((a) Bio MaxEnt, (b) Bio RMU, (c) Cyber MaxEnt, (d) Cyber RMU): forget accuracy
(WMDP) through the relearning attack, for the unlearned model (Unlearn-Only) and its UNDO distillation. Every
adversary of Table 12 is a thin line (the attacker's best learning rate at each step, mean over seeds); each
model's best adversary (the most forget accuracy at the last step, ``undo.paper.wmdp.best_adversary``) is bold.
Series are named ``<domain>/<method>`` and ``<domain>/undo_<method>``. Also writes ``<out_base>.md``: per panel and
model, every adversary's forget accuracy at each evaluated step (mean over seeds), the best one marked.

Usage (from the repo root)::

    python -m undo.paper.figures.fig8 figures/mini/fig8.json figures/mini/fig8
"""

from __future__ import annotations

from pathlib import Path

from undo.paper import plotting, wmdp

DOMAINS = ("bio", "cyber")
METHODS = ("maxent", "rmu")
METHOD_LABELS = {"maxent": "MaxEnt", "rmu": "RMU"}
COLORS = {"unlearn": "#d62728", "undo": "#1f77b4"}


def panels(results: dict) -> list[tuple[str, str, dict, dict]]:
    """(domain, method, unlearn-only adversaries, UNDO adversaries) for every panel with both series."""
    series = results["series"]
    out = []
    for domain in DOMAINS:
        for method in METHODS:
            mine, undo = series.get(f"{domain}/{method}"), series.get(f"{domain}/undo_{method}")
            if mine and undo:
                out.append((domain, method, wmdp.adversary_curves(mine), wmdp.adversary_curves(undo)))
    if not out:
        raise ValueError("fig8: results need series <domain>/<method> and <domain>/undo_<method>")
    return out


def markdown(results: dict, drawn: list) -> str:
    lines = plotting.markdown_header("Figure 8: relearning WMDP after unlearning, with and without UNDO", results)
    lines += ["Forget accuracy (WMDP stand-in at mini/smoke) through each relearning adversary: at every step the "
              "attacker's best learning rate, mean over seeds. **Bold**: the model's best adversary (most forget "
              "accuracy at the last step).", ""]
    for domain, method, unlearn, undo in drawn:
        steps = next(iter(unlearn.values()))["step"]
        lines += [f"## {domain.capitalize()}, {METHOD_LABELS[method]}", "",
                  "| model | adversary | seeds | " + " | ".join(f"@{s}" for s in steps) + " |",
                  "|---|---|--:|" + "--:|" * len(steps)]
        for label, by_adv in ((METHOD_LABELS[method], unlearn), (f"UNDO ({METHOD_LABELS[method]})", undo)):
            best = wmdp.best_adversary(by_adv)
            for name, entry in by_adv.items():
                shown = wmdp.ADVERSARY_LABELS.get(name, name)
                cells = [f"{v:.3f}" for v in entry["mean"]]
                if name == best:
                    shown, cells = f"**{shown}**", [f"**{c}**" for c in cells]
                lines.append(f"| {label} | {shown} | {len(entry['seeds'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 8; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    drawn = panels(results)
    plotting.apply_style()
    cols = 2
    rows = (len(drawn) + cols - 1) // cols
    fig, axes = plotting.plt.subplots(rows, cols, figsize=(9.0, 3.2 * rows), squeeze=False)
    try:
        for index, (domain, method, unlearn, undo) in enumerate(drawn):
            ax = axes[index // cols][index % cols]
            for role, label, by_adv in (("unlearn", METHOD_LABELS[method], unlearn),
                                        ("undo", f"UNDO ({METHOD_LABELS[method]})", undo)):
                best = wmdp.best_adversary(by_adv)
                for name, entry in by_adv.items():
                    bold = name == best
                    plotting.plot_envelope(ax, entry["step"], entry["mean"],
                                           f"{label}, best: {wmdp.ADVERSARY_LABELS.get(name, name)}" if bold else None,
                                           COLORS[role], bold=bold)
            ax.set_title(f"({plotting.LETTERS[index]}) WMDP-{domain.capitalize()}, {METHOD_LABELS[method]}", loc="left")
            ax.set_xlabel("relearning step")
            ax.set_ylabel("forget accuracy (higher = relearned)")
            ax.legend(fontsize=7, loc="best")
        for index in range(len(drawn), rows * cols):
            axes[index // cols][index % cols].set_visible(False)
        title = (f"Figure 8: relearning WMDP (scale: {results.get('scale', '?')}; mean over seeds of the attacker's best "
                 "learning rate; thin: each adversary of Table 12, bold: the best adversary)")
        paths = plotting.finish(fig, out_base, title, wrap=110)
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, drawn)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
