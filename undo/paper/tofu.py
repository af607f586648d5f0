"""The TOFU setting's analysis (App. F): metrics through the phases, relearning curves, the quantization table.

The results JSONs of Figures 12-13 and Table 14 hold, per model family (``gemma/...``, ``phi/...``), the gathered
instances of the finetuning, unlearning and distillation stages (their evaluation history), the relearning attacks
(tagged ``model``: the unlearned-only model ``unlearn``, the distilled ``distill`` and the control, the base model
that never saw TOFU; and ``seed``) and the quantization attacks (tagged ``model``, with every precision's metrics).

A relearning attack on one model in one seed is read at the attacker's best learning rate: the one whose curve
ends with the highest forget Q&A probability (the attacker elicits knowledge; ties by the mean over the curve), the
same choice :func:`undo.attacks.relearn.attack_strength` ranks by. Every metric is then read from that one curve.

Usage::

    phase_curves(results["series"]["gemma/unlearn"], "forget_Q_A_Prob")    # {seed: (steps, values)}
    attacked = attack_curves(results["series"]["gemma/relearn"])          # {role: {seed: curve at the best lr}}
    quantized(results["series"]["gemma/quantize"])                        # {role: {mode: {seed: metrics}}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..attacks.relearn import attack_strength

FORGET_METRICS = ("forget_Q_A_Prob", "forget_Q_A_ROUGE", "forget_truth_ratio")  # Figure 13's light lines
PHASE_METRICS = ("forget_Q_A_Prob", "forget_Q_A_ROUGE", "forget_truth_ratio", "forget_quality", "mia_min_k",
                 "retain_Q_A_Prob", "model_utility")                            # Figure 12's seven metrics
TABLE_METRICS = ("forget_Q_A_Prob", "forget_truth_ratio", "model_utility")     # Table 14's columns
PHASES = ("finetune", "unlearn", "distill")
ROLES = ("unlearn", "distill", "control")
ROLE_LABELS = {"finetune": "Finetuned", "unlearn": "GradDiff", "distill": "GradDiff + Distilled",
               "control": "Control (base)"}
FAMILY_LABELS = {"gemma": "Gemma-2", "phi": "Phi"}
MODE_LABELS = {"none": "full precision", "bnb-fp4": "INT4 (bnb FP4)", "bnb-nf4": "INT4 (bnb NF4)",
               "rtn-int4": "INT4 (RTN)"}
METRIC_LABELS = {"forget_Q_A_Prob": "Forget Q&A prob.", "forget_Q_A_ROUGE": "Forget Q&A ROUGE",
                 "forget_truth_ratio": "Forget truth ratio", "forget_quality": "Forget quality",
                 "mia_min_k": "MIA (min-k%)", "retain_Q_A_Prob": "Retain Q&A prob.", "model_utility": "Model utility"}


def families(series: Mapping[str, Any]) -> list[str]:
    """The model families present (``gemma``, ``phi``), in the paper's order."""
    names = {name.split("/", 1)[0] for name in series}
    return sorted(names, key=lambda f: (list(FAMILY_LABELS).index(f) if f in FAMILY_LABELS else 99, f))


def needed(series: Mapping[str, Any], name: str, figure: str) -> list:
    """The instances of series ``name``; a ValueError naming ``figure`` when the results lack it (or it is empty)."""
    instances = series.get(name) or []
    if not instances:
        have = ", ".join(sorted(series)) or "none"
        raise ValueError(f"{figure}: results need a non-empty series {name!r} (have: {have})")
    return list(instances)


def role(inst: Mapping) -> str:
    """The attacked model's role from its ``model`` tag: the unlearned, the distilled, or else the control."""
    model = (inst.get("tags") or {}).get("model", "")
    return model if model in ("unlearn", "distill", "finetune") else "control"


def seed(inst: Mapping) -> Any:
    return (inst.get("tags") or {}).get("seed")


def phase_curves(instances: Sequence[Mapping], metric: str) -> dict[Any, tuple[list[int], list[float]]]:
    """Per seed, the metric at each evaluation of a training stage (its ``metrics.jsonl`` history)."""
    out = {}
    for inst in instances or []:
        rows = [r for r in inst.get("history") or [] if f"eval/{metric}" in r]
        out[seed(inst)] = ([int(r["step"]) for r in rows], [float(r[f"eval/{metric}"]) for r in rows])
    return out


def final_eval(inst: Mapping) -> dict[str, float]:
    """A training stage's metrics after its last step (``eval`` of its summary)."""
    return dict((inst.get("summary") or {}).get("eval") or {})


def best_curve(inst: Mapping, measure: str = "forget") -> dict:
    """The attack's curve at the attacker's best learning rate (module docstring), with ``lr`` added."""
    curves = (inst.get("results") or {}).get("curves") or {}
    if not curves:
        raise ValueError(f"tofu: {inst.get('artifact', 'an instance')} has no relearning curves")
    lr = max(curves, key=lambda k: (attack_strength(curves[k], measure, True), -float(k)))
    return {**curves[lr], "lr": lr}


def attack_curves(instances: Sequence[Mapping]) -> dict[str, dict[Any, dict]]:
    """Per role (unlearn, distill, control) and seed, the attack's curve at the best learning rate."""
    out: dict[str, dict[Any, dict]] = {}
    for inst in instances or []:
        out.setdefault(role(inst), {})[seed(inst)] = best_curve(inst)
    return out


def control_metrics(instances: Sequence[Mapping]) -> dict[Any, dict[str, float]]:
    """Per seed, the control's metrics before any attack (step 0 of its relearning curve)."""
    out = {}
    for inst in instances or []:
        curve = next(iter(((inst.get("results") or {}).get("curves") or {}).values()), None)
        if curve:
            out[seed(inst)] = {k: float(v[0]) for k, v in curve.items()
                               if isinstance(v, list) and v and v[0] is not None and k not in ("step", "train_loss")}
    return out


def mean_forget(curve: Mapping[str, Sequence]) -> list[float]:
    """Figure 13's bold line: at each step the mean of the forget metrics (NaN where one is missing)."""
    columns = [curve[m] for m in FORGET_METRICS if m in curve]
    return [float(sum(v) / len(v)) if all(not math.isnan(x) for x in v) else math.nan
            for v in zip(*columns, strict=True)] if columns else []


def quantized(instances: Sequence[Mapping]) -> dict[str, dict[str, dict[Any, dict]]]:
    """Per role (finetune, unlearn, distill, control), precision mode and seed: the metrics and what ran."""
    out: dict[str, dict[str, dict[Any, dict]]] = {}
    for inst in instances or []:
        for mode, entry in ((inst.get("summary") or {}).get("modes") or {}).items():
            out.setdefault(role(inst), {}).setdefault(mode, {})[seed(inst)] = {
                **entry["eval"], "backend": entry["record"].get("backend"), "scheme": entry["record"].get("scheme")}
    return out
