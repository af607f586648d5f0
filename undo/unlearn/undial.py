"""UNDIAL: self-distillation with adjusted logits (Dong et al. 2024; the paper's Section 6 baseline, App. D.1).

At each forget position t the frozen original model's logits z_0 are lowered by beta at the true
next token y_{t+1}, and the model is trained toward the softened target::

    q_t = softmax(z_0(x_<=t) - beta * onehot(y_{t+1}))
    L   = mean_t CE(q_t, p_theta(. | x_<=t))  [+ retain_weight * CE(retain)]

averaged over scored positions only: padding and prompt positions (``Batch.targets`` = 0) never
count, unlike open-unlearning's port, which builds the one-hot from labels that include -100.
The paper's UNDIAL has no retain term (``retain_weight: 0``). beta = 10 is open-unlearning's default,
which the authors' TOFU fork inherits (the UNDIAL paper sweeps 3-10).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import option
from ..losses import cross_entropy
from . import register
from .common import Batch, ForgetRetainMethod, frozen_copy


def undial_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, input_ids: torch.Tensor,
                mask: torch.Tensor | None, beta: float) -> torch.Tensor:
    """Mean soft-target CE toward the teacher's logits with the true next token lowered by ``beta``.

    Position t predicts token t+1; ``mask`` [B, T] marks scored target tokens (None: all).
    """
    targets = input_ids[:, 1:]
    teacher = teacher_logits[:, :-1].float()
    lowered = teacher - beta * F.one_hot(targets, teacher.size(-1)).to(teacher.dtype)
    soft = F.softmax(lowered, dim=-1)
    ce = -(soft * F.log_softmax(logits[:, :-1].float(), dim=-1)).sum(-1)
    weights = torch.ones_like(ce) if mask is None else mask[:, 1:].to(ce.dtype)
    return (ce * weights).sum() / weights.sum().clamp_min(1)


@dataclass(frozen=True, kw_only=True)
class UndialConfig:
    beta: float = option(10.0, "logit reduction of the true token (open-unlearning default; UNDIAL sweeps 3-10)", ge=0)
    retain_weight: float = option(0.0, "weight of an optional retain CE (0: the paper's UNDIAL, no retain term)", ge=0)


@register("undial")
class Undial(ForgetRetainMethod):
    Config = UndialConfig

    def __init__(self, cfg: UndialConfig):
        self.cfg = cfg
        self.frozen = None

    def setup(self, model) -> None:
        """Trains every parameter; keeps the frozen original model as the teacher."""
        self.frozen = frozen_copy(model)

    def forget_loss(self, model, forget: Batch):
        if self.frozen is None:
            raise RuntimeError("undial needs setup(model) first (it keeps the frozen teacher)")
        with torch.no_grad():
            teacher = forget.forward(self.frozen).logits
        term = undial_loss(forget.forward(model).logits, teacher, forget.input_ids, forget.targets, self.cfg.beta)
        return term, {"forget_undial": term.item()}

    def retain_loss(self, model, retain: Batch):
        if self.cfg.retain_weight == 0:
            return torch.zeros((), device=retain.input_ids.device), {}
        ce = cross_entropy(retain.forward(model).logits, retain.input_ids, retain.targets)
        return self.cfg.retain_weight * ce, {"retain_ce": ce.item()}
