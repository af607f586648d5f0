"""Sharpness-aware unlearning, SAM (Fan et al., ICML 2025; the paper's Section 6 baseline; Table 8).

Wraps a base method whose loss splits into L_f (forget part) + L_r (retain part) and solves
min_theta max_{||delta|| <= rho} L_f(theta + delta) + L_r(theta) with one ascent step::

    g     = grad L_f(theta)                  (mean over all micro-batches of the step)
    delta = rho * g / ||g||                  (global norm over trainable parameters)
    grad  = grad L_f(theta + delta) + grad L_r(theta)

The UNDO reference differs: it takes delta from the total loss, re-evaluates both terms at
theta + delta, and when accumulating gradients applies SAM at the last micro-batch only, after a
``zero_grad`` that discards the earlier micro-batches. Here ``step`` sees every micro-batch of the
optimizer step (the training loop's ``step_fn``), so accumulating k micro-batches of size b gives the
same update as one micro-batch of size k*b.

rho = 0.01 is Table 8's recommended value, used in App. D.2.6; Table 8 sweeps ``TABLE8_RHOS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..config import ConfigError, build, option
from . import get_method, register
from .common import ForgetRetainMethod, as_batch

TABLE8_RHOS = (0.001, 0.003, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1)


@dataclass(frozen=True, kw_only=True)
class SAMConfig:
    base: str = option("maxent", "base method whose forget part is perturbed (the paper: MaxEnt)")
    base_options: dict[str, Any] = option(default_factory=dict, doc="the base method's own options")
    rho: float = option(0.01, "perturbation radius (Table 8; 0.01 recommended, App. D.2.6)", ge=0)

    def validate(self) -> None:
        base_config(self)


def base_config(cfg: SAMConfig):
    """The base method's class and built config; errors name the offending ``base``/``base_options`` key."""
    try:
        cls = get_method(cfg.base)
    except KeyError as err:
        raise ValueError(f"base: {err.args[0]}") from None
    if not issubclass(cls, ForgetRetainMethod):
        raise ValueError(f"base: {cfg.base!r} has no separate forget and retain parts for SAM to perturb")
    try:
        return cls, build(cls.Config, cfg.base_options, file="-")
    except ConfigError as err:
        raise ValueError(f"base_options.{err.key}: {err.message}") from None


@register("sam")
class SAM:
    Config = SAMConfig

    def __init__(self, cfg: SAMConfig):
        self.cfg = cfg
        cls, base_cfg = base_config(cfg)
        self.base = cls(base_cfg)

    def setup(self, model) -> None:
        self.base.setup(model)

    def loss(self, model, forget, retain):
        """The objective at theta, unperturbed (training goes through :meth:`step`)."""
        return self.base.loss(model, forget, retain)

    def step(self, model, micro_batches) -> tuple[float, dict]:
        """Accumulate one optimizer step's SAM gradient into ``.grad``; returns the mean loss at theta and logs.

        ``micro_batches`` is the step's list of (forget, retain) pairs.
        """
        params = [p for p in model.parameters() if p.requires_grad]
        n = len(micro_batches)
        logs: dict[str, float] = {}

        def add_logs(part_logs):
            for k, v in part_logs.items():
                logs[k] = logs.get(k, 0.0) + float(v) / n

        # 1. the forget gradient at theta, over the whole step
        forget_grad = [torch.zeros_like(p) for p in params]
        forget_value = 0.0
        for forget, _ in micro_batches:
            part, part_logs = self.base.forget_loss(model, as_batch(forget))
            grads = torch.autograd.grad(part / n, params, allow_unused=True)
            for acc, g in zip(forget_grad, grads, strict=True):
                if g is not None:
                    acc.add_(g)
            forget_value += part.item() / n
            add_logs(part_logs)
        grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in forget_grad]))
        scale = self.cfg.rho / (grad_norm + 1e-12)

        # 2. the forget gradient at theta + delta; theta is restored exactly from a copy
        original = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, g in zip(params, forget_grad, strict=True):
                p.add_(g * scale)
        del forget_grad
        perturbed_value = 0.0
        try:
            for forget, _ in micro_batches:
                part, _ = self.base.forget_loss(model, as_batch(forget))
                (part / n).backward()
                perturbed_value += part.item() / n
        finally:
            with torch.no_grad():
                for p, saved in zip(params, original, strict=True):
                    p.copy_(saved)
        del original

        # 3. the retain gradient at theta
        retain_value = 0.0
        for _, retain in micro_batches:
            part, part_logs = self.base.retain_loss(model, as_batch(retain))
            if part.requires_grad:
                (part / n).backward()
            retain_value += part.item() / n
            add_logs(part_logs)
        logs.update({"sam_forget_perturbed": perturbed_value, "sam_forget_grad_norm": grad_norm.item()})
        return forget_value + retain_value, logs
