"""Device-dependent execution: the eager fp32 reference path, and the fast GPU path.

The reference path (every CPU run, and CUDA with ``UNDO_ACCEL=reference``) is the kit's
definition of each computation: eager attention, fp32, full logits, :mod:`undo.losses`. The
fast path (chosen automatically when the model is on CUDA) computes the same losses with:

- bf16 autocast over fp32 master weights (the optimizer state and updates stay fp32);
- FlexAttention, which applies Gemma-2's attention softcap as a ``score_mod`` (HF's ``sdpa``
  path drops the softcap silently, and transformers refuses it for Gemma-2; flash-attn >= 2.6.3
  also applies it and may be chosen with ``UNDO_ATTENTION=flash_attention_2``);
- chunked vocabulary losses from the final hidden states (:mod:`undo.chunked`): the final-logit
  softcap applied, the 256k-wide logits never materialised for all positions at once;
- fused AdamW; and, with ``UNDO_COMPILE=1``, a ``torch.compile``d decoder.

Only the training forward uses FlexAttention: evaluation (greedy decoding with a KV cache, CE)
runs outside the loss helpers and keeps eager attention in fp32, so eval numbers depend on
the weights only, not on the kernel.

Environment overrides: ``UNDO_ACCEL`` = auto | reference | fast; ``UNDO_ATTENTION`` =
flex_attention | flash_attention_2 | eager; ``UNDO_PRECISION`` = bf16 | fp32;
``UNDO_COMPILE`` = 0 | 1; ``UNDO_LOSS_CHUNK`` = positions per loss chunk.

Multi-GPU: see docs/benchmarks.md ("Multi-GPU"): ``accelerate launch`` with DDP or FSDP runs
:mod:`undo.bench` through :class:`CausalLMLoss`, which keeps the chunked loss inside the
wrapped module's forward so DDP/FSDP see every parameter use.

Usage::

    loss = lm_cross_entropy(model, ids)              # pretraining / relearning
    loss = lm_forward_kl(student, teacher, ids)      # distillation
    optimizer = torch.optim.AdamW(params, lr=lr, **adamw_options(params))
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass

import torch

from . import chunked
from .batch import Batch
from .losses import cross_entropy, forward_kl, kl_to_uniform

# Attention implementations that apply Gemma-2's attention-logit softcap. "sdpa" is never
# allowed: it ignores the softcap.
SOFTCAP_ATTENTION = ("eager", "flex_attention", "flash_attention_2")
MIN_FLASH_ATTN = (2, 6, 3)  # softcap forward since 2.6, its backward fixed in 2.6.2/2.6.3


@dataclass(frozen=True)
class Accel:
    """How a model on one device type runs (see the module docstring)."""

    fast: bool
    device_type: str
    autocast_dtype: torch.dtype | None  # None: fp32, no autocast
    attention: str
    chunked_loss: bool
    chunk_positions: int | None  # None: from the vocabulary size (undo.chunked)
    fused_adamw: bool
    compile: bool

    def describe(self) -> dict:
        d = asdict(self)
        d["autocast_dtype"] = str(self.autocast_dtype).replace("torch.", "") if self.autocast_dtype else "fp32"
        return d


_FORCED: list[str] = []  # a stack of modes set by `use()`


def _flash_attn_ok() -> bool:
    try:
        from importlib.metadata import version

        parts = tuple(int(p) for p in version("flash-attn").split(".")[:3])
    except Exception:  # not installed, or an unparsable version
        return False
    return parts >= MIN_FLASH_ATTN


def check_attention(name: str) -> str:
    """Refuse attention implementations that drop Gemma-2's softcap or are not installed."""
    if "sdpa" in name or name not in SOFTCAP_ATTENTION:
        raise ValueError(f"attention {name!r}: use one of {', '.join(SOFTCAP_ATTENTION)} "
                         "(sdpa ignores Gemma-2's attention softcap)")
    if name == "flash_attention_2" and not _flash_attn_ok():
        need = ".".join(map(str, MIN_FLASH_ATTN))
        raise ValueError(f"attention flash_attention_2 needs flash-attn >= {need} (softcap backward)")
    return name


