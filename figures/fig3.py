"""Figure 3 and the App. B.1 tables: unlearning learning-rate sweeps per setting and method.

Reads only the results JSON of the ``figure`` stage (``results["series"]``: per ``<setting>/<method>``,
every unlearn instance with its ``lr`` tag, metrics.json summary and metrics.jsonl history) and writes

- ``<out_base>.png``/``.pdf``: one row per setting (language first, then arithmetic, as the paper's
  panels a-c and d-f), one panel per method; retain (solid) and forget (dashed) through unlearning, one
  colour per learning rate, the selected one thick. Language is held-out cross-entropy (lower retain
  is better, higher forget is more forgotten), arithmetic accuracy; each setting's direction and labels
  come from ``results["options"]["settings"]`` (fig3.yaml ``options``);
- ``<out_base>.md`` and ``<out_base>.tex``: the App. B.1 tables, initial -> final retain and forget
  per learning rate, the selected row in bold.

The learning rate is selected by :func:`undo.selection.select_lr` (retain within the tolerance of its
initial value, then the most forgotten), never by hand.

Usage::

    python figures/fig3.py figures/mini/fig3.json figures/mini/fig3
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D

from undo import plotting
from undo.selection import SweepPoint, retains_enough, select_lr


def fmt_lr(lr: float) -> str:
    """Learning rates as the paper writes them: 9e-5, 1e-4, 1.5e-3."""
    mantissa, exp = f"{lr:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"


def _setting_options(results: dict, setting: str) -> dict:
    """Labels and metric direction of a setting (``options.settings.<setting>`` in fig3.yaml)."""
    opts = {"higher_is_better": True, "retain": "retain", "forget": "forget",
            **(results.get("options") or {}).get("settings", {}).get(setting, {})}
    opts.setdefault("ylabel", "accuracy" if opts["higher_is_better"] else "cross-entropy")
    return opts


def _row(inst: dict) -> dict:
    """One learning rate's run: initial/final retain and forget, and its evaluation curve."""
    if "lr" not in inst["tags"]:
        raise ValueError(f"{inst['artifact']}: no `lr` tag (is the config swept over optim.lr?)")
    evals = [r for r in inst["history"] if "eval/retain" in r and "eval/forget" in r]
    first, last = inst["summary"].get("eval_initial") or {}, inst["summary"].get("eval") or {}
    if not evals or not first or not last:
        raise ValueError(f"{inst['artifact']}: no retain/forget evaluation (does the unlearn config set `eval`?)")
    return {"lr": float(inst["tags"]["lr"]), "initial_retain": first["retain"], "final_retain": last["retain"],
            "initial_forget": first["forget"], "final_forget": last["forget"], "artifact": inst["artifact"],
            "step": [r["step"] for r in evals], "retain": [r["eval/retain"] for r in evals],
            "forget": [r["eval/forget"] for r in evals]}


def sweeps(results: dict) -> list[dict]:
    """Per ``<setting>/<method>`` series: its rows by learning rate, which are admissible, and the selected lr."""
    tolerance = float((results.get("options") or {}).get("tolerance", 0.10))
    out = []
    for name, instances in results["series"].items():
        setting, _, method = name.partition("/")
        opts = _setting_options(results, setting)
        rows = sorted((_row(inst) for inst in instances), key=lambda r: r["lr"])
        lrs = [r["lr"] for r in rows]
        if len(set(lrs)) != len(lrs):
            raise ValueError(f"{name}: several runs share a learning rate; Figure 3 expects one run per lr")
        points = [SweepPoint(r["lr"], r["initial_retain"], r["final_retain"], r["final_forget"]) for r in rows]
        for r, p in zip(rows, points, strict=True):
            r["admissible"] = retains_enough(p, tolerance=tolerance, higher_is_better=opts["higher_is_better"])
        try:
            chosen, note = select_lr(points, tolerance=tolerance, higher_is_better=opts["higher_is_better"]).lr, None
        except ValueError:
            chosen, note = None, f"no learning rate keeps retain within {tolerance:.0%} of its initial value: none selected"
        out.append({"name": name, "setting": setting, "method": method, "method_label": plotting.METHOD_LABELS.get(method, method),
                    "options": opts, "tolerance": tolerance, "rows": rows, "chosen": chosen, "note": note})
    return out


