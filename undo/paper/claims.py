"""The claims report: each of the paper's claims checked by code against the stored results JSONs.

``undo report --scale mini`` reads ``figures/<scale>/figN.json`` (written by the figure stages; nothing is
trained or read from the artifact store) and writes ``figures/<scale>/claims.md``: one row per claim and
setting with the paper's words, the measured numbers, the rule with its margin, and the verdict. A claim
whose results are missing is "not run". Every number is computed here, never typed by hand.

How a verdict is reached (fixed before any result it judges)
------------------------------------------------------------

A figure's seeds are whole pipelines (seed i: reference and oracle i, teacher i, students i, attacks i), so
each claim is first measured **per seed**, as a statistic d_i oriented so that "d_i > margin" means seed i
shows the claimed effect. Then:

- **agree**: every seed shows it (d_i > margin for all i; with n seeds, a one-sided sign test at p = 2^-n,
  0.125 for three seeds);
- **disagree**: no seed shows it (d_i <= margin for all i);
- **undetermined**: the seeds split, or fewer than two seeds are left (e.g. after leaving out capped students).

The margin is the evaluation's resolution unless a rule says otherwise: one fact in a hundred for
arithmetic accuracy (0.01; the forget evaluation scores 100 multiplication/division facts), 0.01 nats of
held-out cross-entropy for language. Differences inside it are ties, never evidence.

Robustness scores: the attacker's best learning rate per step (the paper's bold line) is read at the last
step ("final") or averaged over steps ("area"); oriented so that larger = harder to relearn (lower accuracy,
higher cross-entropy). A *capped* UNDO student (it hit its step cap without meeting its stop rule, so it is
weaker than its teacher on retain) is left out of every robustness rule; the row says how many were.
"Matches Data Filtering" means a robustness ratio (P - P_UnlearnOnly) / (P_DataFiltering - P_UnlearnOnly)
of at least ``MATCH`` (0.9) in the same seed.

The rules (statistic d_i per seed; the paper's wording is in each row):

- Fig. 2, Student (Reference) relearns faster than Student (Random): area(Random) - area(Reference).
- Fig. 2, Student (Random) relearns like the Oracle Teacher: |area(Reference) - area(Oracle)| -
  |area(Random) - area(Oracle)| (Random is the closer one).
- Fig. 2, the distillation KL tends to zero: 0.1 - (last KL / first KL), worst student of the seed; margin 0.
- Fig. 3, MaxEnt suppresses forget at a rate that keeps retain within 10%: the selection rule picks an
  admissible rate (none: the seed fails), and at it forget accuracy falls to at most 0.2x its start
  (d = 0.2 f0 - f) or forget cross-entropy at least doubles (d = f - 2 f0); margin 0. The 10% condition is
  the selection's constraint, so the test is whether an admissible rate exists and suppresses.
- Section 2 premise, a relearning attack reverts unlearning: (elicited - after unlearning) / (before
  unlearning - after unlearning) - 0.5 for Unlearn-Only MaxEnt: the attack gets back at least half of what
  unlearning suppressed; margin 0. Reported with the attack's saturation: the best-rate envelope's gain over
  the last quarter of the attack.
- Fig. 4, Unlearn-and-Distill relearns slower than Unlearn-Only (per method): score(Unlearn-and-Distill) -
  score(Unlearn-Only) at the last attack step. Fig. 10: the same on the average over learning rates.
- Fig. 4, in some cases Unlearn-and-Distill approaches Data Filtering: per method, the robustness ratio of
  Unlearn-and-Distill at the last step - MATCH; agree when some method's every seed is above it, disagree when
  no method's seed is, undetermined otherwise; margin 0.
- Fig. 5, robustness rises with α: Spearman rho(α, final robustness score) over the seed's uncapped
  students (at least three α); margin 0. Compute rises with α: rho(α, distillation steps), capped students
  counted at their cap (a lower bound); margin 0.
- Fig. 5, at its strongest setting UNDO matches Data Filtering: at the largest α with at least two uncapped
  seeds, robustness - MATCH; margin 0.
- Abstract, UNDO matches Data Filtering with 60-80% of its compute: at the smallest α whose uncapped seeds
  all reach robustness >= MATCH, 0.8 - S_UNDO / S_DataFiltering per seed (at most 80% of the data-filtered
  model's training steps); no such α: every seed fails; margin 0.
- Fig. 6, α matters more than β: from the 2 x 2 corners of the grid (smallest and largest α and β), the
  α main effect |mean over β of score(α_max) - score(α_min)| minus the β main effect, final scores; a seed
  with a capped corner is left out. Compute is driven by α: the same on distillation steps (capped at cap).
- Section 5, lower β works as well as or better than β = 1.0 (language): mean over α of score(β_min) -
  score(β = 1.0), shown when >= -margin; capped pairs left out.
- Fig. 7, UNDO is on the Pareto frontier after the extensive attack: the UNDO point with the tightest retain
  threshold (the one closest to its teacher on retain, so no trade of retain for robustness) is dominated by
  no other method (Data Filtering excepted): against each it has more retain or a robust forget score better
  by more than the margin; d = +1 if so, -1 if not.
- Fig. 7, SAM and RepNoise end the extensive attack less robust than UNDO: score(UNDO, tightest threshold) -
  max(score(SAM), score(RepNoise)) after the last attack step. Moderate attack (Fig. 7 b, e): the same against
  GradDiff and MaxEnt after ``moderate_step``.

Two rules were changed after a one-seed pilot run (seed 7, not one of the figures' seeds) and before the
figures' run: Figure 4/10's "relearns slower" read the envelope's mean over steps, which counts the unlearned
model's own starting value (language GradDiff starts at a Korean CE of ~38, so its mean stays high however
fast it relearns); it now reads the last attack step. Figure 7's rule compared models within 10% of the
reference's retain, which no UNDO student can meet when its teacher already sits near that edge (they are
distilled to within 5% of the teacher); it is now the Pareto test above.

Usage::

    from undo.paper.claims import evaluate, markdown
    print(markdown(evaluate(Path("figures/mini")), "mini"))
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..selection import SweepPoint, select_lr
from . import analysis, pareto
from .names import METHOD_LABELS

AGREE, DISAGREE, NOT_RUN, UNDETERMINED = "agree", "disagree", "not run", "undetermined"
RESOLUTION = {"arithmetic": 0.01, "language": 0.01}  # one fact in a hundred; 0.01 nats
DEFAULT_RESOLUTION = 0.01
MATCH = 0.9  # "matches Data Filtering": at least 90% of the way from Unlearn-Only to Data Filtering
MIN_SEEDS = 2
SUPPRESS_ACC, SUPPRESS_CE = 0.2, 2.0  # forget accuracy to <= 0.2x its start; forget CE to >= 2x
KL_DROP = 0.1  # "tends to zero": the last logged KL at most 0.1x the first
RECOVERED = 0.5  # the attack gets back at least half of what unlearning suppressed


@dataclass(frozen=True)
class Claim:
    """One row of the report."""

    claim: str
    figure: str
    setting: str
    paper: str
    measured: str
    verdict: str
    rule: str = ""


@dataclass(frozen=True)
class Verdict:
    verdict: str
    rule: str


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "none" if x < 0 else "∞"
    return f"{x:+.3g}" if isinstance(x, float) else str(x)


def seedwise(values: Mapping[Any, float | None], margin: float, shows: str = ">") -> Verdict:
    """The verdict from per-seed statistics (module docstring): agree when every seed shows the effect,
    disagree when none does, undetermined when they split or fewer than two seeds have a value."""
    vals = {s: v for s, v in values.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}
    test = (lambda d: d > margin) if shows == ">" else (lambda d: d >= -margin)
    per = ", ".join(f"seed {s}: {_num(float(v))}" for s, v in vals.items())
    bound = f"> {margin:g}" if shows == ">" else f">= -{margin:g}"
    rule = f"d per seed [{per or 'none'}]; agree when every seed has d {bound}, disagree when none does"
    if len(vals) < MIN_SEEDS:
        return Verdict(UNDETERMINED, rule + f" (fewer than {MIN_SEEDS} seeds)")
    ok = [test(float(v)) for v in vals.values()]
    return Verdict(AGREE if all(ok) else DISAGREE if not any(ok) else UNDETERMINED, rule)


def _sign(best: str) -> float:
    """Multiply an attack value by this for a score where larger = harder to relearn."""
    return -1.0 if best == "max" else 1.0


def _seed(inst: Mapping) -> Any:
    return (inst.get("tags") or {}).get("seed")


def _attack(inst: Mapping, best: str, stat: str = "best") -> dict:
    """One attacked model: the attacker's envelope (or the learning-rate average) as steps and values."""
    curves = (inst.get("results") or {}).get("curves") or {}
    if stat == "best":
        steps, values, _ = analysis.envelope(curves, "forget", best)
    else:
        steps, values = analysis.lr_average(curves, "forget")
    finite = [v for v in values if not math.isnan(v)]
    return {"steps": steps, "values": values, "final": values[-1],
            "area": float(np.mean(finite)) if finite else math.nan}


