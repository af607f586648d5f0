"""Table 13 (App. D.2.7): retain accuracy after UNDO's distillation for each shrinkage alpha (beta = 0), drawn from a
stored results JSON.

Series ``distilled`` holds the distillations of the teacher shrunk by each alpha (tag ``alpha``), one per seed;
``teacher`` the teacher itself. A row per alpha: MMLU accuracy (the retain stand-in at mini/smoke) after
distillation, median over seeds [min–max], next to the paper's gemma-2-2b value. Writes ``<out_base>.md`` and
``.tex`` (the table) and ``.png``/``.pdf`` (retain against alpha).

Usage (from the repo root)::

    python -m undo.paper.figures.tab13 figures/mini/tab13.json figures/mini/tab13
"""

from __future__ import annotations

from pathlib import Path

from undo.paper import plotting

PAPER = {0.0: 0.55, 0.25: 0.49, 0.35: 0.37, 0.6: 0.25}  # Table 13, gemma-2-2b


def rows(results: dict) -> list[dict]:
    """One row per alpha: the distilled students' final retain accuracy over seeds."""
    by_alpha: dict[float, list[float]] = {}
    for inst in results["series"].get("distilled", []):
        alpha = float(inst["tags"]["alpha"])
        retain = (inst["summary"].get("eval") or {}).get("retain")
        by_alpha.setdefault(alpha, []).append(retain)
    if not by_alpha:
        raise ValueError("tab13: results need a 'distilled' series with alpha tags")
    return [{"alpha": a, "retain": plotting.seed_stats(v), "paper": PAPER.get(a)} for a, v in sorted(by_alpha.items())]


def teacher_retain(results: dict) -> dict | None:
    values = [(inst["summary"].get("eval") or {}).get("retain") for inst in results["series"].get("teacher", [])]
    return plotting.seed_stats(values)


def markdown(results: dict, table: list[dict]) -> str:
    lines = plotting.markdown_header("Table 13: retain accuracy after distillation, by shrinkage alpha", results)
    teacher = teacher_retain(results)
    lines += ["Retain (MMLU; the stand-in's general-knowledge items at mini/smoke) of the teacher shrunk by alpha "
              "(beta = 0) and distilled back, median over seeds [min–max]"
              + (f"; the teacher itself: {plotting.fmt_seed_stats(teacher)}" if teacher else "") + ".", "",
              "| alpha | retain after distillation | paper (gemma-2-2b) |", "|--:|--:|--:|"]
    for row in table:
        paper = f"{row['paper']:.2f}" if row["paper"] is not None else "—"
        lines.append(f"| {row['alpha']:g} | {plotting.fmt_seed_stats(row['retain'])} | {paper} |")
    return "\n".join(lines) + "\n"


def latex(results: dict, table: list[dict]) -> str:
    out = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{rrr}", r"\toprule",
           r"$\alpha$ & retain after distillation & paper (gemma-2-2b) \\", r"\midrule"]
    for row in table:
        paper = f"{row['paper']:.2f}" if row["paper"] is not None else "--"
        out.append(f"{row['alpha']:g} & {plotting.fmt_seed_stats(row['retain'], dash='--')} & {paper} " + r"\\")
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{Retain accuracy after UNDO's distillation by shrinkage $\alpha$ ($\beta = 0$), scale "
            rf"{results.get('scale', '?')}; median over seeds [min--max].}}", r"\label{tab:wmdp-alpha}",
            r"\end{table}"]
    return "\n".join(out) + "\n"


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Table 13; writes ``out_base`` .md, .tex, .png and .pdf."""
    out_base = Path(out_base)
    table = rows(results)
    plotting.apply_style()
    fig, ax = plotting.plt.subplots(figsize=(4.6, 3.2))
    try:
        alphas = [r["alpha"] for r in table]
        med = [r["retain"]["median"] if r["retain"] else float("nan") for r in table]
        lo = [m - r["retain"]["min"] if r["retain"] else 0.0 for m, r in zip(med, table, strict=True)]
        hi = [r["retain"]["max"] - m if r["retain"] else 0.0 for m, r in zip(med, table, strict=True)]
        ax.errorbar(alphas, med, yerr=[lo, hi], marker="o", color="#1f77b4", capsize=3, label="this run")
        teacher = teacher_retain(results)
        if teacher:
            ax.axhline(teacher["median"], color="0.4", lw=0.8, ls="--", label="teacher")
        ax.set_xlabel("shrinkage alpha (beta = 0)")
        ax.set_ylabel("retain accuracy after distillation")
        ax.legend(fontsize=7)
        paths = plotting.finish(fig, out_base, f"Table 13: retain after distillation by alpha "
                                               f"(scale: {results.get('scale', '?')})", wrap=60)
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, table), ".tex": latex(results, table)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
