"""Figure 2 (Section 3): matching oracle behaviour doesn't guarantee robust unlearning, drawn from a stored results JSON.

Panels in the paper's order: (a) the forward KL to the Oracle Teacher during distillation for Student (Reference)
and Student (Random), every setting in one panel (line style per setting); then one panel per setting, language
first ((b) language, (c) arithmetic), with the forget performance through the relearning attack of both students
and of the Oracle Teacher, the attacker's best learning rate at each step bold, the average over learning rates
dashed. Every seed is a whole pipeline (its own oracle, students and attacks): lines are medians over seeds, bands
min–max, the KL's too. Also writes ``<out_base>.md``: the KL at the first and last logged step, and per model the
attacker-best forget performance at the last step and its mean over steps (median over seeds [min–max]), the
number of seeds, and which attacks had their learning-rate grid extended or a learning rate diverge.

Usage (from the repo root)::

    python -m undo.paper.figures.fig2 figures/mini/fig2.json figures/mini/fig2
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D  # noqa: E402

from undo.paper import analysis, plotting  # noqa: E402

MODELS = ("student_reference", "student_random", "oracle")
LABELS = {"student_reference": "Student (Reference)", "student_random": "Student (Random)", "oracle": "Oracle Teacher"}
COLORS = {"student_reference": "#d62728", "student_random": "#1f77b4", "oracle": "#222222"}


def kl_curves(results: dict, tag: str = "kl") -> dict:
    """The distillation KL of every ``<setting>/<tag>/<student>`` series over its seeds (each seed distils its own
    oracle into its own student): ``{setting: {student: {"curve", "first", "last", "steps", "n_seeds"}}}`` with the
    median/min/max curve over seeds (:func:`undo.paper.plotting.seed_curve`) and the median/min/max over seeds of the
    first and last logged KL and of the last logged step."""
    out: dict[str, dict] = {}
    for name, instances in (results.get("series") or {}).items():
        parts = name.split("/")
        if len(parts) != 3 or parts[1] != tag:
            continue
        per_seed = []
        for inst in sorted(instances, key=lambda i: plotting.seed_key(plotting.seed_of(i))):
            pts = [(r["step"], r["train/loss"]) for r in inst.get("history") or [] if "train/loss" in r]
            if pts:
                per_seed.append(([s for s, _ in pts], [v for _, v in pts]))
        if not per_seed:
            continue
        out.setdefault(parts[0], {})[parts[2]] = {
            "curve": plotting.seed_curve(per_seed), "n_seeds": len(per_seed),
            "first": plotting.seed_stats(v[0] for _, v in per_seed), "last": plotting.seed_stats(v[-1] for _, v in per_seed),
            "steps": plotting.seed_stats(s[-1] for s, _ in per_seed)}
    return out


def _grid_notes(results: dict, tag: str = "kl") -> list[str]:
    attacks = [(name, plotting.seed_of(inst), inst.get("results")) for name, instances in results["series"].items()
               if name.split("/")[1:2] != [tag] for inst in instances]
    return plotting.relearn_grid_notes(attacks)


def markdown(results: dict, kl: dict, summary: dict) -> str:
    lines = plotting.markdown_header("Figure 2: oracle matching, then relearning", results)
    counts = [k["n_seeds"] for per in kl.values() for k in per.values()]
    counts += [r["n_seeds"] for s in summary.values() for r in s["references"].values()]
    lines += ["KL: forward KL(oracle ‖ student) per token during distillation, first and last logged step. Relearning: "
              "forget performance under the attack, the attacker's best learning rate at each step; *final*: at the "
              "last evaluated step; *area*: mean over evaluated steps. Each seed is a whole pipeline (its own oracle, "
              f"students and attacks); with several seeds a cell is the median over seeds [min–max]. Seeds: "
              f"{plotting.seeds_text(counts)}.", ""]
    for setting in plotting.ordered({**kl, **summary}, plotting.SETTING_ORDER):
        lines += [f"## {setting.capitalize()}", "", "| student | seeds | KL first | KL last | steps |",
                  "|---|--:|---|---|---|"]
        for student, k in (kl.get(setting) or {}).items():
            lines.append(f"| {LABELS.get(student, student)} | {k['n_seeds']} | {plotting.fmt_seed_stats(k['first'], 4)} | "
                         f"{plotting.fmt_seed_stats(k['last'], 4)} | {plotting.fmt_seed_stats(k['steps'], 0)} |")
        s = summary.get(setting)
        if s:
            direction = "lower" if s["attacker_best"] == "max" else "higher"
            lines += ["", f"{s['measure_label']} under relearning ({direction} is more robust):", "",
                      "| model | seeds | final | area |", "|---|---|---|---|"]
            for model in plotting.ordered(s["references"], MODELS):
                r = s["references"][model]
                lines.append(f"| {LABELS.get(model, model)} | {r['n_seeds']} | {plotting.fmt_seed_stats(r['best']['final'])} | "
                             f"{plotting.fmt_seed_stats(r['best']['area'])} |")
        lines.append("")
    notes = _grid_notes(results)
    if notes:
        lines += ["Relearning attacks with an extended grid or a diverged learning rate:", "", *notes, ""]
    return "\n".join(lines)


def draw(results: dict, out_base: Path) -> list[Path]:
    """Draw Figure 2; writes ``out_base`` .png, .pdf and .md."""
    out_base = Path(out_base)
    _, summary = analysis.split_distill_series(results)  # its KL is the first seed's only: kl_curves takes them all
    kl = kl_curves(results)
    settings = plotting.ordered({**kl, **summary}, plotting.SETTING_ORDER)
    if not settings:
        raise ValueError("fig2: results have no series")
    plotting.apply_style()
    # the paper's Figure 2: (a) the distillation KL of both settings, (b, c) relearning, language then arithmetic
    fig, axes = plotting.plt.subplots(1, 1 + len(settings), figsize=(3.6 * (1 + len(settings)), 3.0), squeeze=False)
    axes = axes[0]
    try:
        ax_kl = axes[0]
        ax_kl.set_title("(a) Distillation KL", loc="left")
        styles = dict(zip(settings, ("-", "--", ":", "-."), strict=False))
        for setting in settings:
            for student, k in (kl.get(setting) or {}).items():
                plotting.plot_seed_curve(ax_kl, k["curve"], COLORS.get(student, "0.5"), label=LABELS.get(student, student),
                                         ls=styles.get(setting, "-"))
        if sum(bool(kl.get(name)) for name in settings) > 1:  # which line style is which setting
            ax_kl.legend(handles=[Line2D([], [], color="0.3", ls=styles[name], label=name.capitalize())
                                  for name in settings if kl.get(name)], loc="upper right", fontsize=6)
        ax_kl.set_yscale("log")
        ax_kl.set_xlabel("Distillation step")
        ax_kl.set_ylabel("KL(oracle ‖ student)")
        for col, setting in enumerate(settings, start=1):
            ax_rl = axes[col]
            ax_rl.set_title(f"({plotting.LETTERS[col]}) {setting.capitalize()}: relearning", loc="left")
            s = summary.get(setting)
            if s is None:
                ax_rl.text(0.5, 0.5, "not run", transform=ax_rl.transAxes, ha="center", va="center", color="0.4")
                continue
            for model in plotting.ordered(s["references"], MODELS):
                r, color = s["references"][model], COLORS.get(model, "0.5")
                best, mean = r["best"]["curve"], r["mean"]["curve"]
                if best is not None:
                    band = (best["min"], best["max"]) if r["n_seeds"] > 1 else None
                    plotting.plot_envelope(ax_rl, best["step"], best["median"], LABELS.get(model, model), color,
                                           bold=True, band=band)
                if mean is not None:
                    ax_rl.plot(mean["step"], mean["median"], color=color, lw=0.8, ls="--", alpha=0.6)
            ax_rl.set_xlabel("Relearning step")
            ax_rl.set_ylabel(s["measure_label"])
        plotting.figure_legend(fig, axes, y=-0.03)
        counts = [k["n_seeds"] for per in kl.values() for k in per.values()]
        counts += [r["n_seeds"] for s in summary.values() for r in s["references"].values()]
        title = (f"Figure 2: oracle matching (scale: {results.get('scale', '?')}; {plotting.seeds_text(counts)}); "
                 "relearning bold = attacker's best learning rate per step, dashed = average over learning rates "
                 "(median over seeds, bands min–max)")
        paths = plotting.finish(fig, out_base, title, wrap=150, rect=(0, 0.07, 1, 1))
    finally:
        plotting.plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": markdown(results, kl, summary)})


if __name__ == "__main__":
    plotting.script_main(draw, __doc__)