def _by_seed(instances, best: str, stat: str = "best") -> dict:
    return {_seed(i): _attack(i, best, stat) for i in instances or []}


def _setting_opts(results: Mapping, setting: str) -> dict:
    return ((results.get("options") or {}).get("settings") or {}).get(setting) or {}


def _res(setting: str) -> float:
    return RESOLUTION.get(setting, DEFAULT_RESOLUTION)


def _spearman(x, y) -> float | None:
    return analysis._spearman(x, y)


def _row(claim: str, figure: str, setting: str, paper: str, measured: str, v: Verdict) -> Claim:
    return Claim(claim, figure, setting, paper, measured, v.verdict, v.rule)


def _not_run(claim: str, figure: str, setting: str, paper: str, why: str) -> Claim:
    return Claim(claim, figure, setting, paper, why, NOT_RUN, "")


# Figure 2 -------------------------------------------------------------------------------------------------------

FIG2 = {
    "Student (Reference) relearns faster than Student (Random)": "The reference model matched to the oracle "
        "quickly relearns the forget capability; the random init matched to the same oracle does not "
        "(Section 3, Figure 2 b, c).",
    "Student (Random) relearns like the Oracle Teacher": "Distilling the oracle into a random init gives a model "
        "whose relearning speed closely matches the oracle's own (Section 3, Figure 2).",
    "Oracle matching drives the distillation KL toward zero": "In both settings the distillation loss tends to "
        "zero (Section 3, Figure 2 a).",
}


