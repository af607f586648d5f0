"""The claims report: each of the paper's claims checked by code against the stored results JSONs.

``undo report --scale mini`` reads ``figures/<scale>/figN.json`` (N in :data:`SOURCES`) (written by the figure stage;
nothing is trained or re-read from the artifact store) and writes ``figures/<scale>/claims.md``: one row per
claim and setting with the paper's statement, the measured numbers and the verdict. A claim whose results
JSON is missing is listed as "not run"; every number in the table is computed here, never typed by hand.

Verdicts and their rules (stated again in each row):

- Student (Reference) relearns faster than Student (Random) (Figure 2): the median over seeds of the attacker
  envelope's mean over relearning steps is on the less robust side for the reference student (equal: undetermined);
- Student (Random) relearns like the Oracle Teacher (Figure 2): on that same measure, Student (Random) is closer
  to the Oracle Teacher than Student (Reference) is;
- oracle matching drives the KL toward zero (Figure 2 a): each student's last logged KL is at most 0.1 × its first;

- robustness rises with α (Figure 5): Spearman ρ between α and the median attack value over seeds, oriented so
  that +1 means "more α, harder to relearn", is positive (the same trend as ``analysis.trend``);
- compute rises with α (Figure 5): Spearman ρ between α and the median S_UNDO / S_DataFiltering is positive;
- Unlearn-and-Distill relearns slower than Unlearn-Only (Figure 4, per method): the median over seeds of the
  attacker envelope's mean over relearning steps (its area) is on the robust side of Unlearn-Only's (equal
  values, e.g. when neither model relearns at all, are "undetermined");
- Data Filtering is the most robust (Figures 4, 5): its median attack value is at least as robust as every
  other model's;
- MaxEnt's selected learning rate keeps retain within 10% and suppresses forget (Figure 3 / App. B.1):
  ``undo.selection.select_lr`` finds an admissible rate, and at it forget accuracy falls by at least 80%
  (paper: 0.8675 → 0.0125) or forget cross-entropy at least doubles (paper: 3.4672 → 12.3808).
- α matters more than β for robustness (Figure 6): per (α, β) cell take the median over seeds of the attack value
  (the attacker's best forget performance at the final relearning step); average the cells over β for each α and
  over α for each β; a factor's spread is the max minus the min of those means (``analysis.factor_spread``). Agree
  when the spread over α is larger than the spread over β, disagree when smaller, undetermined when equal or when
  either factor has fewer than two values;
- compute is driven by α (Figure 6 (e)): the same rule on the median distillation steps of each cell; a student
  that hit the step cap without meeting the stop rule counts at the cap (a lower bound), and the row says how
  many did;
- UNDO lies on the Pareto frontier after the extensive attack (Figure 7): at least one UNDO point (one per retain
  threshold) is dominated on (retain, forget after the last attack step) by no model of another method, Data
  Filtering (the oracle) excepted; dominance is oriented per setting (:mod:`undo.pareto`);
- SAM and RepNoise end the extensive attack less robust than UNDO (Figure 7): each one's forget performance after
  the last attack step is on the relearned side of the most robust UNDO point's (equal: "undetermined").

Usage::

    from undo.claims import evaluate, markdown
    print(markdown(evaluate(Path("figures/mini")), "mini"))
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import analysis, pareto
from .names import METHOD_LABELS
from .selection import SweepPoint, select_lr

AGREE, DISAGREE, NOT_RUN, UNDETERMINED = "agree", "disagree", "not run", "undetermined"
SUPPRESS_ACC = 0.2  # forget accuracy must fall to at most 20% of its initial value
SUPPRESS_CE = 2.0  # forget cross-entropy must at least double


@dataclass(frozen=True)
class Claim:
    """One row of the report."""

    claim: str
    figure: str
    setting: str
    paper: str
    measured: str
    verdict: str


def _verdict(ok: bool | None) -> str:
    return UNDETERMINED if ok is None else (AGREE if ok else DISAGREE)


def _num(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _robust_sign(attacker_best: str) -> float:
    """Multiply an attack value by this to get a score where larger = harder to relearn."""
    return -1.0 if attacker_best == "max" else 1.0


# Figure 5 -------------------------------------------------------------------------------------------------------

FIG5_CLAIMS = {
    "robustness rises with α": "UNDO's robustness to relearning grows with the perturbation α, from Unlearn-Only "
                               "toward Data Filtering (Section 5, Figure 5).",
    "compute rises with α": "Larger α costs more distillation steps: S_UNDO / S_DataFiltering grows with α "
                            "(Section 5, Figure 5).",
    "Data Filtering is the most robust (Fig. 5)": "Data Filtering (the gold standard) relearns slowest of all "
                                                  "models (Section 5, Figure 5).",
}


def fig5_claims(results: Mapping[str, Any]) -> list[Claim]:
    rows = []
    for setting, panel in (results.get("panels") or {}).items():
        s = analysis.summarize_panel(panel)
        sign = _robust_sign(s["attacker_best"])
        undo = [g for g in s["groups"] if g["role"] == "undo" and g["alpha"] is not None and g["attack"]]
        t = analysis.trend(s)
        rob = ", ".join(f"α={g['alpha']:g}: {_num((g['robustness'] or {}).get('median'))}" for g in undo)
        att = ", ".join(f"α={g['alpha']:g}: {_num(g['attack']['median'])}" for g in undo)
        rho = t["spearman"]
        rows.append(Claim("robustness rises with α", "fig5", setting, FIG5_CLAIMS["robustness rises with α"],
                          f"Spearman ρ(α, robustness) = {_num(rho)} over {len(undo)} α (agree: ρ > 0); median "
                          f"robustness {rob or '—'}; median {s['measure_label']} after the attack {att or '—'}",
                          _verdict(None if rho is None else rho > 0)))
        with_compute = [g for g in undo if g["compute_ratio"]]
        rho_c = analysis._spearman([g["alpha"] for g in with_compute],
                                   [g["compute_ratio"]["median"] for g in with_compute])
        comp = ", ".join(f"α={g['alpha']:g}: {_num(g['compute_ratio']['median'])}" for g in with_compute)
        rows.append(Claim("compute rises with α", "fig5", setting, FIG5_CLAIMS["compute rises with α"],
                          f"Spearman ρ(α, S_UNDO/S_DF) = {_num(rho_c)} over {len(with_compute)} α (agree: ρ > 0); "
                          f"median compute ratio {comp or '—'}", _verdict(None if rho_c is None else rho_c > 0)))
        rows.append(_most_robust("Data Filtering is the most robust (Fig. 5)", "fig5", setting,
                                 {g["label"]: g["attack"]["median"] for g in s["groups"] if g["attack"]},
                                 analysis.ROLE_LABELS["data_filtering"], sign, s["measure_label"],
                                 "after the strongest attack (final step)"))
    return rows


def _most_robust(claim: str, figure: str, setting: str, values: dict[str, float], reference: str, sign: float,
                 measure_label: str, how: str) -> Claim:
    paper = FIG5_CLAIMS.get(claim) or FIG4_CLAIMS[claim]
    if reference not in values or len(values) < 2:
        return Claim(claim, figure, setting, paper, f"no {reference} or nothing to compare", NOT_RUN)
    ref = values[reference]
    others = {k: v for k, v in values.items() if k != reference}
    rival = max(others, key=lambda k: sign * others[k])
    ok = sign * ref >= sign * others[rival] - 1e-12
    return Claim(claim, figure, setting, paper,
                 f"median {measure_label} {how}: {reference} {_num(ref)}, most robust other model {rival} "
                 f"{_num(others[rival])}", _verdict(ok))


# Figure 4 -------------------------------------------------------------------------------------------------------

FIG4_CLAIMS = {
    "Unlearn-and-Distill relearns slower than Unlearn-Only": "Distilling the unlearned model into a random init "
        "makes it markedly more resistant to relearning than the unlearned model itself, for each method "
        "(Section 4, Figure 4).",
    "Data Filtering is the most robust (Fig. 4)": "Data Filtering (the gold standard) relearns slowest; "
                                                  "Unlearn-and-Distill at best approaches it (Section 4, Figure 4).",
}


def fig4_claims(results: Mapping[str, Any]) -> list[Claim]:
    rows = []
    claim = "Unlearn-and-Distill relearns slower than Unlearn-Only"
    for setting, s in analysis.summarize_series(results).items():
        sign = _robust_sign(s["attacker_best"])
        values = {}
        for method, roles in s["methods"].items():
            uo, dist = roles.get("unlearn_only"), roles.get("distill")
            where = f"{setting}/{method}"
            if uo is None or dist is None:
                rows.append(Claim(claim, "fig4", where, FIG4_CLAIMS[claim],
                                  f"missing {'Unlearn-Only' if uo is None else 'Unlearn-and-Distill'} runs", NOT_RUN))
                continue
            a_uo, a_d = uo["best"]["area"]["median"], dist["best"]["area"]["median"]
            f_uo, f_d = uo["best"]["final"]["median"], dist["best"]["final"]["median"]
            label = METHOD_LABELS.get(method, method)
            values[f"{label} Unlearn-Only"], values[f"{label} Unlearn-and-Distill"] = a_uo, a_d
            tie = math.isnan(a_uo) or math.isnan(a_d) or a_d == a_uo  # e.g. neither relearns at all: no contrast
            ok = None if tie else sign * a_d > sign * a_uo
            rows.append(Claim(claim, "fig4", where, FIG4_CLAIMS[claim],
                              f"{s['measure_label']}, attacker-best envelope, median over seeds: mean over steps "
                              f"Unlearn-and-Distill {_num(a_d)} vs Unlearn-Only {_num(a_uo)}; at the last step "
                              f"{_num(f_d)} vs {_num(f_uo)} (agree when Unlearn-and-Distill's mean is more robust; "
                              f"equal: undetermined)", _verdict(ok)))
        df = s["references"].get("data_filtering")
        if df is not None:
            values["Data Filtering"] = df["best"]["area"]["median"]
        rows.append(_most_robust("Data Filtering is the most robust (Fig. 4)", "fig4", setting, values,
                                 "Data Filtering", sign, s["measure_label"],
                                 "(attacker-best envelope, mean over steps)"))
    return rows


# Figure 3 -------------------------------------------------------------------------------------------------------

FIG3_CLAIM = "MaxEnt's selected learning rate keeps retain within 10% and suppresses forget"
FIG3_PAPER = ("At the chosen learning rate MaxEnt keeps retain performance within 10% of its start and "
              "suppresses the forget capability almost completely (App. B.1: arithmetic 9e-5, retain 0.875 → 0.795, "
              "forget 0.8675 → 0.0125; language 8e-5, forget CE 3.4672 → 12.3808).")


def fig3_claims(results: Mapping[str, Any]) -> list[Claim]:
    rows = []
    opts = results.get("options") or {}
    tolerance = float(opts.get("tolerance", 0.10))
    for name, instances in (results.get("series") or {}).items():
        setting, _, method = name.partition("/")
        if method != "maxent" or not instances:
            continue
        higher = bool(((opts.get("settings") or {}).get(setting) or {}).get("higher_is_better", True))
        points, initial_forget = [], {}
        for inst in instances:
            first, last = inst["summary"].get("eval_initial") or {}, inst["summary"].get("eval") or {}
            lr = float(inst["tags"]["lr"])
            points.append(SweepPoint(lr, first["retain"], last["retain"], last["forget"]))
            initial_forget[lr] = first["forget"]
        try:
            best = select_lr(points, tolerance=tolerance, higher_is_better=higher)
        except ValueError:
            rows.append(Claim(FIG3_CLAIM, "fig3", setting, FIG3_PAPER,
                              f"no learning rate of {len(points)} keeps retain within {tolerance:.0%}", DISAGREE))
            continue
        f0 = initial_forget[best.lr]
        if higher:
            ok, rule = best.final_forget <= SUPPRESS_ACC * f0, f"forget ≤ {SUPPRESS_ACC:g} × initial"
        else:
            ok, rule = best.final_forget >= SUPPRESS_CE * f0, f"forget CE ≥ {SUPPRESS_CE:g} × initial"
        rows.append(Claim(FIG3_CLAIM, "fig3", setting, FIG3_PAPER,
                          f"selected lr {best.lr:g} of {len(points)}: retain {_num(best.initial_retain)} → "
                          f"{_num(best.final_retain)}, forget {_num(f0)} → {_num(best.final_forget)} "
                          f"(agree: {rule})", _verdict(ok)))
    return rows


# Figure 2 -------------------------------------------------------------------------------------------------------

FIG2_CLAIMS = {
    "Student (Reference) relearns faster than Student (Random)": "The reference model matched to the oracle "
        "(Student (Reference)) quickly relearns the forget capability; the random init matched to the same oracle "
        "(Student (Random)) does not (Section 3, Figure 2 b, c).",
    "Student (Random) relearns like the Oracle Teacher": "Distilling the oracle into a random init gives a model "
        "whose relearning speed closely matches the oracle's own (Section 3, Figure 2).",
    "Oracle matching drives the distillation KL toward zero": "In both settings the distillation loss tends to "
                                                              "zero (Section 3, Figure 2 a).",
}
KL_DROP = 0.1  # "tends to zero": the last logged KL is at most this fraction of the first


def fig2_claims(results: Mapping[str, Any]) -> list[Claim]:
    rows = []
    kl, summary = analysis.split_distill_series(results)
    faster, like, zero = FIG2_CLAIMS
    for setting, s in summary.items():
        sign = _robust_sign(s["attacker_best"])
        area = {m: r["best"]["area"]["median"] for m, r in s["references"].items()}
        final = {m: r["best"]["final"]["median"] for m, r in s["references"].items()}
        ref, rnd, orc = area.get("student_reference"), area.get("student_random"), area.get("oracle")
        how = f"{s['measure_label']}, attacker-best envelope, median over seeds, mean over steps (final step)"
        if ref is None or rnd is None:
            rows.append(Claim(faster, "fig2", setting, FIG2_CLAIMS[faster], "missing a student's relearning runs",
                              NOT_RUN))
        else:
            tie = math.isnan(ref) or math.isnan(rnd) or ref == rnd
            rows.append(Claim(faster, "fig2", setting, FIG2_CLAIMS[faster],
                              f"{how}: Student (Reference) {_num(ref)} ({_num(final['student_reference'])}) vs "
                              f"Student (Random) {_num(rnd)} ({_num(final['student_random'])}) (agree when the "
                              "reference student's mean is less robust)", _verdict(None if tie else sign * ref < sign * rnd)))
        if ref is None or rnd is None or orc is None:
            rows.append(Claim(like, "fig2", setting, FIG2_CLAIMS[like], "missing relearning runs", NOT_RUN))
        else:
            rows.append(Claim(like, "fig2", setting, FIG2_CLAIMS[like],
                              f"{how}: Oracle Teacher {_num(orc)} ({_num(final['oracle'])}); |Random − Oracle| = "
                              f"{_num(abs(rnd - orc))} vs |Reference − Oracle| = {_num(abs(ref - orc))} (agree when "
                              "Student (Random) is the closer one)", _verdict(abs(rnd - orc) < abs(ref - orc))))
    for setting, students in kl.items():
        parts, oks = [], []
        for student, pts in students.items():
            if len(pts) < 2:
                continue
            first, last = pts[0][1], pts[-1][1]
            oks.append(last <= KL_DROP * first)
            parts.append(f"{student.replace('_', ' ')}: {_num(first)} → {_num(last)} (step {pts[-1][0]})")
        rows.append(Claim(zero, "fig2", setting, FIG2_CLAIMS[zero],
                          f"KL per token, first → last logged: {'; '.join(parts) or '—'} (agree when every student "
                          f"ends at ≤ {KL_DROP:g} × its first KL)", _verdict(all(oks)) if oks else NOT_RUN))
    return rows


# Figure 6 -------------------------------------------------------------------------------------------------------

FIG6_CLAIMS = {
    "α matters more than β": "Changes in mixing coefficient (α) produce a more pronounced effect on robustness than "
                             "the noise scale (β), which has a less significant impact (Section 5, Figure 6 (a-d)).",
    "compute is driven by α": "The computational cost matrix confirms that α is the primary driver of compute "
                              "requirements, with higher values often requiring more distillation steps "
                              "(Section 5, Figure 6 (e)).",
}


def _spread_claim(claim: str, setting: str, values: dict, what: str, fmt: str, extra: str = "") -> Claim:
    spread = analysis.factor_spread(values)
    a, b = spread["alpha"]["spread"], spread["beta"]["spread"]
    if a is None or b is None:
        return Claim(claim, "fig6", setting, FIG6_CLAIMS[claim],
                     f"{len(spread['alpha']['means'])} α × {len(spread['beta']['means'])} β values: a spread needs "
                     "at least two of each", UNDETERMINED)
    note = "" if spread["complete"] else "; incomplete grid"
    return Claim(claim, "fig6", setting, FIG6_CLAIMS[claim],
                 f"{what}: spread (max − min of the means) over α {format(a, fmt)} vs over β {format(b, fmt)} "
                 f"(agree: α's is larger; equal: undetermined); means over β {_means(spread, 'alpha', fmt)}; "
                 f"means over α {_means(spread, 'beta', fmt)}{note}{extra}", _verdict(None if a == b else a > b))


def _means(spread: dict, factor: str, fmt: str) -> str:
    symbol = {"alpha": "α", "beta": "β"}[factor]
    return ", ".join(f"{symbol}={k:g}: {format(v, fmt)}" for k, v in spread[factor]["means"].items())


def fig6_claims(results: Mapping[str, Any]) -> list[Claim]:
    rows = []
    for setting, s in analysis.summarize_grid(results).items():
        if not s["cells"]:
            continue
        attack = {(c["alpha"], c["beta"]): c["attack"]["median"] for c in s["cells"] if c["attack"]}
        rows.append(_spread_claim("α matters more than β", setting, attack,
                                  f"median {s['measure_label']} after the strongest attack (final step)", ".3g"))
        steps = {(c["alpha"], c["beta"]): c["steps"]["median"] for c in s["cells"] if c["steps"]}
        capped = sum(c["capped"] for c in s["cells"])
        seeds = sum(c["n_seeds"] for c in s["cells"])
        rows.append(_spread_claim("compute is driven by α", setting, steps, "median distillation steps", ".0f",
                                  f"; {capped} of {seeds} students hit the step cap without the stop rule "
                                  "(counted at the cap)"))
    return rows


# Figure 7 -------------------------------------------------------------------------------------------------------

FIG7_FRONTIER = "UNDO lies on the Pareto frontier after the extensive attack"
FIG7_ROBUST = "SAM and RepNoise end the extensive attack less robust than UNDO"
FIG7_CLAIMS = {
    FIG7_FRONTIER: "After extensive relearning, UNDO (MaxEnt, α=0.6, β=0.1, several retain thresholds) sets a new "
                   "Pareto frontier of retain vs robust forget performance; no other method beats it on both, only "
                   "Data Filtering approaches it (Section 6, Figure 7 (c, f)).",
    FIG7_ROBUST: "Methods designed for robustness (SAM, RepNoise) deteriorate markedly under stronger relearning "
                 "attacks, while UNDO stays robust across all attack strengths (Section 6, Figure 7).",
}


def _point_text(p: Mapping, budget: str) -> str:
    return f"{p['label']} (retain {_num(p['retain'])}, forget {_num(p['forget'][budget])})"


def fig7_claims(results: Mapping[str, Any]) -> list[Claim]:
    rows = []
    for setting, s in pareto.setting_points(results).items():
        points = s["points"]
        undo = [p for p in points if p["method"] == "undo"]
        rivals = [p for p in points if p["method"] not in ("undo", pareto.REFERENCE)]
        step = points[0]["step"]["long"] if points else None
        if not undo or not rivals:
            missing = "UNDO" if not undo else "other methods"
            rows.append(Claim(FIG7_FRONTIER, "fig7", setting, FIG7_CLAIMS[FIG7_FRONTIER], f"no {missing} in fig7.json",
                              NOT_RUN))
        else:
            parts, free = [], []
            for u in undo:
                by = pareto.dominated_by(u, rivals, s, "long")
                if not by:
                    free.append(u)
                parts.append(f"{_point_text(u, 'long')}: " +
                             ("not dominated" if not by else "dominated by " + ", ".join(p["label"] for p in by)))
            rows.append(Claim(FIG7_FRONTIER, "fig7", setting, FIG7_CLAIMS[FIG7_FRONTIER],
                              f"after {step} attack steps ({s['forget_label']}, {s['retain_label']}): " + "; ".join(parts)
                              + " (agree: at least one UNDO point is dominated by no other method's, Data Filtering "
                                "excepted)", _verdict(bool(free))))
        sign = _robust_sign(s["attacker_best"])
        robust = [p for p in points if p["method"] in ("sam", "repnoise")]
        if not undo or not robust:
            rows.append(Claim(FIG7_ROBUST, "fig7", setting, FIG7_CLAIMS[FIG7_ROBUST],
                              f"no {'UNDO' if not undo else 'SAM or RepNoise'} in fig7.json", NOT_RUN))
            continue
        best_undo = max(undo, key=lambda p: sign * p["forget"]["long"])
        b = sign * best_undo["forget"]["long"]
        ties = any(sign * p["forget"]["long"] == b or math.isnan(p["forget"]["long"]) for p in robust)
        ok = None if ties else all(sign * p["forget"]["long"] < b for p in robust)
        rows.append(Claim(FIG7_ROBUST, "fig7", setting, FIG7_CLAIMS[FIG7_ROBUST],
                          f"{s['forget_label']} before → after {step} attack steps: " +
                          ", ".join(f"{p['label']} {_num(p['forget']['initial'])} → {_num(p['forget']['long'])}"
                                    for p in robust) +
                          f"; most robust UNDO point {best_undo['label']} {_num(best_undo['forget']['initial'])} → "
                          f"{_num(best_undo['forget']['long'])} (agree: each of SAM, RepNoise ends less robust; "
                          "equal: undetermined)", _verdict(ok)))
    return rows


# Report ---------------------------------------------------------------------------------------------------------

SOURCES = {"fig2": (fig2_claims, list(FIG2_CLAIMS)),
           "fig3": (fig3_claims, [FIG3_CLAIM]),
           "fig4": (fig4_claims, list(FIG4_CLAIMS)),
           "fig5": (fig5_claims, list(FIG5_CLAIMS)),
           "fig6": (fig6_claims, list(FIG6_CLAIMS)),
           "fig7": (fig7_claims, list(FIG7_CLAIMS))}
PAPER = {**FIG2_CLAIMS, FIG3_CLAIM: FIG3_PAPER, **FIG4_CLAIMS, **FIG5_CLAIMS, **FIG6_CLAIMS, **FIG7_CLAIMS}


def evaluate(fig_dir: Path) -> list[Claim]:
    """Every claim against the results JSONs in ``fig_dir``; claims without results are "not run"."""
    rows: list[Claim] = []
    for figure, (fn, names) in SOURCES.items():
        path = Path(fig_dir) / f"{figure}.json"
        got = fn(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []
        seen = {r.claim for r in got}
        rows += got
        rows += [Claim(n, figure, "—", PAPER[n], f"no {path.name}: run `make {figure}`", NOT_RUN)
                 for n in names if n not in seen]
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(claims: list[Claim], scale: str) -> str:
    counts = {v: sum(c.verdict == v for c in claims) for v in (AGREE, DISAGREE, UNDETERMINED, NOT_RUN)}
    lines = [f"# Claims of the paper against the stored results (scale: {scale})", "",
             "Written by `undo report` from figures/" + scale + "/{" + ",".join(SOURCES) + "}.json; every number is computed "
             "from those results (undo/claims.py states each rule). Mini and smoke scales use tiny models and "
             "short runs, so a disagreement there is reported, not tuned away.", "",
             "Verdicts: " + ", ".join(f"{v} {n}" for v, n in counts.items()) + ".", "",
             "| claim | figure | setting | paper | measured | verdict |", "|---|---|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {_cell(c.claim)} | {c.figure} | {c.setting} | {_cell(c.paper)} | {_cell(c.measured)} | "
                     f"**{c.verdict}** |")
    return "\n".join(lines) + "\n"


def write_report(fig_dir: Path, scale: str) -> tuple[Path, list[Claim]]:
    """Evaluate and write ``fig_dir/claims.md``; returns its path and the claims."""
    claims = evaluate(fig_dir)
    out = Path(fig_dir) / "claims.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(markdown(claims, scale), encoding="utf-8")
    tmp.replace(out)
    return out, claims
