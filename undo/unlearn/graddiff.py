"""Gradient Difference unlearning (Section 4, Method A; Table 5, App. D.1).

    L = -CE(forget) + alpha * CE(retain)

ascending the forget cross-entropy while descending the retain one. alpha = 1 for language and
15 for arithmetic (App. D.1). ``weighting: convex`` gives the reference's WMDP form
(1 - alpha) * (-CE_f) + alpha * CE_r with 0 < alpha < 1. Without a retain term (alpha = 0) this is
plain gradient ascent, which diverges without early stopping.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import option
from ..losses import cross_entropy
from . import register
from .common import Batch, ForgetRetainMethod, Weighting, check_convex, coefficients


@dataclass(frozen=True, kw_only=True)
class GradDiffConfig:
    retain_weight: float = option(1.0, "alpha, weight of the retain CE (App. D.1: 1 language, 15 arithmetic)", ge=0)
    weighting: Weighting = option("sum", "sum: -CE_f + a CE_r; convex: (1-a)(-CE_f) + a CE_r (reference WMDP form)")

    def validate(self) -> None:
        check_convex(self.weighting, self.retain_weight)


@register("graddiff")
class GradDiff(ForgetRetainMethod):
    Config = GradDiffConfig

    def __init__(self, cfg: GradDiffConfig):
        self.cfg = cfg
        self.forget_coef, self.retain_coef = coefficients(cfg.weighting, cfg.retain_weight)

    def forget_loss(self, model, forget: Batch):
        ce = cross_entropy(forget.forward(model).logits, forget.input_ids, forget.targets)
        return -self.forget_coef * ce, {"forget_ce": ce.item()}

    def retain_loss(self, model, retain: Batch):
        ce = cross_entropy(retain.forward(model).logits, retain.input_ids, retain.targets)
        return self.retain_coef * ce, {"retain_ce": ce.item()}