def fig2_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    series = results.get("series") or {}
    faster, like, zero = FIG2
    settings = list(dict.fromkeys(name.split("/")[0] for name in series))
    for setting in settings:
        best = analysis.attacker_best(_setting_opts(results, setting))
        sign, m = _sign(best), _res(setting)
        ref = _by_seed(series.get(f"{setting}/student_reference"), best)
        rnd = _by_seed(series.get(f"{setting}/student_random"), best)
        orc = _by_seed(series.get(f"{setting}/oracle"), best)
        seeds = [s for s in ref if s in rnd]
        if not seeds:
            rows.append(_not_run(faster, "fig2", setting, FIG2[faster], "missing a student's relearning runs"))
        else:
            d = {s: sign * (rnd[s]["area"] - ref[s]["area"]) for s in seeds}
            rows.append(_row(faster, "fig2", setting, FIG2[faster],
                             "mean over steps of the best-rate envelope, Student (Random) vs Student (Reference): " +
                             "; ".join(f"seed {s}: {rnd[s]['area']:.3g} vs {ref[s]['area']:.3g}" for s in seeds),
                             seedwise(d, m)))
        seeds3 = [s for s in seeds if s in orc]
        if not seeds3:
            rows.append(_not_run(like, "fig2", setting, FIG2[like], "missing relearning runs"))
        else:
            d = {s: abs(ref[s]["area"] - orc[s]["area"]) - abs(rnd[s]["area"] - orc[s]["area"]) for s in seeds3}
            rows.append(_row(like, "fig2", setting, FIG2[like],
                             "d = |Reference − Oracle| − |Random − Oracle| (mean over steps of the envelope); Oracle: " +
                             ", ".join(f"seed {s}: {orc[s]['area']:.3g}" for s in seeds3), seedwise(d, m)))
        kl: dict[Any, float] = {}
        parts = []
        for name, instances in series.items():
            if not name.startswith(f"{setting}/kl/"):
                continue
            for inst in instances:
                pts = [(r["step"], r["train/loss"]) for r in inst.get("history", []) if "train/loss" in r]
                if len(pts) < 2 or pts[0][1] <= 0:
                    continue
                ratio = pts[-1][1] / pts[0][1]
                s = _seed(inst)
                kl[s] = min(kl.get(s, math.inf), KL_DROP - ratio)
                parts.append(f"{name.split('/')[-1].replace('_', ' ')} seed {s}: {pts[0][1]:.3g} → {pts[-1][1]:.3g}")
        if kl:
            rows.append(_row(zero, "fig2", setting, FIG2[zero], "KL per token, first → last logged: " + "; ".join(parts),
                             seedwise(kl, 0.0)))
        else:
            rows.append(_not_run(zero, "fig2", setting, FIG2[zero], "no distillation histories"))
    return rows


# Figure 3 and the attack premise ---------------------------------------------------------------------------------

FIG3 = "MaxEnt suppresses forget at a learning rate that keeps retain within 10%"
FIG3_PAPER = ("At the chosen learning rate MaxEnt keeps retain performance within 10% of its start and suppresses "
              "the forget capability almost completely (App. B.1: arithmetic 9e-5, retain 0.875 → 0.795, forget "
              "0.8675 → 0.0125; language 8e-5, forget CE 3.4672 → 12.3808).")


def _sweep_by_seed(instances, higher: bool, tolerance: float) -> dict:
    """Per seed: the sweep's points, the chosen one (or None) and the initial forget."""
    out: dict = {}
    for inst in instances or []:
        first, last = inst["summary"].get("eval_initial") or {}, inst["summary"].get("eval") or {}
        entry = out.setdefault(_seed(inst), {"points": [], "f0": {}, "r0": first.get("retain")})
        lr = float(inst["tags"]["lr"])
        entry["points"].append(SweepPoint(lr, first["retain"], last["retain"], last["forget"]))
        entry["f0"][lr] = first["forget"]
    for entry in out.values():
        try:
            entry["chosen"] = select_lr(entry["points"], tolerance=tolerance, higher_is_better=higher)
        except ValueError:
            entry["chosen"] = None
    return out


def _direction(results: Mapping, setting: str) -> bool:
    return analysis.higher_is_better(_setting_opts(results, setting))


def fig3_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    tolerance = float((results.get("options") or {}).get("tolerance", 0.10))
    for name, instances in (results.get("series") or {}).items():
        setting, _, method = name.partition("/")
        if method != "maxent" or not instances:
            continue
        higher = _direction(results, setting)
        d, parts = {}, []
        for seed, e in _sweep_by_seed(instances, higher, tolerance).items():
            c = e["chosen"]
            if c is None:
                d[seed] = -math.inf
                parts.append(f"seed {seed}: no admissible rate of {len(e['points'])}")
                continue
            f0 = e["f0"][c.lr]
            d[seed] = SUPPRESS_ACC * f0 - c.final_forget if higher else c.final_forget - SUPPRESS_CE * f0
            parts.append(f"seed {seed}: lr {c.lr:g}, retain {c.initial_retain:.3g} → {c.final_retain:.3g}, "
                         f"forget {f0:.3g} → {c.final_forget:.3g}")
        rule = (f"forget ≤ {SUPPRESS_ACC:g}× its start" if higher else f"forget CE ≥ {SUPPRESS_CE:g}× its start")
        rows.append(_row(FIG3, "fig3", setting, FIG3_PAPER, "; ".join(parts) + f" (d: {rule})", seedwise(d, 0.0)))
    return rows


