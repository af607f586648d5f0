"""INT4 quantization attack (Appendix F.2, Table 14; Zhang et al. 2024, "Catastrophic failure of LLM
unlearning via quantization").

An unlearned model whose weights moved only a little from the original can get its forgotten knowledge back
when the weights are rounded to 4 bits. The attack is: reload the model quantized, then rerun the forget and
retain evaluations. Modes:

- ``none``: the plain fp32 model (the "FP16" row of Table 14, kept at the kit's fp32).
- ``bnb-fp4`` / ``bnb-nf4``: what Zhang et al. ran, ``BitsAndBytesConfig(load_in_4bit=True)`` (FP4 is the
  bitsandbytes default; NF4 is the QLoRA format), blocks of 64 weights with an absmax scale each, no double
  quantization. The compute dtype is fp32 on every device: it is ``BitsAndBytesConfig``'s default (what the
  attack paper's bare config ran) and keeps the only difference from ``none`` the rounding of the weights.
  bitsandbytes 0.50.2 runs 4-bit on CPU too; where no backend works, :class:`QuantizationUnavailable`.
- ``rtn-int4``: dependency-free group-wise round-to-nearest INT4 fake quantization, done in place in torch
  (:func:`rtn_quantize_`). It runs everywhere and is deterministic.

The RTN scheme is asymmetric min-max per group of ``group_size`` consecutive input weights of an output row,
as in GPTQ's RTN baseline (its quantizer's default, ``--sym`` off) and AWQ's INT4 g128 (zero point on)::

    lo = min(min(w), 0); hi = max(max(w), 0)      # range stretched to hold 0, as GPTQ does
    scale = (hi - lo) / 15;  zero = round(-lo / scale)          # zero is an integer in [0, 15]
    q = clamp(round(w / scale) + zero, 0, 15);  w_hat = (q - zero) * scale

Asymmetric rather than symmetric because a group's weights are rarely centred: symmetric absmax wastes part
of the 16 levels on the side with the smaller magnitude. Stretching the range to hold 0 keeps the zero point a
true 4-bit integer (a group of all-positive weights would otherwise need a negative one) and makes 0 exact.
Every weight ends within scale/2 of its original. When ``in_features`` is not a multiple of ``group_size`` the
last group of each row is shorter (and a row shorter than a group is one group): refusing would rule out the
kit's small models, whose widths are below 128. The output head (``lm_head``) stays in full precision in every
mode, as bitsandbytes leaves it; Gemma-2 ties it to the embedding, which is not a Linear, so the tie holds.

Usage::

    model, record = load_quantized(model_dir, "rtn-int4")       # or "bnb-fp4", "bnb-nf4", "none"
    record = rtn_quantize_(model, bits=4, group_size=128)       # an already loaded model, in place
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .models import load_model

QUANT_MODES = ("none", "bnb-fp4", "bnb-nf4", "rtn-int4")
RTN_SCHEME = "asymmetric min-max per group, range holding 0 (GPTQ RTN)"


class QuantizationUnavailable(RuntimeError):
    """A quantization mode cannot run on this machine; the one-line message says why and what to use instead."""


# ----------------------------------------------------------------------------- round-to-nearest (pure torch)

def _quantize_groups(groups: torch.Tensor, maxq: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric min-max RTN over the last dimension of ``groups`` (rows, n_groups, group)."""
    lo = groups.amin(-1).clamp(max=0)
    hi = groups.amax(-1).clamp(min=0)
    scale = (hi - lo) / maxq
    # An all-zero group has hi == lo == 0: any positive scale represents it exactly (GPTQ widens it to [-1, 1]).
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero = torch.round(-lo / scale)
    q = torch.clamp(torch.round(groups / scale[..., None]) + zero[..., None], 0, maxq)
    return (q - zero[..., None]) * scale[..., None], scale, zero


