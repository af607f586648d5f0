"""Shrink-and-perturb noise, the "N" of UNDO (Section 5, Appendix C).

    theta <- (1 - alpha) * theta + alpha * beta * N

with N drawn fresh from Xavier-uniform for every 2-D weight (the tied embedding included) and
N = 0 for 1-D weights (Gemma-2's RMSNorm scales, which are therefore only shrunk; Gemma applies
them as (1 + w), so shrinking moves the norm scale toward 1). alpha = 1, beta = 1 is a fresh
Xavier initialisation; beta = 0 is pure shrinkage. Unlike the reference code, whose seed
argument is unused, the noise comes from a generator seeded by ``seed``.

Usage::

    shrink_perturb(model, alpha=0.6, beta=0.1, seed=0)
"""

from __future__ import annotations

import torch


@torch.no_grad()
def shrink_perturb(model: torch.nn.Module, alpha: float, beta: float, seed: int) -> dict[str, int]:
    """Noise ``model`` in place; returns how many tensors were perturbed and only shrunk."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    generator = torch.Generator(device="cpu").manual_seed(seed)
    counts = {"perturbed": 0, "shrunk_only": 0}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.dim() == 2:
            noise = torch.empty(param.shape, dtype=torch.float32)
            torch.nn.init.xavier_uniform_(noise, generator=generator)
            counts["perturbed"] += 1
        elif param.dim() == 1:
            noise = torch.zeros(param.shape, dtype=torch.float32)
            counts["shrunk_only"] += 1
        else:
            raise RuntimeError(f"unsupported parameter shape {tuple(param.shape)} for {name}")
        mixed = (1 - alpha) * param.data.float() + alpha * beta * noise.to(param.device)
        param.data.copy_(mixed.to(param.dtype))
    return counts