PREMISE = "A relearning attack reverts unlearning (Unlearn-Only MaxEnt)"
PREMISE_PAPER = ("Current unlearning methods only suppress a capability: a few steps of finetuning revert their "
                 "effects (Abstract, Section 2).")


def premise_claims(fig4: Mapping | None, fig3: Mapping | None) -> list[Claim]:
    """Needs Unlearn-Only MaxEnt's attacks (fig4.json) and the sweep's before/after evaluations (fig3.json)."""
    rows = []
    if not fig4 or not fig3:
        return [_not_run(PREMISE, "fig4", "—", PREMISE_PAPER, "needs fig3.json and fig4.json")]
    tolerance = float((fig3.get("options") or {}).get("tolerance", 0.10))
    for setting in dict.fromkeys(n.split("/")[0] for n in fig4.get("series") or {}):
        uo_insts = (fig4["series"] or {}).get(f"{setting}/maxent/unlearn_only")
        sweep = (fig3.get("series") or {}).get(f"{setting}/maxent")
        if not uo_insts or not sweep:
            rows.append(_not_run(PREMISE, "fig4", setting, PREMISE_PAPER, "missing runs"))
            continue
        best = analysis.attacker_best(_setting_opts(fig4, setting))
        chosen = _sweep_by_seed(sweep, _direction(fig3, setting), tolerance)
        uo = _by_seed(uo_insts, best)
        d, parts = {}, []
        for seed, a in uo.items():
            c = (chosen.get(seed) or {}).get("chosen")
            if c is None:
                continue
            before, after = chosen[seed]["f0"][c.lr], c.final_forget
            if before == after:
                continue
            frac = (a["final"] - after) / (before - after)
            quarter = a["steps"][-1] - (a["steps"][-1] - a["steps"][0]) / 4
            late = [v for s, v in zip(a["steps"], a["values"], strict=True) if s >= quarter]
            gain = _sign(best) * -(late[-1] - late[0]) if len(late) > 1 else math.nan
            d[seed] = frac - RECOVERED
            parts.append(f"seed {seed}: forget {before:.3g} → {after:.3g} unlearned → {a['final']:.3g} after "
                         f"{a['steps'][-1]} attack steps ({frac:.0%} recovered; envelope gain over the last quarter "
                         f"{gain:+.3g})")
        rows.append(_row(PREMISE, "fig4", setting, PREMISE_PAPER,
                         "; ".join(parts) + f" (d: recovered share − {RECOVERED:g})", seedwise(d, 0.0)))
    return rows


# Figures 4 and 10 -----------------------------------------------------------------------------------------------

FIG4_SLOWER = "Unlearn-and-Distill relearns slower than Unlearn-Only"
FIG4_APPROACH = "In some cases Unlearn-and-Distill approaches Data Filtering"
FIG10_SLOWER = "Unlearn-and-Distill relearns slower than Unlearn-Only, averaged over learning rates"
FIG4 = {
    FIG4_SLOWER: "Models that underwent unlearning followed by distillation are significantly more resistant to "
                 "relearning than their unlearning-only counterparts, for each method (Section 4, Figure 4).",
    FIG4_APPROACH: "In some cases, the distilled models' relearning trajectories closely approximate those of the "
                   "gold standard (Data Filtering) (Section 4, Figure 4).",
    FIG10_SLOWER: "This robustness improvement holds whether we measure average performance across learning rates "
                  "(Figure 10) or worst-case adversarial performance (Figure 4) (Section 4).",
}


def _ratio(p: float, uo: float, df: float) -> float | None:
    return None if df == uo else (p - uo) / (df - uo)


def _slower_rows(results: Mapping, claim: str, figure: str, stat: str) -> tuple[list[Claim], dict]:
    rows, approach = [], {}
    series = results.get("series") or {}
    for name in series:
        parts = name.split("/")
        if len(parts) != 3 or parts[2] != "unlearn_only":
            continue
        setting, method = parts[0], parts[1]
        best = analysis.attacker_best(_setting_opts(results, setting))
        sign, m = _sign(best), _res(setting)
        uo = _by_seed(series.get(name), best, stat)
        ud = _by_seed(series.get(f"{setting}/{method}/distill"), best, stat)
        df = _by_seed(series.get(f"{setting}/data_filtering"), best, stat)
        where = f"{setting}/{method}"
        seeds = [s for s in uo if s in ud]
        if not seeds:
            rows.append(_not_run(claim, figure, where, FIG4[claim], "missing Unlearn-and-Distill runs"))
            continue
        d = {s: sign * (ud[s]["final"] - uo[s]["final"]) for s in seeds}
        how = "best-rate envelope" if stat == "best" else "average over learning rates"
        rows.append(_row(claim, figure, where, FIG4[claim],
                         f"the {how} at the last attack step, Unlearn-and-Distill vs Unlearn-Only: " +
                         "; ".join(f"seed {s}: {ud[s]['final']:.3g} vs {uo[s]['final']:.3g}" for s in seeds),
                         seedwise(d, m)))
        approach.setdefault(setting, {})[METHOD_LABELS.get(method, method)] = {
            s: (_ratio(ud[s]["final"], uo[s]["final"], df[s]["final"]) if s in df else None) for s in seeds}
    return rows, approach


