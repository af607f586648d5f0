"""Vocabulary losses computed from final hidden states in chunks of positions (the GPU path).

With Gemma-2's 256k vocabulary the logits dominate memory: one 2048-token sequence has 0.5G
logits, 2.1 GB per fp32 copy, and the naive forward KL (:func:`undo.losses.forward_kl`) keeps
several such copies for teacher and student plus what autograd saves. Here the LM head matmul,
Gemma-2's final-logit softcap ``c * tanh(z / c)``, the log-softmax and the loss run on ``chunk``
positions at a time, and the gradients w.r.t. the hidden states and the LM-head weight are
computed in the same pass (a custom autograd Function, like fused linear-cross-entropy kernels),
so neither forward nor backward ever holds more than one chunk of logits. No matmul is
recomputed: forward + backward cost the same three matmuls as the naive path.

Every loss here has the gradient ``dL/dy = w * (softmax(y) - target)`` w.r.t. the capped
logits ``y``, with ``target`` the one-hot label (CE), the teacher's distribution (forward KL)
or uniform (KL to uniform, MaxEnt); the cap contributes ``dy/dz = 1 - (y / c)^2``.

Semantics match :mod:`undo.losses`: position t predicts token t+1, ``mask`` [B, T] marks
counted targets, and the mean is over counted positions (``sum(w).clamp_min(1)``).

Usage::

    h = model.get_decoder()(input_ids=ids).last_hidden_state          # [B, T, d]
    loss = linear_cross_entropy(h, model.lm_head.weight, ids, softcap=30.0)
"""

from __future__ import annotations

import math

import torch

# Positions per chunk = this many logits / vocabulary size: 2^26 fp32 logits are 256 MiB per
# buffer (256 positions at V=256000); a chunk step holds about four such buffers.
DEFAULT_CHUNK_ELEMENTS = 2**26


def chunk_positions(vocab_size: int, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> int:
    return max(1, chunk_elements // vocab_size)


def _capped_logits(h: torch.Tensor, weight: torch.Tensor, softcap: float | None):
    """(fp32 capped logits y, tanh(z/c) or None). The matmul runs in the inputs' dtype."""
    z = (h @ weight.t()).float()
    if softcap is None:
        return z, None
    t = z.div_(softcap).tanh_()
    return t * softcap, t


def _chunk_step(h, weight, kind: str, target, t_h, t_weight, w, softcap, t_softcap, need_grad: bool,
                temperature: float = 1.0):
    """Loss sum and d(loss)/dz of one chunk of positions (``w`` already holds 1/denominator).

    About five [chunk, V] fp32 buffers are alive at the peak; the in-place ops keep it there. A ``temperature`` T
    (forward KL only) divides both capped logits by T, which scales the gradient w.r.t. the capped logits by 1/T.
    """
    y, t = _capped_logits(h, weight, softcap)
    if temperature != 1.0:
        y.div_(temperature)
    logp = torch.log_softmax(y, dim=-1)
    del y
    q = None
    if kind == "ce":
        per_pos = -logp.gather(1, target[:, None]).squeeze(1)
    elif kind == "kl":
        logq = torch.log_softmax(_capped_logits(t_h, t_weight, t_softcap)[0].div_(temperature), dim=-1)
        q = logq.exp()
        # sum_v q (log q - log p), the product formed in log q's buffer (no extra temporary).
        per_pos = logq.sub_(logp).mul_(q).sum(-1)
        del logq
    elif kind == "uniform":
        per_pos = -math.log(logp.size(-1)) - logp.mean(-1)
    else:
        raise ValueError(f"unknown loss kind {kind!r}")
    loss = (per_pos * w).sum()
    if not need_grad:
        return loss, None
    g = logp.exp_()  # softmax(y), in place
    if kind == "ce":
        g[torch.arange(g.size(0), device=g.device), target] -= 1.0
    elif kind == "kl":
        g.sub_(q)
        del q
    else:
        g.sub_(1.0 / g.size(-1))
    g.mul_(w[:, None] / temperature if temperature != 1.0 else w[:, None])
    if t is not None:
        g.mul_(t.mul_(t).neg_().add_(1.0))  # the softcap's derivative 1 - tanh^2, in t's buffer
    return loss, g


class _ChunkedLinearLoss(torch.autograd.Function):
    """Loss over a vocabulary from hidden states [N, d] and an LM-head weight [V, d], chunked over N.

    Gradients are computed during the forward pass and only scaled in backward, so the logits
    are never needed again. Under autocast the matmuls run in the autocast dtype (weights cast
    once per call, not per chunk) and everything after them in fp32.
    """

    @staticmethod
    def forward(ctx, hidden, weight, kind, target, t_hidden, t_weight, w, softcap, t_softcap, chunk, temperature):
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        device_type = hidden.device.type
        mm_dtype = (torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type)
                    else weight.dtype)
        with torch.autocast(device_type, enabled=False):
            w_mm = weight.detach().to(mm_dtype)
            tw_mm = None if t_weight is None else t_weight.to(mm_dtype)
            grad_h = torch.zeros_like(hidden) if need_h else None
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, hidden.size(0), chunk):
                end = min(start + chunk, hidden.size(0))
                h = hidden[start:end].detach().to(mm_dtype)
                loss, g = _chunk_step(h, w_mm, kind, None if target is None else target[start:end],
                                      None if t_hidden is None else t_hidden[start:end].to(mm_dtype), tw_mm,
                                      w[start:end], softcap, t_softcap, need_h or need_w, temperature)
                total += loss
                if g is None:
                    continue
                g = g.to(mm_dtype)
                if need_h:
                    grad_h[start:end] = (g @ w_mm).to(hidden.dtype)
                if need_w:
                    grad_w += (g.t() @ h).float()  # fp32 accumulation across chunks
                del g
        ctx.save_for_backward(grad_h, grad_w)
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w = ctx.saved_tensors
        gh = grad_h * grad_out.to(grad_h.dtype) if grad_h is not None else None
        gw = (grad_w * grad_out).to(ctx.weight_dtype) if grad_w is not None else None
        return gh, gw, None, None, None, None, None, None, None, None, None


