"""Representation Misdirection for Unlearning, RMU (Section 4, Method C; Li et al. 2024; Table 5).

    L = MSE(h_l(theta; forget), c * u) + alpha * MSE(h_l(theta; retain), h_l(theta_0; retain))

h_l is the output of decoder block ``layer`` (as the original RMU hooks ``model.layers[l]``), u a
random unit vector drawn once from a fixed seed, c the steering coefficient and theta_0 the frozen
original model. Only the MLP down-projections of ``trainable_layers`` train, selected by parameter
name, so any Hugging Face causal LM with ``<layers>.<i>.mlp.down_proj`` works (set ``trainable`` for
other names, e.g. ``mlp.c_proj`` for GPT-2). MSEs average over real tokens and hidden dims.

Defaults are Table 5's language values (layers 5-11, end layer 11, c = 6.5, alpha = 1200);
arithmetic uses c = 6, alpha = 200. Variants of the UNDO reference code, each an explicit option:

- ``retain_term: false``: its language/arithmetic runs drop the retain term (``ga_gd`` False), so
  Table 5's alpha has no effect there.
- ``reference_off_by_one: true``: it reads ``hidden_states[layer]``, the output of block layer-1, so
  block ``layer``'s own down-projection gets no gradient.
- ``direction: gaussian``: it draws u from a normal, where the original RMU draws U[0, 1)^d.
- ``weighting: convex``: its WMDP runs use (1 - alpha) * forget + alpha * retain (App. D.2.3, Table 9).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import torch

from ..config import option
from . import register
from .common import (
    Batch,
    ForgetRetainMethod,
    Weighting,
    block_output,
    check_convex,
    coefficients,
    decoder_layers,
    frozen_copy,
    masked_mse,
)


@dataclass(frozen=True, kw_only=True)
class RMUConfig:
    layer: int = option(11, "decoder block whose output is steered (Table 5 'End Layer')", ge=0)
    trainable_layers: tuple[int, ...] = option((5, 6, 7, 8, 9, 10, 11), "blocks whose down-projection trains (Table 5)")
    trainable: str = option("mlp.down_proj", "module (name inside a block) that trains")
    steering_coeff: float = option(6.5, "c: norm of the forget target c*u (Table 5: 6.5 language, 6 arithmetic)", gt=0)
    retain_weight: float = option(1200.0, "alpha (Table 5: 1200 language, 200 arithmetic)", ge=0)
    retain_term: bool = option(True, "false: forget-only RMU, as the reference language/arithmetic code ran")
    weighting: Weighting = option("sum", "sum: L_f + a L_r; convex: (1-a) L_f + a L_r (WMDP, App. D.2.3)")
    reference_off_by_one: bool = option(False, "steer the output of block layer-1 (reference hidden_states[layer])")
    direction: Literal["uniform", "gaussian"] = option("uniform", "u ~ U[0,1)^d (original RMU) or N(0, I) (reference)")
    direction_seed: int = option(0, "seed of the random direction u")

    def validate(self) -> None:
        if not self.trainable_layers:
            raise ValueError("trainable_layers: must name at least one block")
        if self.reference_off_by_one and self.layer == 0:
            raise ValueError("layer: reference_off_by_one reads block layer-1, so layer must be >= 1")
        if self.retain_term:
            check_convex(self.weighting, self.retain_weight)


class _StopForward(Exception):
    """Raised by the capture hook: nothing after the steered block is needed."""


@register("rmu")
class RMU(ForgetRetainMethod):
    Config = RMUConfig

    def __init__(self, cfg: RMUConfig):
        self.cfg = cfg
        self.forget_coef, self.retain_coef = coefficients(cfg.weighting, cfg.retain_weight)
        self.frozen = None
        self.control = None  # c * u, [hidden]
        self.trainable_names: list[str] = []

    @property
    def read_block(self) -> int:
        return self.cfg.layer - 1 if self.cfg.reference_off_by_one else self.cfg.layer

    def setup(self, model) -> None:
        """Freeze all but the chosen down-projections, keep theta_0 for the retain term, draw u."""
        prefix, layers = decoder_layers(model)
        for i in (*self.cfg.trainable_layers, self.cfg.layer):
            if not 0 <= i < len(layers):
                raise ValueError(f"rmu: layer {i} does not exist ({type(model).__name__} has {len(layers)} blocks)")
        if self.cfg.retain_term:
            self.frozen = frozen_copy(model)
        wanted = tuple(f"{prefix}.{i}.{self.cfg.trainable}." for i in self.cfg.trainable_layers)
        model.requires_grad_(False)
        self.trainable_names = [name for name, _ in model.named_parameters() if name.startswith(wanted)]
        found = {name[len(prefix) + 1:].split(".")[0] for name in self.trainable_names}
        missing = [i for i in self.cfg.trainable_layers if str(i) not in found]
        if missing:
            raise ValueError(f"rmu: no parameter named '{prefix}.<i>.{self.cfg.trainable}.*' for blocks {missing} "
                             f"of {type(model).__name__}; set options.trainable to the MLP output projection's name")
        params = dict(model.named_parameters())
        for name in self.trainable_names:
            params[name].requires_grad_(True)
        gen = torch.Generator().manual_seed(self.cfg.direction_seed)
        hidden = model.config.hidden_size
        u = torch.rand(hidden, generator=gen) if self.cfg.direction == "uniform" else torch.randn(hidden, generator=gen)
        device = next(model.parameters()).device
        self.control = (self.cfg.steering_coeff * u / u.norm()).to(device)

    def activations(self, model, batch: Batch) -> torch.Tensor:
        """Output of the steered block [B, T, D]; the forward stops there (no later blocks, no LM head)."""
        captured = {}

        def hook(module, args, output):
            captured["h"] = block_output(output)
            raise _StopForward

        handle = decoder_layers(model)[1][self.read_block].register_forward_hook(hook)
        try:
            with contextlib.suppress(_StopForward):
                batch.forward(model, use_cache=False)
        finally:
            handle.remove()
        return captured["h"]

    def forget_loss(self, model, forget: Batch):
        if self.control is None:
            raise RuntimeError("rmu needs setup(model) first (it draws the direction and freezes parameters)")
        h = self.activations(model, forget)
        term = masked_mse(h, self.control.to(h.dtype).expand_as(h), forget.attention_mask)
        return self.forget_coef * term, {"forget_mse": term.item()}

    def retain_loss(self, model, retain: Batch):
        if not self.cfg.retain_term:
            return torch.zeros((), device=retain.input_ids.device), {}
        h = self.activations(model, retain)
        with torch.no_grad():
            h0 = self.activations(self.frozen, retain)
        term = masked_mse(h, h0, retain.attention_mask)
        return self.retain_coef * term, {"retain_mse": term.item()}