def fig4_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows, approach = _slower_rows(results, FIG4_SLOWER, "fig4", "best")
    for setting, by_method in approach.items():
        parts, any_all, any_one, enough = [], False, False, False
        for label, ratios in by_method.items():
            vals = [r for r in ratios.values() if r is not None]
            parts.append(f"{label}: " + ", ".join(f"{r:.2f}" for r in vals))
            enough |= len(vals) >= MIN_SEEDS
            any_all |= len(vals) >= MIN_SEEDS and all(r >= MATCH for r in vals)
            any_one |= any(r >= MATCH for r in vals)
        verdict = AGREE if any_all else UNDETERMINED if any_one or not enough else DISAGREE
        rows.append(Claim(FIG4_APPROACH, "fig4", setting, FIG4[FIG4_APPROACH],
                          "robustness ratio of Unlearn-and-Distill (best-rate envelope at the last step; 0 = "
                          "Unlearn-Only, 1 = Data Filtering) per seed: " + "; ".join(parts), verdict,
                          f"agree when some method's every seed has ratio ≥ {MATCH:g}, disagree when no seed of any "
                          "method has"))
    return rows


def fig10_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    return _slower_rows(results, FIG10_SLOWER, "fig10", "mean")[0]


# Figure 5 -------------------------------------------------------------------------------------------------------

FIG5_ROBUST = "robustness rises with α"
FIG5_COMPUTE = "compute rises with α"
FIG5_MATCH = "At its strongest setting UNDO matches Data Filtering"
FIG5_ABSTRACT = "UNDO matches Data Filtering with 60–80% of its compute"
FIG5 = {
    FIG5_ROBUST: "Increasing the perturbation α enhances robustness against relearning attacks (Section 5, Figure 5).",
    FIG5_COMPUTE: "... while requiring proportionally more computation to recover the teacher's retain performance "
                  "(Section 5, Figure 5).",
    FIG5_MATCH: "At its strongest setting, UNDO matches the robustness of a model retrained from scratch with perfect "
                "data filtering (Abstract; Figure 5).",
    FIG5_ABSTRACT: "UNDO matches the robustness of data filtering while using only 60-80% of the compute (Abstract).",
}


def _panel_seeds(panel: Mapping) -> dict:
    """Per UNDO α: per seed {score, robustness, compute, capped}, from analysis.summarize_panel."""
    s = analysis.summarize_panel(panel)
    sign = _sign(s["attacker_best"])
    out: dict = {}
    for g in s["groups"]:
        if g["role"] != "undo" or g["alpha"] is None:
            continue
        for i, seed in enumerate(g["seeds"]):
            out.setdefault(float(g["alpha"]), {})[seed] = {
                "score": sign * g["attack_per_seed"][i], "robustness": g["robustness_per_seed"][i],
                "compute": g["compute_ratio_per_seed"][i], "capped": bool(g["capped_per_seed"][i])}
    return out


def fig5_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    for setting, panel in (results.get("panels") or {}).items():
        by_alpha = _panel_seeds(panel)
        alphas = sorted(by_alpha)
        seeds = sorted({s for a in alphas for s in by_alpha[a]}, key=str)
        capped = sum(v["capped"] for a in alphas for v in by_alpha[a].values())
        note = f" ({capped} capped student{'s' * (capped != 1)} left out)" if capped else ""
        rho, rho_c = {}, {}
        for seed in seeds:
            pts = [(a, by_alpha[a][seed]) for a in alphas if seed in by_alpha[a]]
            free = [(a, v) for a, v in pts if not v["capped"]]
            rho[seed] = _spearman([a for a, _ in free], [v["score"] for _, v in free]) if len(free) >= 3 else None
            with_c = [(a, v["compute"]) for a, v in pts if v["compute"] is not None]
            rho_c[seed] = _spearman([a for a, _ in with_c], [c for _, c in with_c]) if len(with_c) >= 3 else None
        table = "; ".join(f"α={a:g}: " + ", ".join(f"{v['robustness']:.2f}" + ("*" if v["capped"] else "")
                                                   if v["robustness"] is not None else "—"
                                                   for v in by_alpha[a].values()) for a in alphas)
        rows.append(_row(FIG5_ROBUST, "fig5", setting, FIG5[FIG5_ROBUST],
                         f"per-seed robustness by α (* capped){note}: {table}; d = Spearman ρ(α, robustness score)",
                         seedwise(rho, 0.0)))
        comp = "; ".join(f"α={a:g}: " + ", ".join(f"{v['compute']:.2f}" if v["compute"] is not None else "—"
                                                   for v in by_alpha[a].values()) for a in alphas)
        rows.append(_row(FIG5_COMPUTE, "fig5", setting, FIG5[FIG5_COMPUTE],
                         f"per-seed S_UNDO/S_DataFiltering by α: {comp}; d = Spearman ρ(α, steps)", seedwise(rho_c, 0.0)))
        strongest = next((a for a in reversed(alphas)
                          if sum(not v["capped"] and v["robustness"] is not None for v in by_alpha[a].values())
                          >= MIN_SEEDS), None)
        if strongest is None:
            rows.append(Claim(FIG5_MATCH, "fig5", setting, FIG5[FIG5_MATCH], "no α has two uncapped seeds",
                              UNDETERMINED, ""))
        else:
            d = {s: v["robustness"] - MATCH for s, v in by_alpha[strongest].items() if not v["capped"]}
            rows.append(_row(FIG5_MATCH, "fig5", setting, FIG5[FIG5_MATCH],
                             f"largest α with two uncapped seeds: {strongest:g}; d = robustness − {MATCH:g}",
                             seedwise(d, 0.0)))
        matching = next((a for a in alphas
                         if (free := [v for v in by_alpha[a].values() if not v["capped"]]) and len(free) >= MIN_SEEDS
                         and all(v["robustness"] is not None and v["robustness"] >= MATCH for v in free)), None)
        if matching is None:
            rows.append(_row(FIG5_ABSTRACT, "fig5", setting, FIG5[FIG5_ABSTRACT],
                             f"no α reaches robustness ≥ {MATCH:g} on every uncapped seed",
                             seedwise({s: -math.inf for s in seeds}, 0.0)))
        else:
            d = {s: 0.8 - v["compute"] for s, v in by_alpha[matching].items()
                 if not v["capped"] and v["compute"] is not None}
            rows.append(_row(FIG5_ABSTRACT, "fig5", setting, FIG5[FIG5_ABSTRACT],
                             f"smallest α matching Data Filtering (robustness ≥ {MATCH:g}, every uncapped seed): "
                             f"{matching:g}; d = 0.8 − S_UNDO/S_DataFiltering", seedwise(d, 0.0)))
    return rows


