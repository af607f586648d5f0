"""Pieces the unlearning methods share: frozen copies, locating decoder blocks, loss weightings (batches: undo.batch).

Every method works on any Hugging Face causal LM (Gemma-2, Llama, GPT-2, ...). Architecture-specific
lookups (decoder blocks, the final norm) are found generically here and fail with a message naming
what was looked for.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import nn

from ..batch import Batch, as_batch, padded_batch  # noqa: F401  (the methods' batch type, re-exported)

Weighting = Literal["sum", "convex"]


def coefficients(weighting: Weighting, retain_weight: float) -> tuple[float, float]:
    """(forget, retain) coefficients of a two-term loss.

    ``sum``: L_f + w * L_r (language/arithmetic, Table 5). ``convex``: (1 - w) * L_f + w * L_r with
    0 < w < 1 (WMDP, Appendix D.2.3).
    """
    if weighting == "convex":
        return 1.0 - retain_weight, retain_weight
    return 1.0, retain_weight


def check_convex(weighting: Weighting, retain_weight: float) -> None:
    if weighting == "convex" and not 0 < retain_weight < 1:
        raise ValueError(f"retain_weight: convex weighting needs 0 < retain_weight < 1, got {retain_weight}")


def frozen_copy(model: nn.Module) -> nn.Module:
    """An evaluation-mode copy of the model with no trainable parameters (theta_0, the original model)."""
    frozen = copy.deepcopy(model).eval()
    frozen.requires_grad_(False)
    return frozen


def decoder_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """(qualified name, module list) of the model's decoder blocks.

    Found generically as the first ``ModuleList`` with ``config.num_hidden_layers`` entries, which is
    ``model.layers`` for Gemma/Llama/Mistral/Qwen, ``transformer.h`` for GPT-2, ``gpt_neox.layers`` ...
    """
    n = getattr(model.config, "num_hidden_layers", None)
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and n is not None and len(module) == n:
            return name, module
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__}: no ModuleList with "
                     f"config.num_hidden_layers={n} blocks")


def final_norm(model: nn.Module) -> nn.Module:
    """The norm applied before the LM head (for logit-lens readouts of intermediate hidden states)."""
    base = model.base_model
    for attr in ("norm", "final_norm", "ln_f", "final_layer_norm", "final_layernorm"):
        module = getattr(base, attr, None)
        if isinstance(module, nn.Module):
            return module
    raise ValueError(f"cannot find the final norm of {type(model).__name__} (looked for base_model.norm, "
                     "ln_f, final_layer_norm, final_layernorm)")


def block_output(output) -> torch.Tensor:
    """The hidden states a decoder block returns (a tensor, or the first element of a tuple in older transformers)."""
    return output[0] if isinstance(output, tuple) else output


def masked_mse(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error over the real positions of [B, T, D] activations (mean over tokens and dims)."""
    sq = (x.float() - y.float()).pow(2)
    if mask is None:
        return sq.mean()
    weights = mask.to(sq.dtype).unsqueeze(-1)
    return (sq * weights).sum() / (weights.sum().clamp_min(1) * sq.size(-1))


class ForgetRetainMethod:
    """Base of methods whose loss is a forget part plus a retain part, L = L_forget + L_retain.

    Subclasses implement ``forget_loss`` and ``retain_loss`` (each already weighted, returning
    ``(loss, logs)``); keeping the parts apart lets SAM take its perturbation from the forget part
    alone (:mod:`undo.unlearn.sam`).
    """

    def setup(self, model) -> None:
        """Default: train every parameter, keep no frozen copy."""

    def forget_loss(self, model, forget: Batch) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def retain_loss(self, model, retain: Batch) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def loss(self, model, forget, retain) -> tuple[torch.Tensor, dict]:
        forget_part, forget_logs = self.forget_loss(model, as_batch(forget))
        retain_part, retain_logs = self.retain_loss(model, as_batch(retain))
        return forget_part + retain_part, {**forget_logs, **retain_logs}
