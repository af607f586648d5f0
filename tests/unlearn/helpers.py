"""Helpers for the unlearning-method tests: building methods, gradient bookkeeping, hand-written losses."""

import torch

from undo.config import build
from undo.unlearn import get_method


def make_method(name: str, **options):
    """A registered method built from options the way the unlearn stage builds it."""
    cls = get_method(name)
    return cls(build(cls.Config, options, file="-"))


def params_with_grad(model) -> set[str]:
    """Names of parameters that received a non-zero gradient."""
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def all_param_names(model) -> set[str]:
    return {n for n, _ in model.named_parameters()}


def shifted_ce(logits, ids, mask=None):
    """Next-token CE averaged over scored targets, written out independently of undo.losses."""
    logp = torch.log_softmax(logits[:, :-1].double(), -1)
    nll = -logp.gather(-1, ids[:, 1:, None])[..., 0]
    w = torch.ones_like(nll) if mask is None else mask[:, 1:].double()
    return (nll * w).sum() / w.sum()


def perturb(model, scale=0.05, seed=3):
    """Move every parameter a little (so a model and its frozen original differ)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def assert_close(actual, expected):
    """Float32 module arithmetic against float64 hand computations."""
    torch.testing.assert_close(torch.as_tensor(actual).double(), torch.as_tensor(expected).double(),
                               rtol=1e-5, atol=1e-6)