# Figure 6 -------------------------------------------------------------------------------------------------------

FIG6_ALPHA = "α matters more than β"
FIG6_COMPUTE = "compute is driven by α"
FIG6_BETA = "lower β works as well as or better than β = 1.0"
FIG6 = {
    FIG6_ALPHA: "Changes in mixing coefficient (α) produce a more pronounced effect on robustness than the noise scale "
                "(β), which has a less significant impact (Section 5, Figure 6 (a-d)).",
    FIG6_COMPUTE: "The computational cost matrix confirms that α is the primary driver of compute requirements, with "
                  "higher values often requiring more distillation steps (Section 5, Figure 6 (e)).",
    FIG6_BETA: "Using lower β values (0.05, 0.1, or 0.5) typically worked similarly well or better than β = 1.0 in our "
               "language setup (Section 5).",
}


def _grid_cells(results: Mapping, setting: str) -> dict:
    """(α, β) -> seed -> {score, steps, capped}, from the relearning runs and their distillations."""
    best = analysis.attacker_best(_setting_opts(results, setting))
    series = results.get("series") or {}
    distill = {((i.get("tags") or {}).get("alpha"), (i.get("tags") or {}).get("beta"), _seed(i)): i.get("summary") or {}
               for i in series.get(f"{setting}/distill") or []}
    cells: dict = {}
    for inst in series.get(f"{setting}/undo") or []:
        tags = inst.get("tags") or {}
        a, b, s = tags.get("alpha"), tags.get("beta"), _seed(inst)
        summ = distill.get((a, b, s)) or {}
        res = inst.get("results") or {}
        stop = summ.get("stop_reached", res.get("model_stop_reached"))
        cells.setdefault((float(a), float(b)), {})[s] = {
            "score": _sign(best) * _attack(inst, best)["final"],
            "steps": summ.get("steps", res.get("model_steps")), "capped": stop is False}
    return cells


def _main_effects(cells: Mapping, key: str, seed) -> tuple[float, float] | None:
    alphas, betas = sorted({a for a, _ in cells}), sorted({b for _, b in cells})
    if len(alphas) < 2 or len(betas) < 2:
        return None
    corners = [(a, b) for a in (alphas[0], alphas[-1]) for b in (betas[0], betas[-1])]
    vals = {}
    for c in corners:
        v = (cells.get(c) or {}).get(seed)
        if v is None or v[key] is None or (key == "score" and v["capped"]):
            return None
        vals[c] = float(v[key])
    lo_a, hi_a, lo_b, hi_b = alphas[0], alphas[-1], betas[0], betas[-1]
    effect_a = abs((vals[(hi_a, lo_b)] + vals[(hi_a, hi_b)]) - (vals[(lo_a, lo_b)] + vals[(lo_a, hi_b)])) / 2
    effect_b = abs((vals[(lo_a, hi_b)] + vals[(hi_a, hi_b)]) - (vals[(lo_a, lo_b)] + vals[(hi_a, lo_b)])) / 2
    return effect_a, effect_b