# ----------------------------------------------------------------------------- figure

def _draw_panel(ax, sweep: dict) -> None:
    colors = plotting.alpha_colors([r["lr"] for r in sweep["rows"]], cmap="plasma")
    for r in sweep["rows"]:
        thick = r["lr"] == sweep["chosen"]
        kw = {"color": colors[r["lr"]], "linewidth": 2.4 if thick else 0.9, "alpha": 1.0 if thick else 0.75,
              "zorder": 3 if thick else 2}
        ax.plot(r["step"], r["retain"], linestyle="-", **kw)
        ax.plot(r["step"], r["forget"], linestyle="--", **kw)
    initial = sweep["rows"][0]["initial_retain"]
    tol = sweep["tolerance"] * abs(initial)
    budget = initial - tol if sweep["options"]["higher_is_better"] else initial + tol
    ax.axhline(budget, color="0.5", linewidth=0.7, linestyle=":", zorder=1)
    opts = sweep["options"]
    handles = [Line2D([], [], color=colors[r["lr"]], linewidth=2.4 if r["lr"] == sweep["chosen"] else 0.9,
                      label=f"lr {fmt_lr(r['lr'])}" + (" (selected)" if r["lr"] == sweep["chosen"] else ""))
               for r in sweep["rows"]]
    handles += [Line2D([], [], color="0.2", linestyle="-", label=f"retain: {opts['retain']}"),
                Line2D([], [], color="0.2", linestyle="--", label=f"forget: {opts['forget']}"),
                Line2D([], [], color="0.5", linestyle=":", label=f"retain budget ({sweep['tolerance']:.0%})")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6)
    ax.set_xlabel("Unlearning step")
    ax.set_ylabel(opts["ylabel"])
    if sweep["note"]:
        ax.text(0.02, 0.02, "no lr within the retain budget", transform=ax.transAxes, fontsize=6, color="0.3")


def _grid(all_sweeps: list[dict]) -> tuple[list[str], list[str]]:
    """Rows: settings in the paper's order (language, arithmetic), then others in series order; columns:
    methods in the paper's order (GradDiff, MaxEnt, RMU), then others."""
    # the paper's rows: (a-c) language, (d-f) arithmetic
    return (plotting.ordered((s["setting"] for s in all_sweeps), plotting.SETTING_ORDER),
            plotting.ordered((s["method"] for s in all_sweeps), plotting.METHOD_LABELS))


def _in_grid_order(all_sweeps: list[dict]) -> list[dict]:
    """The sweeps panel by panel: (a) language GradDiff ... (f) arithmetic RMU; the B.1 tables follow it."""
    settings, methods = _grid(all_sweeps)
    return sorted(all_sweeps, key=lambda s: (settings.index(s["setting"]), methods.index(s["method"])))


# ----------------------------------------------------------------------------- tables

def _num(v: float) -> str:
    return f"{v:.4f}"


def _caption(s: dict) -> str:
    o = s["options"]
    return f"{s['method_label']} ({s['setting'].capitalize()}, {o['ylabel']}; retain: {o['retain']}, forget: {o['forget']})"


def _rule(s: dict) -> str:
    better = "lowest" if s["options"]["higher_is_better"] else "highest"
    return (f"retain within {s['tolerance']:.0%} of its initial value, then the {better} final forget value, "
            f"ties to the lower lr")


