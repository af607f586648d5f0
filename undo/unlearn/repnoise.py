"""Representation Noising, RepNoise (Rosati et al., NeurIPS 2024; the paper's Section 6 baseline, Table 7).

On top of MaxEnt (the paper starts RepNoise from the best MaxEnt setting, App. D.1)::

    L = m * KL(U || p_theta)(forget) + r * CE(retain)
        + noise_weight * mean_l MMD(MLP_l(forget), N(0, I))
        - ascent_weight * log(H + 1)

- noise term: at every decoder block l, the MLP outputs on the forget batch (masked positions
  zeroed, each sequence flattened into one sample) against as many samples of N(0, I), with a
  Gaussian-kernel MMD (5 bandwidths around the mean pairwise distance, as the reference);
- ascent term: H is the mean forget CE over readouts of every layer: the logit lens
  (final norm + LM head) of the embeddings and of blocks 0..n-2, and the model's own logits for
  the last block. The reference adds its final-logit CE to n+1 lens CEs (the last one normalised
  twice) and divides by n+1; here H is a plain mean over n+1 readouts;
- masked positions: padding, and (``pair_mask``, as the reference's paired data) positions where
  the forget and retain windows hold the same token.

The reference's RepNoise loss contains its own retain CE, added to MaxEnt's, so its sum form
counts the retain CE twice: ``retain_weight: 2`` reproduces that. ``maxent_weight: 0`` gives plain
RepNoise. The activation hooks are registered for one forward pass and always removed (the
reference re-registers hooks on every module at every call and never removes them).

Table 7's grid of (alpha, beta) is ``TABLE7_GRID``; the caption calls alpha the noise weight and
beta the ascent weight, while the reference code multiplies the noise term by beta. The defaults
use the grid point where both readings agree, (1.0, 1.0), which App. D.2.6 also uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import option
from ..losses import cross_entropy, kl_to_uniform
from . import register
from .common import as_batch, block_output, decoder_layers, final_norm

TABLE7_GRID = ((0.1, 0.0001), (0.1, 0.001), (0.5, 0.01), (0.5, 0.1), (1.0, 0.1), (1.0, 1.0), (2.0, 2.0), (4.0, 4.0))
KERNEL_NUM, KERNEL_MUL = 5, 2.0  # the reference MMD's bandwidth mixture


def gaussian_mmd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Biased MMD^2 between samples x [n, D] and y [m, D] under a mixture of Gaussian kernels.

    Bandwidths: the mean pairwise squared distance over all n+m samples (not differentiated)
    divided by 2^(5//2), times 2^i for i = 0..4.
    """
    total = torch.cat([x, y]).float()
    sq_norms = total.pow(2).sum(-1)
    dist = (sq_norms[:, None] + sq_norms[None, :] - 2 * total @ total.T).clamp_min(0)
    n = total.size(0)
    bandwidth = (dist.detach().sum() / (n * n - n)).clamp_min(1e-12) / KERNEL_MUL ** (KERNEL_NUM // 2)
    kernel = sum(torch.exp(-dist / (bandwidth * KERNEL_MUL ** i)) for i in range(KERNEL_NUM))
    b = x.size(0)
    return (kernel[:b, :b] + kernel[b:, b:] - kernel[:b, b:] - kernel[b:, :b]).mean()


def capture_forward(model, layers, batch) -> tuple[torch.Tensor, dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """(logits, MLP output of each block, input hidden states of each block) of one forward pass.

    The hooks live for this one pass and are removed even if it fails. Block inputs are read with
    pre-hooks instead of ``output_hidden_states``, whose last entry is already normalised and which
    makes recent transformers install capture hooks of its own.
    """
    mlp_out: dict[int, torch.Tensor] = {}
    block_in: dict[int, torch.Tensor] = {}

    def keep_input(i):
        def hook(module, args, kwargs):
            block_in[i] = args[0] if args else kwargs["hidden_states"]
        return hook

    handles = []
    try:
        for i, layer in enumerate(layers):
            handles.append(layer.register_forward_pre_hook(keep_input(i), with_kwargs=True))
            handles.append(layer.mlp.register_forward_hook(
                lambda m, a, out, i=i: mlp_out.__setitem__(i, block_output(out))))
        logits = batch.forward(model, use_cache=False).logits
    finally:
        for handle in handles:
            handle.remove()
    return logits, mlp_out, block_in


@dataclass(frozen=True, kw_only=True)
class RepNoiseConfig:
    noise_weight: float = option(1.0, "weight of the MMD-to-noise term (Table 7 grid; 1.0 in App. D.2.6)", ge=0)
    ascent_weight: float = option(1.0, "weight of -log(H + 1), the logit-lens ascent (Table 7; 1.0 in D.2.6)", ge=0)
    maxent_weight: float = option(1.0, "weight of MaxEnt's KL(U || p) on forget (0: RepNoise alone)", ge=0)
    retain_weight: float = option(1.0, "weight of the retain CE (reference sum form: 2, see module doc)", ge=0)
    pair_mask: bool = option(True, "also mask positions where forget and retain windows share the token")


@register("repnoise")
class RepNoise:
    Config = RepNoiseConfig

    def __init__(self, cfg: RepNoiseConfig):
        self.cfg = cfg

    def setup(self, model) -> None:
        """Trains every parameter; checks the model has the blocks, MLPs and final norm the loss reads."""
        _, layers = decoder_layers(model)
        if not all(hasattr(layer, "mlp") for layer in layers):
            raise ValueError(f"repnoise: the decoder blocks of {type(model).__name__} have no 'mlp' submodule")
        final_norm(model)

    def loss(self, model, forget, retain):
        forget, retain = as_batch(forget), as_batch(retain)
        cfg = self.cfg
        retain_ce = cross_entropy(retain.forward(model).logits, retain.input_ids, retain.targets)

        mask = forget.attention_mask if forget.attention_mask is not None else torch.ones_like(forget.input_ids)
        if cfg.pair_mask and forget.input_ids.shape == retain.input_ids.shape:
            mask = mask * (forget.input_ids != retain.input_ids)
        targets = mask if forget.loss_mask is None else mask * forget.loss_mask

        _, layers = decoder_layers(model)
        out_logits, mlp_out, block_in = capture_forward(model, layers, forget)

        keep = mask.unsqueeze(-1).float()
        noise = sum(gaussian_mmd((mlp_out[i].float() * keep).flatten(1),
                                 (torch.randn_like(mlp_out[i], dtype=torch.float32) * keep).flatten(1))
                    for i in range(len(layers))) / len(layers)

        norm, head = final_norm(model), model.get_output_embeddings()
        readouts = [head(norm(block_in[i])) for i in range(len(layers))] + [out_logits]
        ascent = sum(cross_entropy(logits, forget.input_ids, targets) for logits in readouts) / len(readouts)

        maxent = kl_to_uniform(out_logits, forget.targets)
        loss = (cfg.maxent_weight * maxent + cfg.retain_weight * retain_ce + cfg.noise_weight * noise
                - cfg.ascent_weight * torch.log(ascent + 1))
        return loss, {"forget_kl_uniform": maxent.item(), "retain_ce": retain_ce.item(),
                      "noise_mmd": noise.item(), "forget_ce_readouts": ascent.item()}