def _flatten(hidden: torch.Tensor, mask: torch.Tensor | None):
    """Predicting positions 0..T-2 as [N, d], and their weights [N] (before normalisation)."""
    h = hidden[:, :-1].reshape(-1, hidden.size(-1))
    if mask is None:
        w = torch.ones(h.size(0), dtype=torch.float32, device=hidden.device)
    else:
        w = mask[:, 1:].reshape(-1).to(torch.float32)
    return h, w


def _run(kind, hidden, weight, mask, softcap, chunk, target=None, t_hidden=None, t_weight=None, t_softcap=None,
         temperature: float = 1.0):
    h, w = _flatten(hidden, mask)
    w = w / w.sum().clamp_min(1)
    th = None if t_hidden is None else t_hidden[:, :-1].reshape(-1, t_hidden.size(-1)).detach()
    chunk = chunk or chunk_positions(weight.size(0))
    return _ChunkedLinearLoss.apply(h, weight, kind, target, th, None if t_weight is None else t_weight.detach(),
                                    w, softcap, t_softcap, chunk, temperature)


def linear_cross_entropy(hidden, weight, input_ids, mask=None, *, softcap: float | None = None,
                         chunk: int | None = None) -> torch.Tensor:
    """Mean next-token CE of ``softcap(hidden @ weight.T)`` (:func:`undo.losses.cross_entropy`)."""
    return _run("ce", hidden, weight, mask, softcap, chunk, target=input_ids[:, 1:].reshape(-1))


def linear_forward_kl(hidden, weight, teacher_hidden, teacher_weight, mask=None, *, softcap: float | None = None,
                      teacher_softcap: float | None = None, chunk: int | None = None,
                      temperature: float = 1.0) -> torch.Tensor:
    """KL(p_teacher || p_student) per position, averaged (:func:`undo.losses.forward_kl`, temperature included).

    The teacher's hidden states and weight are constants (no gradient flows into them).
    """
    return _run("kl", hidden, weight, mask, softcap, chunk, t_hidden=teacher_hidden, t_weight=teacher_weight,
                t_softcap=teacher_softcap, temperature=temperature)


def linear_kl_to_uniform(hidden, weight, mask=None, *, softcap: float | None = None,
                         chunk: int | None = None) -> torch.Tensor:
    """KL(U || p) averaged over positions (:func:`undo.losses.kl_to_uniform`, MaxEnt's forget term)."""
    return _run("uniform", hidden, weight, mask, softcap, chunk)