def select(device: str | torch.device, mode: str | None = None) -> Accel:
    """The execution settings for ``device``: fast on CUDA, reference elsewhere, unless overridden."""
    device_type = torch.device(device).type
    mode = mode or (_FORCED[-1] if _FORCED else os.environ.get("UNDO_ACCEL", "auto"))
    if mode not in ("auto", "reference", "fast"):
        raise ValueError(f"UNDO_ACCEL={mode!r}: use auto, reference or fast")
    fast = mode == "fast" or (mode == "auto" and device_type == "cuda")
    if not fast:
        return Accel(False, device_type, None, "eager", False, None, False, False)
    cuda = device_type == "cuda"
    # CPU has no FlexAttention backward and runs bf16 autocast about 14x slower than fp32 (tiny Gemma-2s, torch
    # 2.13, 2 x86 cores), so a forced fast path on CPU keeps eager fp32 and only chunks the losses.
    bf16_ok = cuda and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    precision = os.environ.get("UNDO_PRECISION", "bf16" if bf16_ok else "fp32")
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"UNDO_PRECISION={precision!r}: use bf16 or fp32")
    attention = check_attention(os.environ.get("UNDO_ATTENTION", "flex_attention" if cuda else "eager"))
    chunk = os.environ.get("UNDO_LOSS_CHUNK")
    return Accel(True, device_type, torch.bfloat16 if precision == "bf16" else None, attention, True,
                 int(chunk) if chunk else None, cuda, cuda and os.environ.get("UNDO_COMPILE", "0") == "1")


@contextlib.contextmanager
def use(mode: str):
    """Force ``auto``/``reference``/``fast`` inside the block (the benchmark compares both)."""
    _FORCED.append(mode)
    try:
        yield
    finally:
        _FORCED.pop()


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def adamw_options(params) -> dict:
    """Extra AdamW keyword arguments: ``fused=True`` on the fast path (one kernel per step)."""
    params = list(params)
    if not params:
        return {}
    return {"fused": True} if select(params[0].device).fused_adamw else {}


@contextlib.contextmanager
def fast_forward(model, acc: Accel):
    """Training forward of the fast path: its attention kernel and autocast, eager restored after.

    The attention implementation is a field of the shared config that every attention layer
    reads at call time; it is validated once through transformers, then switched directly.
    """
    config = model.config
    before = config._attn_implementation
    if acc.attention != before and not getattr(model, "_undo_attention_checked", False):
        model.set_attn_implementation(acc.attention)  # validates (e.g. flex on this model/torch)
        model.set_attn_implementation(before)
        model._undo_attention_checked = True
    config._attn_implementation_internal = acc.attention
    try:
        if acc.autocast_dtype is not None:
            with torch.autocast(acc.device_type, dtype=acc.autocast_dtype):
                yield
        else:
            yield
    finally:
        config._attn_implementation_internal = before


def _decoder_hidden(decoder, input_ids):
    return decoder(input_ids=input_ids).last_hidden_state


_compiled_hidden = None


def final_hidden(model, input_ids, acc: Accel) -> torch.Tensor:
    """Final (normed) hidden states [B, T, d], i.e. the LM head's input."""
    global _compiled_hidden
    decoder = model.get_decoder()
    if acc.compile:
        if _compiled_hidden is None:
            # Fixed shapes (packed windows): one graph per model and batch shape.
            _compiled_hidden = torch.compile(_decoder_hidden, dynamic=False)
        return _compiled_hidden(decoder, input_ids)
    return _decoder_hidden(decoder, input_ids)


def _head(model) -> tuple[torch.Tensor, float | None]:
    return model.get_output_embeddings().weight, model.config.final_logit_softcapping