def markdown(results: dict, all_sweeps: list[dict]) -> str:
    lines = plotting.markdown_header("Figure 3 / App. B.1: unlearning learning-rate sweeps", results)
    lines += ["Bold: the learning rate selected by undo/selection.py (rule stated under each table).", ""]
    for s in all_sweeps:
        lines += [f"## {_caption(s)}", "",
                  "| lr | initial retain → final retain | initial forget → final forget | retain kept | |",
                  "| --- | --- | --- | --- | --- |"]
        for r in s["rows"]:
            cells = [fmt_lr(r["lr"]), f"{_num(r['initial_retain'])} → {_num(r['final_retain'])}",
                     f"{_num(r['initial_forget'])} → {_num(r['final_forget'])}"]
            chosen = r["lr"] == s["chosen"]
            if chosen:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells + ["yes" if r["admissible"] else "no",
                                                     "**selected**" if chosen else ""]) + " |")
        lines.append("")
        selected = f"lr {fmt_lr(s['chosen'])}" if s["chosen"] is not None else s["note"]
        lines.append(f"Selected: {selected} (rule: {_rule(s)}).")
        lines.append("")
    return "\n".join(lines)


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def latex(results: dict, all_sweeps: list[dict]) -> str:
    out = [f"% Figure 3 / App. B.1 learning-rate sweeps (scale: {results.get('scale', '?')}); written by figures/fig3.py.",
           "% Needs \\usepackage{booktabs}. Bold: the lr selected by undo/selection.py."]
    for s in all_sweeps:
        out += ["", r"\begin{table}[ht]", r"\centering", r"\small", r"\begin{tabular}{lccc}", r"\toprule",
                r"Learning rate & Retain (initial $\to$ final) & Forget (initial $\to$ final) & Retain kept \\",
                r"\midrule"]
        for r in s["rows"]:
            cells = [fmt_lr(r["lr"]), f"{_num(r['initial_retain'])} $\\to$ {_num(r['final_retain'])}",
                     f"{_num(r['initial_forget'])} $\\to$ {_num(r['final_forget'])}", "yes" if r["admissible"] else "no"]
            if r["lr"] == s["chosen"]:
                cells = [rf"\textbf{{{c}}}" for c in cells]
            out.append(" & ".join(cells) + r" \\")
        selected = f"selected lr {fmt_lr(s['chosen'])} (bold)" if s["chosen"] is not None else s["note"]
        out += [r"\bottomrule", r"\end{tabular}",
                rf"\caption{{{_tex_escape(_caption(s))}: {_tex_escape(_rule(s))}; {_tex_escape(selected)}.}}",
                rf"\label{{tab:b1-{s['setting']}-{s['method']}}}", r"\end{table}"]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- entry points

def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 3 from a results dict; writes ``out_base`` .png, .pdf, .md and .tex and returns their paths."""
    out_base = Path(out_base)
    all_sweeps = _in_grid_order(sweeps(results))
    settings, methods = _grid(all_sweeps)
    by_cell = {(s["setting"], s["method"]): s for s in all_sweeps}
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(len(settings), len(methods), figsize=(4.2 * len(methods), 2.8 * len(settings)),
                                      squeeze=False)
    try:
        for i, setting in enumerate(settings):
            for j, method in enumerate(methods):
                ax, s = axes[i][j], by_cell.get((setting, method))
                if s is None:
                    ax.set_axis_off()
                    continue
                _draw_panel(ax, s)
                ax.set_title(f"({plotting.LETTERS[i * len(methods) + j]}) {setting.capitalize()}: {s['method_label']}", loc="left")
        fig.suptitle(f"Figure 3: unlearning learning-rate sweeps (scale: {results.get('scale', '?')}; "
                     f"thick: lr selected by undo.selection)", fontsize=9)
        fig.tight_layout()
        paths = plotting.save(fig, out_base)
    finally:
        plotting.plt.close(fig)
    paths.append(plotting.write_text(markdown(results, all_sweeps), plotting.with_ext(out_base, ".md")))
    paths.append(plotting.write_text(latex(results, all_sweeps), plotting.with_ext(out_base, ".tex")))
    return paths


def main(argv: list[str] | None = None) -> None:
    plotting.script_main(draw, __doc__, argv)


if __name__ == "__main__":
    main()
