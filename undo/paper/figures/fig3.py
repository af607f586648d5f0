"""Figure 3 and the App. B.1 tables: unlearning learning-rate sweeps per setting and method.

Reads only the results JSON of the ``figure`` stage (``results["series"]``: per ``<setting>/<method>``,
every unlearn instance with its ``lr`` and ``seed`` tags, metrics.json summary and metrics.jsonl history; one
instance per (lr, seed), each seed a whole pipeline with its own reference model) and writes

- ``<out_base>.png``/``.pdf``: one row per setting (language first, then arithmetic, as the paper's
  panels a-c and d-f), one panel per method; retain (solid) and forget (dashed) through unlearning, one
  colour per learning rate, the median over seeds with a min–max band, a learning rate selected for some
  seed thick. Language is held-out cross-entropy (lower retain is better, higher forget is more
  forgotten), arithmetic accuracy; each setting's direction and labels come from
  ``results["options"]["settings"]`` (fig3.yaml ``options``). A panel far off its row's scale (GradDiff's
  Korean CE reaches 35 at mini) is cut by ``undo.paper.plotting.clip_outliers``, the off-scale values written at
  the edge;
- ``<out_base>.md`` and ``<out_base>.tex``: the App. B.1 tables, initial -> final retain and forget
  per learning rate (median over seeds [min–max]), whether each seed's run kept retain within the budget, and
  which seeds' rule picked it; a selected row in bold.

The learning rate is selected by :func:`undo.selection.select_lr` (retain within the tolerance of its
initial value, then the most forgotten), never by hand, for each seed from that seed's own sweep.

Usage::

    python -m undo.paper.figures.fig3 figures/mini/fig3.json figures/mini/fig3
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D

from undo.paper import analysis, plotting
from undo.selection import SweepPoint, retains_enough, select_lr


def fmt_lr(lr: float) -> str:
    """Learning rates as the paper writes them: 9e-5, 1e-4, 1.5e-3."""
    mantissa, exp = f"{lr:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"


def _setting_options(results: dict, setting: str) -> dict:
    """Labels (fig3.yaml) and metric direction (from the sweeps' results) of a setting: ``options.settings.<setting>``."""
    opts = {"retain": "retain", "forget": "forget", **(results.get("options") or {}).get("settings", {}).get(setting, {})}
    opts.setdefault("ylabel", "accuracy" if analysis.higher_is_better(opts, setting) else "cross-entropy")
    return opts


def _run(inst: dict) -> dict:
    """One unlearning run of the sweep (one learning rate, one seed): initial/final retain and forget, its curve."""
    if "lr" not in inst["tags"]:
        raise ValueError(f"{inst['artifact']}: no `lr` tag (is the config swept over optim.lr?)")
    evals = [r for r in inst["history"] if "eval/retain" in r and "eval/forget" in r]
    first, last = inst["summary"].get("eval_initial") or {}, inst["summary"].get("eval") or {}
    if not evals or not first or not last:
        raise ValueError(f"{inst['artifact']}: no retain/forget evaluation (does the unlearn config set `eval`?)")
    return {"lr": float(inst["tags"]["lr"]), "seed": plotting.seed_of(inst), "initial_retain": first["retain"],
            "final_retain": last["retain"], "initial_forget": first["forget"], "final_forget": last["forget"],
            "artifact": inst["artifact"], "step": [r["step"] for r in evals], "retain": [r["eval/retain"] for r in evals],
            "forget": [r["eval/forget"] for r in evals]}


def _lr_row(lr: float, runs: list[dict], selected: dict) -> dict:
    """One learning rate over seeds: median/min/max of its numbers and curves, and per seed whether it retained
    enough and whether the rule picked it."""
    runs = sorted(runs, key=lambda r: plotting.seed_key(r["seed"]))
    stats = {key: plotting.seed_stats(r[key] for r in runs)
             for key in ("initial_retain", "final_retain", "initial_forget", "final_forget")}
    return {"lr": lr, "seeds": [r["seed"] for r in runs], "n_seeds": len(runs), **stats,
            "admissible": [r["admissible"] for r in runs],
            "selected_by": [r["seed"] for r in runs if selected.get(r["seed"]) == lr],
            "retain": plotting.seed_curve([(r["step"], r["retain"]) for r in runs]),
            "forget": plotting.seed_curve([(r["step"], r["forget"]) for r in runs]),
            "artifacts": [r["artifact"] for r in runs]}


def sweeps(results: dict) -> list[dict]:
    """Per ``<setting>/<method>`` series: one row per learning rate (median/min/max over seeds), and per seed the
    learning rate the rule selects (None: no rate retains enough).

    Each seed is its own pipeline (its own reference model to unlearn), so the rule picks every seed's learning
    rate from that seed's sweep, as the ``select`` stage does for the teachers the later stages distil.
    """
    tolerance = float((results.get("options") or {}).get("tolerance", 0.10))
    out = []
    for name, instances in results["series"].items():
        setting, _, method = name.partition("/")
        opts = _setting_options(results, setting)
        runs = [_run(inst) for inst in instances]
        keys = [(r["lr"], r["seed"]) for r in runs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{name}: several runs share a learning rate and seed; Figure 3 expects one run per "
                             "(lr, seed)")
        seeds = plotting.seeds_list(r["seed"] for r in runs)
        selected = {}
        for seed in seeds:
            mine = sorted((r for r in runs if r["seed"] == seed), key=lambda r: r["lr"])
            points = [SweepPoint(r["lr"], r["initial_retain"], r["final_retain"], r["final_forget"]) for r in mine]
            for r, pt in zip(mine, points, strict=True):
                r["admissible"] = retains_enough(pt, tolerance=tolerance, higher_is_better=opts["higher_is_better"])
            try:
                selected[seed] = select_lr(points, tolerance=tolerance, higher_is_better=opts["higher_is_better"]).lr
            except ValueError:
                selected[seed] = None
        rows = [_lr_row(lr, [r for r in runs if r["lr"] == lr], selected) for lr in sorted({r["lr"] for r in runs})]
        out.append({"name": name, "setting": setting, "method": method, "method_label": plotting.METHOD_LABELS.get(method, method),
                    "options": opts, "tolerance": tolerance, "rows": rows, "seeds": seeds, "selected": selected,
                    "selected_lrs": sorted({lr for lr in selected.values() if lr is not None})})
    return out


def _several_seeds(sweep: dict) -> bool:
    return len(sweep["seeds"]) > 1


def _none_selected(sweep: dict) -> str:
    return f"no learning rate keeps retain within {sweep['tolerance']:.0%} of its initial value"


# ----------------------------------------------------------------------------- figure

def _selected_label(sweep: dict, row: dict) -> str:
    """The legend's note on a learning rate the rule picked: for every seed, or for k of n seeds."""
    if not row["selected_by"]:
        return ""
    if len(row["selected_by"]) == len(sweep["seeds"]):
        return " (selected)"
    return f" (selected by {len(row['selected_by'])}/{len(sweep['seeds'])} seeds)"


def _draw_panel(ax, sweep: dict) -> None:
    colors = plotting.alpha_colors([r["lr"] for r in sweep["rows"]], cmap="plasma")
    for r in sweep["rows"]:
        thick = bool(r["selected_by"])
        kw = {"linewidth": 2.4 if thick else 0.9, "alpha": 1.0 if thick else 0.75, "zorder": 3 if thick else 2}
        band = 0.18 if thick else 0.08  # many learning rates share a panel: the unselected bands stay faint
        plotting.plot_seed_curve(ax, r["retain"], colors[r["lr"]], band_alpha=band, linestyle="-", **kw)
        plotting.plot_seed_curve(ax, r["forget"], colors[r["lr"]], band_alpha=band, linestyle="--", **kw)
    # each seed is admissible against its own start; the line shows the budget of the median start
    initial = plotting.seed_stats(r["initial_retain"]["median"] for r in sweep["rows"])["median"]
    tol = sweep["tolerance"] * abs(initial)
    budget = initial - tol if sweep["options"]["higher_is_better"] else initial + tol
    ax.axhline(budget, color="0.5", linewidth=0.7, linestyle=":", zorder=1)
    opts = sweep["options"]
    handles = [Line2D([], [], color=colors[r["lr"]], linewidth=2.4 if r["selected_by"] else 0.9,
                      label=f"lr {fmt_lr(r['lr'])}{_selected_label(sweep, r)}") for r in sweep["rows"]]
    budget_label = f"retain budget ({sweep['tolerance']:.0%}" + (", median start)" if _several_seeds(sweep) else ")")
    handles += [Line2D([], [], color="0.2", linestyle="-", label=f"retain: {opts['retain']}"),
                Line2D([], [], color="0.2", linestyle="--", label=f"forget: {opts['forget']}"),
                Line2D([], [], color="0.5", linestyle=":", label=budget_label)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6)
    ax.set_xlabel("Unlearning step")
    ax.set_ylabel(opts["ylabel"])
    unselected = [seed for seed, lr in sweep["selected"].items() if lr is None]
    if unselected:
        which = "" if len(unselected) == len(sweep["seeds"]) else f" ({plotting.fmt_seeds(unselected)})"
        ax.text(0.02, 0.02, f"no lr within the retain budget{which}", transform=ax.transAxes, fontsize=6, color="0.3")


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


def _change(row: dict, measure: str, dash: str = "–", arrow: str = "→") -> str:
    """``initial → final`` of ``retain`` or ``forget``, each the median over seeds [min–max]."""
    first, last = (plotting.fmt_seed_stats(row[f"{when}_{measure}"], digits=4, dash=dash) for when in ("initial", "final"))
    return f"{first} {arrow} {last}"


def _kept(row: dict) -> str:
    """Whether the run kept retain within the budget: yes/no, or the seeds that did when they differ."""
    kept = [seed for seed, ok in zip(row["seeds"], row["admissible"], strict=True) if ok]
    if len(kept) in (0, row["n_seeds"]):
        return "yes" if kept else "no"
    return f"{plotting.fmt_seeds(kept)} of {row['n_seeds']}"


def _selected_text(sweep: dict) -> str:
    """The rule's pick: ``lr 8e-6``, or per seed ``lr 1e-3 for seeds 0, 1; none for seed 2 (...)``."""
    if not _several_seeds(sweep):
        (lr,) = sweep["selected"].values()
        return f"lr {fmt_lr(lr)}" if lr is not None else f"{_none_selected(sweep)}: none selected"
    parts = [f"lr {fmt_lr(lr)} for {plotting.fmt_seeds(seed for seed, pick in sweep['selected'].items() if pick == lr)}"
             for lr in sweep["selected_lrs"]]
    unselected = [seed for seed, pick in sweep["selected"].items() if pick is None]
    if unselected:
        parts.append(f"none for {plotting.fmt_seeds(unselected)} ({_none_selected(sweep)})")
    return "; ".join(parts)


def _seeds_line(all_sweeps: list[dict]) -> str:
    seeds = plotting.seeds_list(seed for s in all_sweeps for seed in s["seeds"])
    counts = [r["n_seeds"] for s in all_sweeps for r in s["rows"]]
    listed = ", ".join(str(seed) for seed in seeds if seed is not None)
    return f"{plotting.seeds_text(counts).capitalize()}" + (f" ({listed})." if listed else ".")


def markdown(results: dict, all_sweeps: list[dict]) -> str:
    lines = plotting.markdown_header("Figure 3 / App. B.1: unlearning learning-rate sweeps", results)
    lines += ["Bold: a learning rate selected by undo/selection.py (rule stated under each table). Each seed is its own "
              "pipeline, so the rule picks each seed's learning rate from that seed's sweep; numbers with several "
              f"seeds are the median over seeds [min–max]. {_seeds_line(all_sweeps)}", ""]
    for s in all_sweeps:
        lines += [f"## {_caption(s)}", "",
                  "| lr | seeds | initial retain → final retain | initial forget → final forget | retain kept | selected |",
                  "| --- | --: | --- | --- | --- | --- |"]
        for r in s["rows"]:
            cells = [fmt_lr(r["lr"]), _change(r, "retain"), _change(r, "forget")]
            if r["selected_by"]:
                cells = [f"**{c}**" for c in cells]
            picked = "" if not r["selected_by"] else (
                "**selected**" + (f": {plotting.fmt_seeds(r['selected_by'])}" if _several_seeds(s) else ""))
            lines.append("| " + " | ".join([cells[0], str(r["n_seeds"]), *cells[1:], _kept(r), picked]) + " |")
        lines.append("")
        lines.append(f"Selected: {_selected_text(s)} (rule: {_rule(s)}).")
        lines.append("")
    return "\n".join(lines)


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def latex(results: dict, all_sweeps: list[dict]) -> str:
    out = [f"% Figure 3 / App. B.1 learning-rate sweeps (scale: {results.get('scale', '?')}); written by undo.paper.figures.fig3.",
           "% Needs \\usepackage{booktabs}. Bold: a lr selected by undo/selection.py (for some seed). "
           f"{_seeds_line(all_sweeps)} Several seeds: median [min--max]."]
    for s in all_sweeps:
        out += ["", r"\begin{table}[ht]", r"\centering", r"\small", r"\begin{tabular}{lcccc}", r"\toprule",
                r"Learning rate & Seeds & Retain (initial $\to$ final) & Forget (initial $\to$ final) & Retain kept \\",
                r"\midrule"]
        for r in s["rows"]:
            cells = [fmt_lr(r["lr"]), str(r["n_seeds"]), _change(r, "retain", "--", r"$\to$"),
                     _change(r, "forget", "--", r"$\to$"), _tex_escape(_kept(r))]
            if r["selected_by"]:
                cells = [rf"\textbf{{{c}}}" for c in cells]
            out.append(" & ".join(cells) + r" \\")
        selected = _selected_text(s)
        selected = f"selected {selected} (bold)" if s["selected_lrs"] else selected
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
            plotting.clip_outliers(axes[i])  # a row shares its measure; GradDiff's Korean CE reaches 35 in (a)
        counts = [r["n_seeds"] for s in all_sweeps for r in s["rows"]]
        seeds = (f"{plotting.seeds_text(counts)}: median line, band min–max; " if max(counts) > 1 else "")
        paths = plotting.finish(fig, out_base, f"Figure 3: unlearning learning-rate sweeps (scale: "
                                f"{results.get('scale', '?')}; {seeds}thick: lr selected by undo.selection"
                                f"{' for some seed' if max(counts) > 1 else ''})")
    finally:
        plotting.plt.close(fig)
    paths += plotting.write_texts(out_base, {".md": markdown(results, all_sweeps), ".tex": latex(results, all_sweeps)})
    return paths


def main(argv: list[str] | None = None) -> None:
    plotting.script_main(draw, __doc__, argv)


if __name__ == "__main__":
    main()
