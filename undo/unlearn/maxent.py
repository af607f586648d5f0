"""MaxEnt unlearning (Section 4, Appendix B; Table 5).

    L = KL(U || p_theta) on forget tokens + retain_weight * CE on retain tokens

pushing the next-token distribution on forget data toward uniform while keeping retain data
modelled. (The WMDP variant with a KL-to-frozen retain term arrives with the other methods.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..accel import lm_cross_entropy, lm_kl_to_uniform
from ..config import option
from . import register


@dataclass(frozen=True, kw_only=True)
class MaxEntConfig:
    retain_weight: float = option(1.0, "weight of the retain CE (reference: balance_alpha 1.0)", ge=0)


@register("maxent")
class MaxEnt:
    Config = MaxEntConfig

    def __init__(self, cfg: MaxEntConfig):
        self.cfg = cfg

    def setup(self, model) -> None:
        """MaxEnt trains every parameter and needs no frozen copy."""

    def loss(self, model, forget, retain):
        forget_term = lm_kl_to_uniform(model, forget)
        retain_term = lm_cross_entropy(model, retain)
        loss = forget_term + self.cfg.retain_weight * retain_term
        return loss, {"forget_kl_uniform": forget_term.item(), "retain_ce": retain_term.item()}
