"""Analysis of stored relearning results: attacker envelopes, robustness and compute (Section 5, Figure 5).

Section 5 of the paper ("Trading Compute for Unlearning Robustness") perturbs an unlearned model with
theta = (1 - alpha) * theta_suppressed + alpha * beta * N and distils it back (UNDO). Figure 5 plots, per
setting, how robust the result is against a relearning attack and how much compute the repair cost. These
pure functions turn the results JSON written by the pipeline into those numbers; they never train or read files.

Definitions (Figure 5 caption and Appendix "relearning"):

- Attacker envelope: relearning is run at several learning rates; at each evaluation step the attacker keeps the
  best value over learning rates (the bold line in the paper). "Best" is ``max`` when relearning raises the
  measure (an accuracy) and ``min`` when it lowers it (a cross-entropy).
- Attack value P: the envelope read at the last evaluated step (``at="final"``) or averaged over all evaluated
  steps (``at="mean"``, i.e. area under the envelope divided by the number of evaluations).
- Robustness: ``(P_UNDO - P_UnlearnOnly) / (P_DataFiltering - P_UnlearnOnly)``; 0 is no better than unlearning
  alone, 1 is as robust as never having trained on the forget data. The formula is sign-agnostic, so it holds
  for both accuracy and cross-entropy measures.
- Compute: ``S_UNDO / S_DataFiltering``, the distillation steps of a UNDO model over the pretraining steps of
  the data-filtered model (``reference_steps`` in the results JSON).
- α × β grid (Figure 6): per (α, β) the attack value and the distillation steps (median over seeds); a student
  that hit the step cap without meeting the stop rule is *capped* (its steps are a lower bound). ``factor_spread``
  compares how much a value moves with α (averaged over β) and with β (averaged over α).

Usage::

    from undo.paper.analysis import summarize_panel, trend, markdown_table
    summary = summarize_panel(results["panels"]["arithmetic"])
    print(markdown_table(summary, summary["measure_label"]))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ROLE_LABELS",
    "attack_value",
    "compute_ratio",
    "envelope",
    "factor_spread",
    "group_label",
    "lr_average",
    "markdown_table",
    "robustness",
    "summarize_grid",
    "summarize_panel",
    "summarize_relearn",
    "summarize_series",
    "trend",
]

ROLE_LABELS = {"unlearn_only": "Unlearn-Only", "undo": "UNDO", "data_filtering": "Data Filtering"}
_BEST = ("max", "min")
_AT = ("final", "mean")


def higher_is_better(setting_opts: Mapping[str, Any], setting: str = "<setting>") -> bool:
    """A setting's metric direction: ``higher_is_better``, which the figure stage copies from the gathered results
    into ``options.settings.<setting>`` (the evaluation declares it; no config restates it)."""
    if "higher_is_better" not in setting_opts:
        raise ValueError(f"options.settings.{setting}.higher_is_better is missing: the figure stage adds it from the "
                         "gathered results (regather with `undo run` rather than editing the JSON)")
    return bool(setting_opts["higher_is_better"])


def attacker_best(setting_opts: Mapping[str, Any]) -> str:
    """``max`` when the measure is an accuracy, ``min`` for a cross-entropy: what the attacker pushes toward."""
    return "max" if higher_is_better(setting_opts) else "min"


def _check_best(best: str) -> None:
    if best not in _BEST:
        raise ValueError(f"best must be one of {_BEST}, got {best!r}")


def _is_nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def envelope(
    curves: Mapping[str, Mapping[str, Sequence]], measure: str, best: str
) -> tuple[list[int], list[float], list[str]]:
    """Attacker-best value over learning rates at each evaluation step.

    ``curves`` maps a learning rate (string key) to ``{"step": [...], measure: [...], ...}``. Returns
    ``(steps, values, lrs)`` where ``lrs[i]`` is the learning-rate key that achieved ``values[i]``. NaN/None
    values (a diverged run) are skipped; ties go to the first learning rate in ascending numeric order.
    Raises ValueError if ``curves`` is empty, a series is missing or has the wrong length, or the learning
    rates were evaluated at different steps.
    """
    _check_best(best)
    if not curves:
        raise ValueError("envelope: no relearning curves given")
    lrs = sorted(curves, key=_lr_sort_key)
    steps: list | None = None
    table = []
    for lr in lrs:
        series = curves[lr]
        if "step" not in series or measure not in series:
            raise ValueError(f"envelope: curve for lr={lr} lacks 'step' or {measure!r}")
        s, v = list(series["step"]), list(series[measure])
        if len(s) != len(v):
            raise ValueError(f"envelope: lr={lr} has {len(s)} steps but {len(v)} {measure!r} values")
        if not s:
            raise ValueError(f"envelope: curve for lr={lr} is empty")
        if steps is None:
            steps = s
        elif s != steps:
            raise ValueError(f"envelope: learning rates disagree on evaluation steps ({lrs[0]}: {steps} vs {lr}: {s})")
        table.append(v)
    better = (lambda a, b: a > b) if best == "max" else (lambda a, b: a < b)
    values: list[float] = []
    argbest: list[str] = []
    for i in range(len(steps)):
        val, who = math.nan, ""
        for lr, v in zip(lrs, table, strict=True):
            x = v[i]
            if _is_nan(x):
                continue
            if who == "" or better(float(x), val):
                val, who = float(x), lr
        values.append(val)
        argbest.append(who)
    return [int(s) for s in steps], values, argbest


def lr_average(curves: Mapping[str, Mapping[str, Sequence]], measure: str) -> tuple[list[int], list[float]]:
    """Mean over learning rates at each evaluation step (Figure 10's bold line); NaN/None values are skipped.

    Same input and checks as :func:`envelope`; a step where every learning rate diverged is NaN.
    """
    steps, _, _ = envelope(curves, measure, "max")  # validates the curves and their common steps
    values = []
    for i in range(len(steps)):
        vals = [float(c[measure][i]) for c in curves.values() if not _is_nan(c[measure][i])]
        values.append(float(np.mean(vals)) if vals else math.nan)
    return steps, values


def _lr_sort_key(lr: str) -> tuple[int, float, str]:
    try:
        return (0, float(lr), lr)
    except ValueError:
        return (1, 0.0, lr)


def _reduce(values: Sequence[float], at: str) -> float:
    if at not in _AT:
        raise ValueError(f"at must be one of {_AT}, got {at!r}")
    if at == "final":
        return float(values[-1])
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def attack_value(curves: Mapping[str, Mapping[str, Sequence]], measure: str, best: str, at: str = "final") -> float:
    """Forget performance P elicited by the strongest attack: the envelope's last value or its mean over steps."""
    _, values, _ = envelope(curves, measure, best)
    return _reduce(values, at)


def robustness(p_undo: float, p_unlearn_only: float, p_data_filtering: float) -> float:
    """``(P_UNDO - P_UO) / (P_DF - P_UO)`` (Figure 5 caption). Undefined (ValueError) when ``P_DF == P_UO``."""
    denom = float(p_data_filtering) - float(p_unlearn_only)
    if denom == 0.0 or not math.isfinite(denom):
        raise ValueError(
            f"robustness is undefined: P_DataFiltering ({p_data_filtering}) - P_UnlearnOnly ({p_unlearn_only}) "
            "must be a finite non-zero number (the two references are indistinguishable)"
        )
    return (float(p_undo) - float(p_unlearn_only)) / denom


def compute_ratio(steps: float, reference_steps: float) -> float:
    """``S / S_DataFiltering``: training steps of a model over the data-filtering pretraining steps."""
    if reference_steps is None or not float(reference_steps) > 0:
        raise ValueError(f"reference_steps must be positive, got {reference_steps!r}")
    if steps is None or float(steps) < 0:
        raise ValueError(f"steps must be a non-negative number, got {steps!r}")
    return float(steps) / float(reference_steps)


def _stats(values: Iterable[float | None]) -> dict | None:
    """Median/min/max over seeds, ignoring None/NaN; None when nothing is left."""
    vals = [float(v) for v in values if not _is_nan(v)]
    if not vals:
        return None
    return {"median": float(np.median(vals)), "min": min(vals), "max": max(vals)}


def _group_key(run: Mapping) -> tuple:
    return (run["role"], run.get("alpha"), run.get("beta"))


def _order(key: tuple) -> tuple:
    role, alpha, beta = key
    rank = {"unlearn_only": 0, "undo": 1, "data_filtering": 3}.get(role, 2)
    num = lambda x: -math.inf if x is None else float(x)  # noqa: E731
    return (rank, role, num(alpha), num(beta))


def group_label(role: str, alpha: float | None = None, beta: float | None = None, show_beta: bool = False) -> str:
    """Human-readable name of a group, e.g. ``UNDO α=0.6`` (with ``β`` only when asked)."""
    name = ROLE_LABELS.get(role, role)
    if alpha is not None:
        name += f" α={alpha:g}"
    if beta is not None and show_beta:
        name += f" β={beta:g}"
    return name


def _median_curve(envs: list[tuple[list[int], list[float]]]) -> dict | None:
    """Median/min/max over seeds of per-seed envelopes, on the steps every seed evaluated."""
    common = sorted(set.intersection(*(set(s) for s, _ in envs)))
    if not common:
        return None
    rows = []
    for steps, vals in envs:
        at = dict(zip(steps, vals, strict=True))
        rows.append([at[s] for s in common])
    arr = np.asarray(rows, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a step where every seed is NaN stays NaN
        med, lo, hi = np.nanmedian(arr, 0), np.nanmin(arr, 0), np.nanmax(arr, 0)
    return {"step": common, "median": med.tolist(), "min": lo.tolist(), "max": hi.tolist()}


def summarize_relearn(runs: Sequence[Mapping[str, Any]], measure: str, best: str) -> dict:
    """One model's relearning attacks over seeds (Figures 4 and 10).

    ``runs`` are relearning results (``{"curves": {lr: {"step": [...], measure: [...]}}, "seed": ...}``), one per
    seed. For both statistics over learning rates, ``best`` (the attacker envelope, Figure 4) and ``mean`` (the
    average over learning rates, Figure 10), this gives the median/min/max curve over seeds and the median/min/max
    over seeds of its value at the final step (``final``) and of its mean over evaluated steps (``area``).
    """
    _check_best(best)
    if not runs:
        raise ValueError("summarize_relearn: no runs")
    per = {"best": [], "mean": []}
    for run in runs:
        steps, env, _ = envelope(run.get("curves") or {}, measure, best)
        per["best"].append((steps, env))
        per["mean"].append(lr_average(run["curves"], measure))
    out: dict[str, Any] = {"n_seeds": len(runs), "seeds": [r.get("seed") for r in runs]}
    for stat, envs in per.items():
        out[stat] = {"curve": _median_curve(envs),
                     "final": _stats(_reduce(v, "final") for _, v in envs),
                     "area": _stats(_reduce(v, "mean") for _, v in envs)}
    return out


def summarize_series(results: Mapping[str, Any]) -> dict:
    """The Figure 4/10 results JSON per setting: every ``<setting>/<method>/<role>`` and ``<setting>/<role>`` series.

    ``results["series"]`` maps such names to gathered relearning instances (each with ``results.curves`` and
    ``tags.seed``); ``results["options"]`` gives ``measure`` and, per setting, ``higher_is_better`` (from the results) and
    ``measure_label``. Returns ``{setting: {"measure_label", "attacker_best", "methods": {method: {role: summary}},
    "references": {role: summary}}}`` with :func:`summarize_relearn` summaries, settings and methods in the
    order the series are listed.
    """
    opts = results.get("options") or {}
    measure = opts.get("measure", "forget")
    out: dict[str, dict] = {}
    for name, instances in (results.get("series") or {}).items():
        parts = name.split("/")
        if len(parts) not in (2, 3):
            raise ValueError(f"series {name!r}: expected <setting>/<method>/<role> or <setting>/<role>")
        setting = parts[0]
        sopts = (opts.get("settings") or {}).get(setting, {})
        entry = out.setdefault(setting, {"measure": measure, "measure_label": sopts.get("measure_label", measure),
                                         "attacker_best": attacker_best(sopts), "methods": {}, "references": {}})
        runs = [{"curves": (inst.get("results") or {}).get("curves") or {}, "seed": inst.get("tags", {}).get("seed"),
                 "artifact": inst.get("artifact")} for inst in instances]
        if not runs:
            continue
        try:
            summary = summarize_relearn(runs, measure, entry["attacker_best"])
        except ValueError as e:
            raise ValueError(f"series {name!r}: {e}") from e
        if len(parts) == 3:
            entry["methods"].setdefault(parts[1], {})[parts[2]] = summary
        else:
            entry["references"][parts[1]] = summary
    return out


def split_distill_series(results: Mapping[str, Any], tag: str = "kl") -> tuple[dict, dict]:
    """Split a results JSON whose series mix distillations and relearning attacks (Figure 2).

    Series named ``<setting>/<tag>/<student>`` are distillations: their logged training loss (the KL to the
    teacher) becomes ``{setting: {student: [(step, loss), ...]}}``; the first instance is used (they are not
    swept). Every other series is a relearning attack, summarised by :func:`summarize_series`.
    """
    curves: dict[str, dict] = {}
    relearn = {}
    for name, instances in (results.get("series") or {}).items():
        parts = name.split("/")
        if len(parts) == 3 and parts[1] == tag:
            for inst in instances[:1]:
                curves.setdefault(parts[0], {})[parts[2]] = [(r["step"], r["train/loss"])
                                                             for r in inst.get("history", []) if "train/loss" in r]
        else:
            relearn[name] = instances
    return curves, summarize_series({**results, "series": relearn})


def summarize_panel(panel: Mapping[str, Any]) -> dict:
    """Summarise one setting (panel) of the Figure 5 results JSON.

    Runs are grouped by ``(role, alpha, beta)``; seeds are the runs inside a group. For every group this gives
    the number of seeds, median/min/max over seeds of the attack value (``panel["robustness_at"]``, default
    ``"final"``), of the compute ratio ``compute_steps / reference_steps`` (None where a role has no such
    steps, e.g. unlearn-only), and of the robustness, plus the median/min/max over seeds of the attacker
    envelope for plotting. ``capped`` counts the seeds whose run says ``"capped": true`` (a distilled student that
    stopped at the step cap without meeting its stop rule, so weaker than its teacher on retain) and
    ``capped_per_seed`` lists each seed's flag (``None`` where the run has none: not a distilled student, or unknown).

    Choice of reference: robustness is computed *per seed* of each group against the unlearn-only and the
    data-filtering attack values of the **same seed** (one pipeline: seed i's reference and oracle, teacher and
    students), so a seed's robustness does not mix pipelines; a seed without its own references falls back to
    the **median over seeds** of each role (all runs pooled). Compute uses the run's own ``reference_steps``
    (its pipeline's S_DataFiltering) when the run has one, else the panel's. If a reference is missing, or the
    two references coincide, robustness is None and a message is added to ``warnings``.

    Groups are ordered unlearn-only, UNDO by alpha (then beta) ascending, any other role, data filtering.
    The result holds only plain dicts, lists, strings, numbers and None (JSON-serialisable).
    """
    measure, best = panel["measure"], panel["attacker_best"]
    _check_best(best)
    at = panel.get("robustness_at", "final")
    if at not in _AT:
        raise ValueError(f"robustness_at must be one of {_AT}, got {at!r}")
    reference_steps = panel.get("reference_steps")
    runs = panel.get("runs") or []
    if not runs:
        raise ValueError("summarize_panel: panel has no runs")
    notes: list[str] = []

    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        try:
            steps, values, lrs = envelope(run.get("curves") or {}, measure, best)
        except ValueError as e:
            raise ValueError(f"run {run.get('role')} alpha={run.get('alpha')} seed={run.get('seed')}: {e}") from e
        groups.setdefault(_group_key(run), []).append(
            {
                "seed": run.get("seed"),
                "artifact": run.get("artifact"),
                "compute_steps": run.get("compute_steps"),
                "reference_steps": run.get("reference_steps"),
                "attack": _reduce(values, at),
                "final_best_lr": lrs[-1],
                "env": (steps, values),
                "capped": None if run.get("capped") is None else bool(run["capped"]),
            }
        )

    def pooled_median(role: str) -> float | None:
        vals = [s["attack"] for k, seeds in groups.items() if k[0] == role for s in seeds]
        st = _stats(vals)
        return None if st is None else st["median"]

    p_uo, p_df = pooled_median("unlearn_only"), pooled_median("data_filtering")
    can_robust = True
    if p_uo is None or p_df is None:
        can_robust = False
        missing = [r for r, p in (("unlearn_only", p_uo), ("data_filtering", p_df)) if p is None]
        notes.append(f"robustness not computed: no {' or '.join(missing)} runs")
    elif p_uo == p_df:
        can_robust = False
        notes.append(f"robustness undefined: median P_DataFiltering == median P_UnlearnOnly == {p_uo:.3f}")

    def per_seed(role: str) -> dict:
        return {s["seed"]: s["attack"] for k, seeds in groups.items() if k[0] == role for s in seeds
                if s["seed"] is not None}

    uo_seed, df_seed = per_seed("unlearn_only"), per_seed("data_filtering")

    def seed_robustness(s: dict) -> float | None:
        uo, df = uo_seed.get(s["seed"], p_uo), df_seed.get(s["seed"], p_df)
        try:
            return robustness(s["attack"], uo, df)
        except ValueError:
            notes.append(f"seed {s['seed']}: robustness undefined (its Unlearn-Only and Data Filtering coincide)")
            return None

    show_beta = len({k[2] for k in groups if k[0] == "undo"}) > 1
    out_groups = []
    for key in sorted(groups, key=_order):
        role, alpha, beta = key
        seeds = sorted(groups[key], key=lambda s: (s["seed"] is None, s["seed"] if s["seed"] is not None else 0))
        seed_ids = [s["seed"] for s in seeds]
        if len(set(seed_ids)) != len(seed_ids):
            notes.append(f"{group_label(*key, show_beta=True)}: duplicate seeds {seed_ids}")
        ratios = []
        for s in seeds:
            cs, ref = s["compute_steps"], s["reference_steps"] or reference_steps
            ratios.append(None if cs is None or ref is None else compute_ratio(cs, ref))
        if reference_steps is None and any(s["compute_steps"] is not None for s in seeds):
            notes.append("compute ratio not computed: panel has no reference_steps")
        robs = [seed_robustness(s) for s in seeds] if can_robust else [None] * len(seeds)
        curve = _median_curve([s["env"] for s in seeds])
        if curve is None:
            notes.append(f"{group_label(*key, show_beta=True)}: seeds share no evaluation step; no curve")
        out_groups.append(
            {
                "role": role,
                "alpha": alpha,
                "beta": beta,
                "label": group_label(role, alpha, beta, show_beta=show_beta),
                "n_seeds": len(seeds),
                "seeds": seed_ids,
                "artifacts": [s["artifact"] for s in seeds],
                "attack": _stats(s["attack"] for s in seeds),
                "attack_per_seed": [s["attack"] for s in seeds],
                "final_best_lr": [s["final_best_lr"] for s in seeds],
                "compute_ratio": _stats(ratios),
                "compute_ratio_per_seed": ratios,
                "robustness": _stats(robs),
                "robustness_per_seed": robs,
                "curve": curve,
                "capped": sum(s["capped"] is True for s in seeds),
                "capped_per_seed": [s["capped"] for s in seeds],
            }
        )
    return {
        "measure": measure,
        "measure_label": panel.get("measure_label", measure),
        "attacker_best": best,
        "robustness_at": at,
        "reference_steps": reference_steps,
        "references": {"unlearn_only": p_uo, "data_filtering": p_df},
        "groups": out_groups,
        "warnings": list(dict.fromkeys(notes)),  # de-duplicated, in order
    }


def _ranks(x: Sequence[float]) -> np.ndarray:
    """Ranks starting at 1, ties sharing their average rank (as scipy.stats.rankdata's default)."""
    a = np.asarray(x, dtype=float)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), dtype=float)
    ranks[order] = np.arange(1, len(a) + 1)
    for v in np.unique(a):
        tie = a == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def _spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    if len(x) < 2:
        return None
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def trend(summary: Mapping[str, Any]) -> dict:
    """Does the elicited forget performance fall (rise, for CE) from unlearn-only through UNDO α↑ to data filtering?

    Walks the groups in summary order (unlearn-only, UNDO α ascending, data filtering) and checks that the
    median attack value moves monotonically (ties allowed) in the robust direction: downwards when the
    attacker maximises the measure, upwards when it minimises it. Returns ``monotone``, ``violations``
    (adjacent pairs that move the wrong way), ``spearman`` (rank correlation between α and the median attack
    value oriented so that +1 means "more α, more robust", over UNDO groups; None with < 2 groups or no
    variation), ``n_undo`` and the ``sequence`` checked.
    """
    sign = -1.0 if summary["attacker_best"] == "max" else 1.0  # robust score: larger = harder to relearn
    seq = [g for g in summary["groups"] if g["attack"] is not None]
    violations = []
    for a, b in zip(seq, seq[1:], strict=False):
        va, vb = a["attack"]["median"], b["attack"]["median"]
        if sign * vb < sign * va:
            violations.append({"from": a["label"], "to": b["label"], "from_value": va, "to_value": vb})
    undo = [g for g in seq if g["role"] == "undo" and g["alpha"] is not None]
    rho = _spearman([g["alpha"] for g in undo], [sign * g["attack"]["median"] for g in undo])
    return {
        "monotone": not violations,
        "spearman": rho,
        "n_undo": len(undo),
        "violations": violations,
        "sequence": [{"label": g["label"], "median": g["attack"]["median"]} for g in seq],
    }


