"""Token-level losses shared by the stages.

All take logits [B, T, V] for a packed window and score next-token predictions, so position t
predicts token t+1; ``mask`` [B, T] marks the target tokens that count (1) and padding (0).
Averages are over counted tokens, never over padded batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _shift(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor | None):
    logits = logits[:, :-1]
    targets = input_ids[:, 1:]
    weights = torch.ones_like(targets, dtype=logits.dtype) if mask is None else mask[:, 1:].to(logits.dtype)
    return logits, targets, weights


def cross_entropy(logits, input_ids, mask=None) -> torch.Tensor:
    """Mean next-token cross-entropy over counted target tokens."""
    logits, targets, weights = _shift(logits, input_ids, mask)
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), reduction="none")
    return (ce * weights.reshape(-1)).sum() / weights.sum().clamp_min(1)


def cross_entropy_sum(logits, input_ids, mask=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed CE, number of counted tokens), for token-weighted averages across batches."""
    logits, targets, weights = _shift(logits, input_ids, mask)
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), reduction="none")
    return (ce * weights.reshape(-1)).sum(), weights.sum()


def forward_kl(student_logits, teacher_logits, mask=None, *, temperature: float = 1.0) -> torch.Tensor:
    """KL(p_teacher || p_student) summed over the vocabulary, averaged over counted positions.

    This is the distillation loss of Sections 3-5 (forward KL on outputs, T = 1). With ``temperature`` T both
    distributions are softmax(logits / T), and the loss is *not* rescaled by T^2 (the TOFU distillation of App. F,
    T = 4, as the authors' open-unlearning fork computes it). Positions are the predicting positions 0..T-2,
    matching the cross-entropy targets.
    """
    s = F.log_softmax(student_logits[:, :-1].float() / temperature, dim=-1)
    t = F.log_softmax(teacher_logits[:, :-1].float() / temperature, dim=-1)
    kl = (t.exp() * (t - s)).sum(-1)
    weights = torch.ones_like(kl) if mask is None else mask[:, 1:].to(kl.dtype)
    return (kl * weights).sum() / weights.sum().clamp_min(1)


def kl_to_uniform(logits, mask=None) -> torch.Tensor:
    """KL(U || p) with U uniform over the vocabulary, averaged over counted positions (MaxEnt's forget term).

    KL(U||p) = sum_v (1/V) (log(1/V) - log p_v) = -log V - mean_v log p_v.
    """
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    vocab = logp.size(-1)
    kl = -torch.log(torch.tensor(float(vocab))) - logp.mean(-1)
    weights = torch.ones_like(kl) if mask is None else mask[:, 1:].to(kl.dtype)
    return (kl * weights).sum() / weights.sum().clamp_min(1)
