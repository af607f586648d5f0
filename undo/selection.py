"""Picking the unlearning learning rate from a sweep (Appendix B.1, App. D.1).

The paper chooses "the learning rate that provided the best trade-off between retain performance and
forget degradation" without stating a rule. This module states one:

1. admissible: the final retain performance is within ``tolerance`` (10%, relative) of the initial
   retain performance, i.e. final >= (1 - tol) * initial for accuracies (``higher_is_better``) and
   final <= (1 + tol) * initial for cross-entropies;
2. among admissible learning rates, the most forgotten one: lowest forget accuracy, or highest
   forget cross-entropy;
3. ties go to the lower learning rate.

On the arithmetic sweeps of App. B.1 this rule picks the bold choices (GradDiff 8e-6, MaxEnt 9e-5).

Usage::

    best = select_lr([SweepPoint(lr=9e-5, initial_retain=0.875, final_retain=0.795, final_forget=0.0125), ...])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SweepPoint:
    """One unlearning run of a learning-rate sweep: retain before and after, forget after."""

    lr: float
    initial_retain: float
    final_retain: float
    final_forget: float


def retains_enough(point: SweepPoint, *, tolerance: float = 0.10, higher_is_better: bool = True) -> bool:
    """Whether the final retain performance is within ``tolerance`` (relative) of the initial one."""
    allowed = tolerance * abs(point.initial_retain)
    if higher_is_better:
        return point.final_retain >= point.initial_retain - allowed - 1e-12
    return point.final_retain <= point.initial_retain + allowed + 1e-12


def select_lr(points: Iterable[SweepPoint], *, tolerance: float = 0.10, higher_is_better: bool = True) -> SweepPoint:
    """The sweep point with the best trade-off by the rule in the module docstring.

    ``higher_is_better`` describes the metric: true for accuracies, false for cross-entropies (then a
    higher forget CE means more forgotten). Raises ValueError when no learning rate retains enough.
    """
    points = list(points)
    if not points:
        raise ValueError("select_lr: empty sweep")
    admissible = [p for p in points if retains_enough(p, tolerance=tolerance, higher_is_better=higher_is_better)]
    if not admissible:
        worst = ", ".join(f"lr {p.lr:g}: {p.initial_retain:g} -> {p.final_retain:g}" for p in points)
        raise ValueError(f"select_lr: no learning rate keeps retain within {tolerance:.0%} of its initial value ({worst})")

    def forgetting(p: SweepPoint) -> float:  # larger = more forgotten
        return -p.final_forget if higher_is_better else p.final_forget

    return max(admissible, key=lambda p: (forgetting(p), -p.lr))