def fig6_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    settings = dict.fromkeys(n.split("/")[0] for n in results.get("series") or {})
    for setting in settings:
        cells = _grid_cells(results, setting)
        if not cells:
            continue
        alphas, betas = sorted({a for a, _ in cells}), sorted({b for _, b in cells})
        seeds = sorted({s for c in cells.values() for s in c}, key=str)
        capped = sum(v["capped"] for c in cells.values() for v in c.values())
        corners = f"corners α ∈ {{{alphas[0]:g}, {alphas[-1]:g}}} × β ∈ {{{betas[0]:g}, {betas[-1]:g}}}"
        for claim, key, m in ((FIG6_ALPHA, "score", _res(setting)), (FIG6_COMPUTE, "steps", 0.0)):
            eff = {s: _main_effects(cells, key, s) for s in seeds}
            d = {s: (e[0] - e[1]) if e else None for s, e in eff.items()}
            what = "final robustness score" if key == "score" else "distillation steps (capped at cap)"
            rows.append(_row(claim, "fig6", setting, FIG6[claim],
                             f"{what}, {corners}; main effects per seed (α vs β): " +
                             "; ".join(f"seed {s}: {e[0]:.3g} vs {e[1]:.3g}" if e else f"seed {s}: left out"
                                       for s, e in eff.items()) +
                             (f"; {capped} capped students" if capped else "") + "; d = α effect − β effect",
                             seedwise(d, m)))
        if setting == "language" and 1.0 in betas and betas[0] < 1.0:
            d = {}
            for s in seeds:
                diffs = [cells[(a, betas[0])][s]["score"] - cells[(a, 1.0)][s]["score"] for a in alphas
                         if s in cells.get((a, betas[0]), {}) and s in cells.get((a, 1.0), {})
                         and not cells[(a, betas[0])][s]["capped"] and not cells[(a, 1.0)][s]["capped"]]
                d[s] = float(np.mean(diffs)) if diffs else None
            rows.append(_row(FIG6_BETA, "fig6", setting, FIG6[FIG6_BETA],
                             f"d = mean over α of score(β={betas[0]:g}) − score(β=1.0) (robustness scores, final step)",
                             seedwise(d, _res(setting), shows=">=")))
    return rows


# Figure 7 -------------------------------------------------------------------------------------------------------

FIG7_FRONTIER = "UNDO is on the retain/forget Pareto frontier after the extensive attack"
FIG7_ROBUST = "SAM and RepNoise end the extensive attack less robust than UNDO"
FIG7_MODERATE = "After the moderate attack UNDO is more robust than GradDiff and MaxEnt"
FIG7 = {
    FIG7_FRONTIER: "UNDO with MaxEnt maintains more robust unlearning performance across all explored attack strengths; "
                   "this creates a new Pareto frontier of retain vs robust forget performance (Section 6, Figure 7).",
    FIG7_ROBUST: "Methods designed for robustness (SAM, RepNoise) also show significant performance deterioration when "
                 "subjected to stronger relearning attacks (Section 6, Figure 7 c, f).",
    FIG7_MODERATE: "While more compute-efficient unlearning methods (GradDiff, MaxEnt) achieve good initial retain-"
                   "forget trade-offs before relearning attacks, they rapidly degrade under adversarial pressure "
                   "(Section 6, Figure 7 b, e).",
}


def _strictest(points: list) -> dict | None:
    """The UNDO point distilled to the tightest retain threshold: the one closest to its teacher on retain."""
    undo = [p for p in points if p["method"] == "undo"]
    return min(undo, key=lambda p: float(p["tags"].get("tolerance", 0.0))) if undo else None


def fig7_claims(results: Mapping[str, Any], context: Mapping | None = None) -> list[Claim]:
    rows = []
    moderate = int((results.get("options") or {}).get("moderate_step", 40))
    for setting, s in pareto.setting_points(results).items():
        sign, m = _sign(s["attacker_best"]), _res(setting)
        retain_sign = 1.0 if s["retain_higher_is_better"] else -1.0
        by_seed: dict = {}
        for p in s["points"]:
            by_seed.setdefault(p["tags"].get("seed"), []).append(p)
        steps = sorted({p["step"]["long"] for p in s["points"]})

        def score(p, budget, sign=sign):
            return sign * p["forget"][budget]

        # Frontier: the strictest UNDO point is dominated by no other method's point (Data Filtering excepted):
        # against every rival it keeps more retain or, by more than the margin, more robust forget.
        d_front, parts = {}, []
        for seed, pts in by_seed.items():
            u = _strictest(pts)
            rivals = [p for p in pts if p["method"] not in ("undo", pareto.REFERENCE)]
            if u is None or not rivals:
                continue
            beaten_by = [r for r in rivals if not (retain_sign * (u["retain"] - r["retain"]) > 0
                                                   or score(u, "long") - score(r, "long") > m)]
            d_front[seed] = 1.0 if not beaten_by else -1.0
            parts.append(f"seed {seed}: {u['label']} (retain {u['retain']:.3g}, forget {u['forget']['long']:.3g}) " +
                         ("dominated by no other method" if not beaten_by else "dominated by " + ", ".join(
                             f"{r['label']} ({r['retain']:.3g}, {r['forget']['long']:.3g})" for r in beaten_by)))
        if not d_front:
            rows.append(_not_run(FIG7_FRONTIER, "fig7", setting, FIG7[FIG7_FRONTIER], "missing UNDO or rival runs"))
        else:
            rows.append(_row(FIG7_FRONTIER, "fig7", setting, FIG7[FIG7_FRONTIER],
                             f"({s['retain_label']}, {s['forget_label']}) after {steps} attack steps: " + "; ".join(parts)
                             + f"; d = +1 when no rival has both at least UNDO's retain and a forget score within "
                               f"{m:g} of UNDO's or better, else -1", seedwise(d_front, 0.0)))
        for claim, rivals_of, budget in ((FIG7_ROBUST, ("sam", "repnoise"), "long"),
                                         (FIG7_MODERATE, ("graddiff", "maxent"), "moderate")):
            d, parts = {}, []
            for seed, pts in by_seed.items():
                strict = _strictest(pts)
                rivals = [p for p in pts if p["method"] in rivals_of]
                if strict is None or not rivals:
                    continue
                worst = max(rivals, key=lambda p: score(p, budget))
                d[seed] = score(strict, budget) - score(worst, budget)
                parts.append(f"seed {seed}: {strict['label']} {strict['forget'][budget]:.3g} vs " +
                             ", ".join(f"{p['label']} {p['forget'][budget]:.3g}" for p in rivals))
            at = f"step {moderate}" if budget == "moderate" else f"step {steps}"
            if not d:
                rows.append(_not_run(claim, "fig7", setting, FIG7[claim], "missing UNDO or rival runs"))
            else:
                rows.append(_row(claim, "fig7", setting, FIG7[claim],
                                 f"{s['forget_label']} at {at}: " + "; ".join(parts) +
                                 "; d = UNDO's score − the most robust rival's", seedwise(d, m)))
    return rows


