"""MaxEnt unlearning (Section 4, Appendix B; Table 5; WMDP variant Appendix D.2.3).

Language/arithmetic (``weighting: sum``, ``retain_loss: ce``)::

    L = KL(U || p_theta) on forget tokens + w * CE(retain)

pushing the next-token distribution on forget data toward uniform while keeping retain data
modelled. WMDP variant (``weighting: convex``, ``retain_loss: kl``, 0 < w < 1)::

    L = (1 - w) * KL(U || p_theta)(forget) + w * KL(p_theta0 || p_theta)(retain)

with theta_0 the frozen model before unlearning (Table 10 picks w = 0.3 bio, 0.2 cyber).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import option
from ..losses import cross_entropy, forward_kl, kl_to_uniform
from . import register
from .common import Batch, ForgetRetainMethod, Weighting, check_convex, coefficients, frozen_copy


@dataclass(frozen=True, kw_only=True)
class MaxEntConfig:
    retain_weight: float = option(1.0, "weight w of the retain term (reference: balance_alpha 1.0; WMDP: alpha)", ge=0)
    retain_loss: Literal["ce", "kl"] = option(
        "ce", "retain term: CE on retain tokens, or KL(frozen original || model) (WMDP, App. D.2.3)")
    weighting: Weighting = option("sum", "sum: L_f + w L_r; convex: (1-w) L_f + w L_r (WMDP, App. D.2.3)")

    def validate(self) -> None:
        check_convex(self.weighting, self.retain_weight)


@register("maxent")
class MaxEnt(ForgetRetainMethod):
    Config = MaxEntConfig

    def __init__(self, cfg: MaxEntConfig):
        self.cfg = cfg
        self.forget_coef, self.retain_coef = coefficients(cfg.weighting, cfg.retain_weight)
        self.frozen = None

    def setup(self, model) -> None:
        """Trains every parameter; the KL retain term keeps a frozen copy of the original model."""
        if self.cfg.retain_loss == "kl":
            self.frozen = frozen_copy(model)

    def forget_loss(self, model, forget: Batch):
        term = kl_to_uniform(forget.forward(model).logits, forget.targets)
        return self.forget_coef * term, {"forget_kl_uniform": term.item()}

    def retain_loss(self, model, retain: Batch):
        logits = retain.forward(model).logits
        if self.cfg.retain_loss == "kl":
            if self.frozen is None:
                raise RuntimeError("maxent with retain_loss 'kl' needs setup(model) first (it keeps the frozen model)")
            teacher = retain.forward(self.frozen).logits.detach()
            term, name = forward_kl(logits, teacher, retain.targets), "retain_kl"
        else:
            term, name = cross_entropy(logits, retain.input_ids, retain.targets), "retain_ce"
        return self.retain_coef * term, {name: term.item()}