def _fmt(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _fmt_stats(st: dict | None, n: int) -> str:
    if st is None:
        return "—"
    if n <= 1 or st["min"] == st["max"]:
        return _fmt(st["median"])
    return f"{_fmt(st['median'])} [{_fmt(st['min'])}–{_fmt(st['max'])}]"


def markdown_table(summary: Mapping[str, Any], measure_label: str | None = None) -> str:
    """One Markdown row per group: model, α, β, seeds, compute (median), elicited forget and robustness.

    Cells with spread read ``median [min–max]`` over seeds; numbers have 3 decimals, missing ones show ``—``.
    """
    label = measure_label or summary.get("measure_label") or summary["measure"]
    how = "final step" if summary.get("robustness_at", "final") == "final" else "mean over steps"
    header = [
        "Model",
        "α",
        "β",
        "Seeds",
        "Compute S/S_DF (median)",
        f"{label} after strongest attack ({how})",
        "Robustness",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", "--:", "--:", "--:", "--:", "--:", "--:"]) + "|"]
    for g in summary["groups"]:
        n = g["n_seeds"]
        cr = g["compute_ratio"]
        row = [
            ROLE_LABELS.get(g["role"], g["role"]),
            "—" if g["alpha"] is None else f"{g['alpha']:g}",
            "—" if g["beta"] is None else f"{g['beta']:g}",
            str(n),
            "—" if cr is None else _fmt(cr["median"]),
            _fmt_stats(g["attack"], n),
            _fmt_stats(g["robustness"], n),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


# Figure 6: the α × β grid ---------------------------------------------------------------------------------------

def _grid_key(tags: Mapping) -> tuple:
    return (tags.get("alpha"), tags.get("beta"), tags.get("seed"))


def summarize_grid(results: Mapping[str, Any]) -> dict:
    """The Figure 6 results JSON per setting: every (α, β) cell of UNDO students, with the reference attacks.

    ``results["series"]`` holds, per setting, ``<setting>/undo`` (relearning runs of the students, tagged
    ``alpha``, ``beta``, ``seed``), ``<setting>/distill`` (their distillation: ``summary.steps``, ``max_steps``,
    ``stop_reached``, ``teacher_eval``, ``eval``) and optionally ``<setting>/unlearn_only`` and
    ``<setting>/data_filtering`` (reference attacks). Relearning and distillation records are joined on
    (α, β, seed); without a distillation record the steps fall back to the relearning run's ``model_steps``
    and the stop rule is unknown (None).

    Returns ``{setting: {"measure", "measure_label", "attacker_best", "alphas", "betas", "cells", "references"}}``.
    Each cell (α ascending, then β) has ``n_seeds``, ``seeds``, ``curve`` (median/min/max over seeds of the
    attacker envelope), ``attack`` (median/min/max over seeds of the envelope at the final step), ``attack_mean``
    (the same for its mean over steps), ``steps`` (median/min/max distillation steps), ``max_steps``, ``capped``
    (seeds that stopped at the cap without meeting the stop rule; their steps are a lower bound), ``stop_known``
    (seeds whose stop rule outcome is recorded), ``retain`` (the students' final retain) and ``teacher_retain``.
    References are :func:`summarize_relearn` summaries.
    """
    opts = results.get("options") or {}
    measure = opts.get("measure", "forget")
    series = results.get("series") or {}
    out: dict[str, dict] = {}
    for name in series:
        setting, _, role = name.partition("/")
        if role not in ("undo", "distill", "unlearn_only", "data_filtering") or "/" in role:
            raise ValueError(f"series {name!r}: expected <setting>/<undo|distill|unlearn_only|data_filtering>")
        sopts = (opts.get("settings") or {}).get(setting, {})
        out.setdefault(setting, {"measure": measure, "measure_label": sopts.get("measure_label", measure),
                                 "attacker_best": attacker_best(sopts)})
    for setting, entry in out.items():
        best = entry["attacker_best"]
        _check_best(best)
        distill = {_grid_key(i.get("tags") or {}): i for i in series.get(f"{setting}/distill") or []}
        cells: dict[tuple, list[dict]] = {}
        for inst in series.get(f"{setting}/undo") or []:
            tags = inst.get("tags") or {}
            if tags.get("alpha") is None or tags.get("beta") is None:
                raise ValueError(f"series {setting}/undo: {inst.get('artifact')} has no alpha/beta tags")
            res = inst.get("results") or {}
            try:
                steps, values, _ = envelope(res.get("curves") or {}, measure, best)
            except ValueError as e:
                raise ValueError(f"series {setting}/undo: {inst.get('artifact')}: {e}") from e
            d = (distill.get(_grid_key(tags)) or {}).get("summary") or {}
            stop = d.get("stop_reached")
            cells.setdefault((float(tags["alpha"]), float(tags["beta"])), []).append({
                "seed": tags.get("seed"), "env": (steps, values),
                "final": _reduce(values, "final"), "mean": _reduce(values, "mean"),
                "steps": d.get("steps", res.get("model_steps")), "max_steps": d.get("max_steps"),
                "stop_reached": stop, "capped": stop is False,
                "retain": (d.get("eval") or {}).get("retain"),
                "teacher_retain": (d.get("teacher_eval") or {}).get("retain")})
        grid = []
        for (alpha, beta) in sorted(cells):
            seeds = sorted(cells[(alpha, beta)], key=lambda s: (s["seed"] is None, s["seed"] or 0))
            caps = [s["max_steps"] for s in seeds if s["max_steps"] is not None]
            teacher = [s["teacher_retain"] for s in seeds if s["teacher_retain"] is not None]
            grid.append({"alpha": alpha, "beta": beta, "n_seeds": len(seeds), "seeds": [s["seed"] for s in seeds],
                         "curve": _median_curve([s["env"] for s in seeds]),
                         "attack": _stats(s["final"] for s in seeds), "attack_mean": _stats(s["mean"] for s in seeds),
                         "steps": _stats(s["steps"] for s in seeds), "max_steps": max(caps) if caps else None,
                         "capped": sum(s["capped"] for s in seeds),
                         "stop_known": sum(s["stop_reached"] is not None for s in seeds),
                         "retain": _stats(s["retain"] for s in seeds),
                         "teacher_retain": float(np.median(teacher)) if teacher else None})
        refs = {}
        for role in ("unlearn_only", "data_filtering"):
            runs = [{"curves": (i.get("results") or {}).get("curves") or {}, "seed": (i.get("tags") or {}).get("seed")}
                    for i in series.get(f"{setting}/{role}") or []]
            if runs:
                refs[role] = summarize_relearn(runs, measure, best)
        entry.update({"alphas": sorted({c["alpha"] for c in grid}), "betas": sorted({c["beta"] for c in grid}),
                      "cells": grid, "references": refs})
    return out


def factor_spread(values: Mapping[tuple[float, float], float]) -> dict:
    """How much a value moves with α and with β over an (α, β) grid (Figure 6's "α matters more than β").

    ``values`` maps ``(alpha, beta)`` to a number (e.g. the median attack value of that cell; NaN/None cells are
    left out). For each α the mean over its β (the α marginal), and for each β the mean over its α; a factor's
    *spread* is the max minus the min of its marginal means (None with fewer than two levels). ``complete`` says
    whether every (α, β) combination is present: on an incomplete grid the marginals average different cells.
    """
    cells = {(float(a), float(b)): float(v) for (a, b), v in values.items() if not _is_nan(v)}
    alphas, betas = sorted({a for a, _ in cells}), sorted({b for _, b in cells})

    def marginal(levels, pick):
        means = {lv: float(np.mean([v for k, v in cells.items() if pick(k) == lv])) for lv in levels}
        spread = max(means.values()) - min(means.values()) if len(means) >= 2 else None
        return {"means": means, "spread": spread}

    return {"alpha": marginal(alphas, lambda k: k[0]), "beta": marginal(betas, lambda k: k[1]),
            "complete": len(cells) == len(alphas) * len(betas), "n_cells": len(cells)}