# Report ---------------------------------------------------------------------------------------------------------

SOURCES: dict[str, tuple[Callable, list[str]]] = {
    "fig2": (fig2_claims, list(FIG2)),
    "fig3": (fig3_claims, [FIG3]),
    "fig4": (fig4_claims, [FIG4_SLOWER, FIG4_APPROACH]),
    "fig10": (fig10_claims, [FIG10_SLOWER]),
    "fig5": (fig5_claims, list(FIG5)),
    "fig6": (fig6_claims, list(FIG6)),
    "fig7": (fig7_claims, list(FIG7)),
}
PAPER = {**FIG2, FIG3: FIG3_PAPER, PREMISE: PREMISE_PAPER, **FIG4, **FIG5, **FIG6, **FIG7}


def all_sources() -> tuple[dict[str, tuple[Callable, list[str]]], dict[str, str]]:
    """Every figure's claim function and the paper's words, Section 6's WMDP claims (``claims_wmdp``) and Appendix F's
    TOFU claims (``claims_tofu``), built on the helpers above, included."""
    from . import claims_tofu, claims_wmdp

    return ({**SOURCES, **claims_wmdp.SOURCES, **claims_tofu.SOURCES},
            {**PAPER, **claims_wmdp.PAPER, **claims_tofu.PAPER})


def evaluate(fig_dir: Path) -> list[Claim]:
    """Every claim against the results JSONs in ``fig_dir``; claims without results are "not run"."""
    sources, paper = all_sources()
    loaded = {}
    for figure in sources:
        path = Path(fig_dir) / f"{figure}.json"
        loaded[figure] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    rows: list[Claim] = premise_claims(loaded["fig4"], loaded["fig3"])
    for figure, (fn, names) in sources.items():
        got = fn(loaded[figure], loaded) if loaded[figure] is not None else []
        seen = {r.claim for r in got}
        rows += got
        rows += [Claim(n, figure, "—", paper[n], f"no {figure}.json: run `make {figure}`", NOT_RUN)
                 for n in names if n not in seen and (figure != "fig6" or n != FIG6_BETA or loaded[figure] is None)]
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(claims: list[Claim], scale: str) -> str:
    counts = {v: sum(c.verdict == v for c in claims) for v in (AGREE, DISAGREE, UNDETERMINED, NOT_RUN)}
    lines = [f"# Claims of the paper against the stored results (scale: {scale})", "",
             "Written by `undo report` from figures/" + scale + "/{" + ",".join(all_sources()[0]) + "}.json; every number is "
             "computed from those results by the rules in undo/paper/claims.py, which were fixed before the results. Each "
             "claim is measured per seed (a seed is a whole pipeline: reference, oracle, teacher, students, attacks) "
             "as a statistic d oriented so that d > margin shows the claimed effect: **agree** when every seed shows "
             "it (a one-sided sign test: p = 2^-n for n seeds, 0.125 for three), **disagree** when none does, "
             "**undetermined** when the seeds split. The margin is the evaluation's resolution (0.01: one fact in a "
             "hundred of arithmetic accuracy, or 0.01 nats of cross-entropy) unless the rule says otherwise. Capped "
             "UNDO students (step cap reached without meeting the stop rule) are left out of robustness rules. Mini "
             "and smoke use tiny models and short runs: a disagreement there is reported, not tuned away.", "",
             "Verdicts: " + ", ".join(f"{v} {n}" for v, n in counts.items()) + ".", "",
             "| claim | figure | setting | verdict | rule and margin (per-seed d) | measured | paper |",
             "|---|---|---|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {_cell(c.claim)} | {c.figure} | {c.setting} | **{c.verdict}** | {_cell(c.rule)} | "
                     f"{_cell(c.measured)} | {_cell(c.paper)} |")
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
