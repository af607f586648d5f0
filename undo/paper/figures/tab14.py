"""Table 14 (App. F.2): the quantization attack on TOFU, drawn from a stored results JSON.

Series ``<family>/quantize`` hold, per model (tag ``model``: the finetuned model, the GradDiff-unlearned one, its
distillation and the control that never saw TOFU) and seed, the metrics at every precision mode: full precision and
each 4-bit mode (``undo.paper.tofu.MODE_LABELS``: bitsandbytes FP4, as Zhang et al. ran the attack, NF4 and
round-to-nearest INT4). A row per family, model and mode: forget Q&A probability, forget truth ratio and model
utility (median over seeds [min–max]), the backend that ran the mode (``bitsandbytes`` or ``torch``) and, for the
Gemma GradDiff rows at full precision and bnb FP4, the paper's Gemma-2-2B values (FP16 / INT4). Writes
``<out_base>.md`` and ``.tex`` (the table) and ``.png``/``.pdf`` (the forget truth ratio per model, a bar per mode).

Usage (from the repo root)::

    python -m undo.paper.figures.tab14 figures/mini/tab14.json figures/mini/tab14
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from undo.paper import plotting, tofu

ROLE_ORDER = ("finetune", "unlearn", "distill", "control")
# Table 14 (Gemma-2-2B): forget Q&A prob., forget truth ratio, model utility at FP16 and INT4 (bnb FP4, the attack's)
PAPER = {("unlearn", "none"): (0.000, 0.000, 0.495), ("unlearn", "bnb-fp4"): (0.008, 0.185, 0.242),
         ("distill", "none"): (0.000, 0.001, 0.442), ("distill", "bnb-fp4"): (0.003, 0.017, 0.391)}
PAPER_FAMILY = "gemma"
PAPER_PRECISION = {"none": "FP16", "bnb-fp4": "INT4"}
MODE_COLORS = {"none": "0.35", "bnb-fp4": "#d62728", "bnb-nf4": "#ff7f0e", "rtn-int4": "#9467bd"}


def rows(results: dict) -> list[dict]:
    """One row per family, model and precision mode: the metrics over seeds, the backends that ran, the paper's."""
    series = results.get("series") or {}
    fams = tofu.families(series)
    if not fams:
        raise ValueError("tab14: results have no series (expected <family>/quantize)")
    return [row for family in fams for row in _family(tofu.needed(series, f"{family}/quantize", "tab14"), family)]


def _family(instances: list, family: str) -> list[dict]:
    table = tofu.quantized(instances)
    if not table:
        raise ValueError(f"tab14: series '{family}/quantize' holds no precision modes (summary.modes)")
    out = []
    for role in plotting.ordered(table, ROLE_ORDER):
        for mode in plotting.ordered(table[role], tofu.MODE_LABELS):
            by_seed = table[role][mode]
            out.append({"family": family, "role": role, "mode": mode, "seeds": len(by_seed),
                        "stats": {m: plotting.seed_stats(v.get(m) for v in by_seed.values())
                                  for m in tofu.TABLE_METRICS},
                        "backend": ", ".join(sorted({str(v.get("backend")) for v in by_seed.values()})),
                        "paper": PAPER.get((role, mode)) if family == PAPER_FAMILY else None})
    return out


def _paper_cell(row: dict) -> str:
    if row["paper"] is None:
        return "—"
    return f"{PAPER_PRECISION[row['mode']]}: " + " / ".join(f"{v:.3f}" for v in row["paper"])


def markdown(results: dict, table: list[dict]) -> str:
    lines = plotting.markdown_header("Table 14: quantization attack on TOFU", results)
    lines += ["Each model's metrics at full precision and quantized to 4 bits, median over seeds [min–max]; lower forget "
              "metrics = better unlearning. Backend: what ran the mode (bitsandbytes' kernels, or the kit's torch "
              "quantizer). Paper: Gemma-2-2B's Table 14 (forget Q&A prob. / forget truth ratio / model utility; its "
              "INT4 is bitsandbytes FP4, the attack paper's default).", "",
              "| family | model | precision | seeds | " + " | ".join(tofu.METRIC_LABELS[m] for m in tofu.TABLE_METRICS)
              + " | backend | paper (Gemma-2-2B) |", "|---|---|---|--:|--:|--:|--:|---|---|"]
    for row in table:
        cells = [plotting.fmt_seed_stats(row["stats"][m]) for m in tofu.TABLE_METRICS]
        lines.append(f"| {tofu.FAMILY_LABELS.get(row['family'], row['family'])} | {tofu.ROLE_LABELS[row['role']]} | "
                     f"{tofu.MODE_LABELS.get(row['mode'], row['mode'])} | {row['seeds']} | " + " | ".join(cells)
                     + f" | {row['backend']} | {_paper_cell(row)} |")
    return "\n".join(lines) + "\n"