def rtn_fake_quant(weight: torch.Tensor, bits: int = 4, group_size: int = 128
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dequantised, scales, zeros)`` of a 2-D ``weight`` (out, in) under group-wise RTN (module docstring).

    The dequantised tensor has ``weight``'s shape and dtype; ``scales`` and ``zeros`` are fp32 of shape
    (out, ceil(in / group_size)), one per group, the last group of a row possibly shorter."""
    if weight.dim() != 2:
        raise ValueError(f"rtn_fake_quant takes a 2-D weight (out, in), got shape {tuple(weight.shape)}")
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be in [2, 8], got {bits}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    maxq = 2 ** bits - 1
    w = weight.detach().float()
    rows, cols = w.shape
    full = cols // group_size * group_size
    pieces = []  # (dequantised, scale, zero) of the full groups, then of the shorter tail group
    if full:
        pieces.append(_quantize_groups(w[:, :full].reshape(rows, -1, group_size), maxq))
    if full < cols:
        pieces.append(_quantize_groups(w[:, full:].reshape(rows, 1, cols - full), maxq))
    dequantised = torch.cat([p[0].reshape(rows, -1) for p in pieces], dim=1)
    scales = torch.cat([p[1] for p in pieces], dim=1)
    zeros = torch.cat([p[2] for p in pieces], dim=1)
    return dequantised.to(weight.dtype), scales, zeros


def _skipped(name: str, skip: tuple[str, ...]) -> bool:
    return name in skip or name.rsplit(".", 1)[-1] in skip


@torch.no_grad()
def rtn_quantize_(model: nn.Module, *, bits: int = 4, group_size: int = 128, skip: tuple[str, ...] = ("lm_head",)
                  ) -> dict:
    """Fake-quantize every ``nn.Linear`` weight of ``model`` in place (biases stay full precision).

    A Linear is skipped when its name, or its last dotted part, is in ``skip``, and also when its weight is
    shared with a non-Linear module (a head tied to the embedding), since rounding it in place would round the
    embedding too. Returns the counts and the skipped names."""
    shared = {p.data_ptr() for m in model.modules() if not isinstance(m, nn.Linear)
              for p in m.parameters(recurse=False)}
    record = {"scheme": RTN_SCHEME, "bits": bits, "group_size": group_size, "quantized_layers": 0,
              "quantized_params": 0, "skipped": []}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        if _skipped(name, skip) or module.weight.data_ptr() in shared:
            record["skipped"].append(name)
            continue
        if not torch.isfinite(module.weight).all():
            raise ValueError(f"{name}: weight has NaN or inf values; cannot quantize it")
        dequantised, _, _ = rtn_fake_quant(module.weight, bits, group_size)
        module.weight.copy_(dequantised)
        record["quantized_layers"] += 1
        record["quantized_params"] += module.weight.numel()
    return record


# ----------------------------------------------------------------------------- bitsandbytes 4-bit

def bnb_4bit_unavailable(device: str) -> str | None:
    """Why bitsandbytes 4-bit cannot run on ``device`` here, or None when it can.

    Quantizes and dequantizes one tiny block for real: bitsandbytes imports without a usable backend and fails
    only at the first kernel call."""
    try:
        import bitsandbytes.functional as bnb_functional
    except Exception as err:  # a broken install raises anything from ImportError to RuntimeError
        return f"bitsandbytes cannot be imported ({_first_line(err)})"
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        return "no CUDA device is visible to torch"
    try:
        block = torch.linspace(-1.0, 1.0, 64, device=device)
        packed, state = bnb_functional.quantize_4bit(block, blocksize=64, quant_type="nf4")
        bnb_functional.dequantize_4bit(packed, state)
    except Exception as err:  # any kernel failure means no usable backend
        return f"bitsandbytes {_bnb_version()} has no 4-bit kernel for {device} ({_first_line(err)})"
    return None


def _load_bnb(path: Path, quant_type: str, device: str):
    from bitsandbytes.nn import Linear4bit
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type,
                                bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", dtype=torch.float32,
                                                 quantization_config=config, device_map={"": device})
    layers = [m for m in model.modules() if isinstance(m, Linear4bit)]
    for layer in layers:
        # On CPUs with AVX512-BF16, bitsandbytes repacks the weights at the first eval forward and multiplies in
        # bfloat16 (a fused kernel), whatever compute dtype was asked for; elsewhere it dequantizes and multiplies
        # in float32. Turning the fused kernel off gives the float32 path on every CPU, so an INT4 result does not
        # depend on which CPU ran it (and matches what the record states). GPUs are unaffected.
        layer.support_avx512bf16_for_cpu = False
    record = {"scheme": f"bitsandbytes {quant_type}, absmax per block, no double quantization", "bits": 4,
              "cpu_kernel": "dequantize to float32, then a float32 matmul",
              # bitsandbytes' 4-bit block size is fixed (64 weights); read it back rather than assume it.
              "group_size": layers[0].weight.quant_state.blocksize if layers else None,
              "quantized_layers": len(layers),
              "quantized_params": sum(m.in_features * m.out_features for m in layers),
              "skipped": [n for n, m in model.named_modules()
                          if isinstance(m, nn.Linear) and not isinstance(m, Linear4bit)]}
    return model, record


# ----------------------------------------------------------------------------- entry point

def load_quantized(path: Path, mode: str, *, device: str = "cpu", group_size: int = 128) -> tuple[nn.Module, dict]:
    """The ``save_pretrained`` model at ``path`` under quantization ``mode``, in eval mode, and a record of what ran.

    ``group_size`` applies to ``rtn-int4`` only; the bnb modes record bitsandbytes' own block size."""
    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantization mode {mode!r}; choose one of {', '.join(QUANT_MODES)}")
    path = Path(path)
    record = {"mode": mode, "device": device, "compute_dtype": "float32", "bitsandbytes": None}
    if mode.startswith("bnb-"):
        reason = bnb_4bit_unavailable(device)
        if reason is not None:
            fix = "needs a CUDA GPU" if torch.device(device).type == "cuda" else "needs a bitsandbytes CPU backend"
            raise QuantizationUnavailable(f"quantization mode {mode} cannot run on {device}: {reason}; it {fix}, "
                                          "or use mode rtn-int4, which runs everywhere")
        model, stats = _load_bnb(path, mode.removeprefix("bnb-"), device)
        record.update(backend="bitsandbytes", bitsandbytes=_bnb_version(), **stats)
    else:
        model = load_model(path, device)
        if mode == "rtn-int4":
            stats = rtn_quantize_(model, bits=4, group_size=group_size)
        else:
            stats = {"scheme": "full precision", "bits": 32, "group_size": None, "quantized_layers": 0,
                     "quantized_params": 0, "skipped": []}
        record.update(backend="torch", **stats)
    model.eval()
    return model, record


def _bnb_version() -> str:
    from importlib.metadata import version

    return version("bitsandbytes")


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