def _ids_and_mask(batch, mask):
    """(ids, target mask) from a bare id tensor plus ``mask``, or from a :class:`undo.batch.Batch` (its targets)."""
    if isinstance(batch, Batch):
        if mask is not None:
            raise ValueError("a Batch carries its own mask")
        if batch.attention_mask is not None and batch.loss_mask is None:
            raise ValueError("left or inner padding needs an attention mask these fast losses do not take")
        return batch.input_ids, batch.targets
    return batch, mask


def lm_cross_entropy(model, input_ids, mask=None) -> torch.Tensor:
    """Mean next-token CE of ``model`` on ``input_ids`` (:func:`undo.losses.cross_entropy`); ``input_ids`` may be a
    right-padded :class:`undo.batch.Batch`, whose loss mask then selects the scored tokens."""
    input_ids, mask = _ids_and_mask(input_ids, mask)
    acc = select(input_ids.device)
    if not acc.fast:
        return cross_entropy(model(input_ids=input_ids).logits, input_ids, mask)
    with fast_forward(model, acc):
        hidden = final_hidden(model, input_ids, acc)
        weight, cap = _head(model)
        return chunked.linear_cross_entropy(hidden, weight, input_ids, mask, softcap=cap, chunk=acc.chunk_positions)


def lm_forward_kl(student, teacher, input_ids, mask=None, *, temperature: float = 1.0) -> torch.Tensor:
    """Forward KL(teacher || student) on ``input_ids`` (or a :class:`undo.batch.Batch`) at ``temperature``; the
    teacher runs without gradients."""
    input_ids, mask = _ids_and_mask(input_ids, mask)
    acc = select(input_ids.device)
    if not acc.fast:
        with torch.no_grad():
            teacher_logits = teacher(input_ids=input_ids).logits
        return forward_kl(student(input_ids=input_ids).logits, teacher_logits, mask, temperature=temperature)
    with torch.no_grad(), fast_forward(teacher, acc):
        teacher_hidden = final_hidden(teacher, input_ids, acc)
    with fast_forward(student, acc):
        hidden = final_hidden(student, input_ids, acc)
        weight, cap = _head(student)
        t_weight, t_cap = _head(teacher)
        return chunked.linear_forward_kl(hidden, weight, teacher_hidden, t_weight, mask, softcap=cap,
                                         teacher_softcap=t_cap, chunk=acc.chunk_positions, temperature=temperature)


def lm_kl_to_uniform(model, input_ids, mask=None) -> torch.Tensor:
    """KL(U || p) on ``input_ids`` (:func:`undo.losses.kl_to_uniform`, MaxEnt's forget term)."""
    acc = select(input_ids.device)
    if not acc.fast:
        return kl_to_uniform(model(input_ids=input_ids).logits, mask)
    with fast_forward(model, acc):
        hidden = final_hidden(model, input_ids, acc)
        weight, cap = _head(model)
        return chunked.linear_kl_to_uniform(hidden, weight, mask, softcap=cap, chunk=acc.chunk_positions)


class CausalLMLoss(torch.nn.Module):
    """A model plus its training loss as one module, for DDP/FSDP wrapping (``accelerate``).

    DDP and FSDP hook a module's ``forward``; the loss helpers above reach into the decoder
    and the LM-head weight directly, which a wrapper would not see. Here the whole loss runs
    inside ``forward``: ``forward(ids)`` is the CE, ``forward(ids, teacher_hidden)`` the KL to a
    teacher whose hidden states and head weight (``teacher_weight``, ``teacher_softcap``) are given.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, teacher_hidden=None, teacher_weight=None, teacher_softcap=None):
        if teacher_hidden is None:
            return lm_cross_entropy(self.model, input_ids)
        acc = select(input_ids.device)
        ctx = fast_forward(self.model, acc) if acc.fast else contextlib.nullcontext()
        with ctx:
            hidden = final_hidden(self.model, input_ids, acc)
            weight, cap = _head(self.model)
            return chunked.linear_forward_kl(hidden, weight, teacher_hidden, teacher_weight, softcap=cap,
                                             teacher_softcap=teacher_softcap, chunk=acc.chunk_positions)