def latex(results: dict, table: list[dict]) -> str:
    head = " & ".join(tofu.METRIC_LABELS[m].replace("&", r"\&") for m in tofu.TABLE_METRICS)
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{lllrrrll}", r"\toprule",
           rf"Family & Model & Precision & {head} & Backend & Paper (Gemma-2-2B) \\", r"\midrule"]
    for i, row in enumerate(table):
        if i and row["family"] != table[i - 1]["family"]:
            out.append(r"\midrule")
        cells = [plotting.fmt_seed_stats(row["stats"][m], dash="--") for m in tofu.TABLE_METRICS]
        paper = _paper_cell(row).replace("—", "--")
        out.append(f"{tofu.FAMILY_LABELS.get(row['family'], row['family'])} & {tofu.ROLE_LABELS[row['role']]} & "
                   f"{tofu.MODE_LABELS.get(row['mode'], row['mode'])} & " + " & ".join(cells)
                   + f" & {row['backend']} & {paper} " + r"\\")
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{Quantization attack on TOFU, scale {results.get('scale', '?')}: forget Q\&A probability, forget "
            r"truth ratio and model utility at full precision and 4 bits (median over seeds [min--max]; lower forget "
            r"metrics = better unlearning), the backend that ran each mode, and the paper's Gemma-2-2B values "
            r"(FP16 / INT4 = bitsandbytes FP4).}", r"\label{tab:tofu-quantization}", r"\end{table}"]
    return "\n".join(out) + "\n"


def _bars(ax, rows_: list[dict], family: str, index: int) -> None:
    """The forget truth ratio per model, a bar per precision mode (median, min–max whiskers), the paper's as x."""
    roles = plotting.ordered([r["role"] for r in rows_], ROLE_ORDER)
    modes = plotting.ordered([r["mode"] for r in rows_], tofu.MODE_LABELS)
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        xs, med, err = [], [], [[], []]
        for i, role in enumerate(roles):
            row = next((r for r in rows_ if r["role"] == role and r["mode"] == mode), None)
            st = row and row["stats"]["forget_truth_ratio"]
            if not st:
                continue
            xs.append(i + (j - (len(modes) - 1) / 2) * width)
            med.append(st["median"])
            err[0].append(st["median"] - st["min"])
            err[1].append(st["max"] - st["median"])
            if row["paper"] is not None:
                ax.plot(xs[-1], row["paper"][1], marker="x", color="k", ms=5, mew=1.2, ls="none", zorder=5,
                        clip_on=False, label="paper (Gemma-2-2B)")
        ax.bar(xs, med, width * 0.95, yerr=err, capsize=2, color=MODE_COLORS.get(mode, "0.6"),
               label=tofu.MODE_LABELS.get(mode, mode), error_kw={"lw": 0.8})
    ax.set_xticks(np.arange(len(roles)), [tofu.ROLE_LABELS[r].replace(" + ", " +\n") for r in roles])
    ax.set_ylabel("forget truth ratio (lower = better unlearning)")
    ax.set_title(f"({plotting.LETTERS[index]}) {tofu.FAMILY_LABELS.get(family, family)}", loc="left")


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Table 14; writes ``out_base`` .md, .tex, .png and .pdf."""
    out_base = Path(out_base)
    table = rows(results)
    fams = list(dict.fromkeys(r["family"] for r in table))
    plotting.apply_style()
    fig, axes = plotting.plt.subplots(1, len(fams), figsize=(4.8 * len(fams), 3.4), squeeze=False)
    try:
        for index, family in enumerate(fams):
            _bars(axes[0][index], [r for r in table if r["family"] == family], family, index)
        plotting.figure_legend(fig, axes, y=-0.02)
        title = (f"Table 14: quantization attack on TOFU, forget truth ratio (scale: {results.get('scale', '?')}; "
                 "median over seeds, whiskers min–max)")
        paths = plotting.finish(fig, out_base, title, wrap=55 * len(fams), rect=(0, 0.06, 1, 1))
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, table), ".tex": latex(results, table)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
