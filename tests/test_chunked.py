"""The chunked vocabulary losses (undo.chunked) equal the naive full-logit losses (undo.losses),
values and gradients, with Gemma-2's final-logit softcap binding, up to a 256k vocabulary; and
the chunked forward KL needs at most a quarter of the naive one's memory at V=256000."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from undo import losses
from undo.chunked import linear_cross_entropy, linear_forward_kl, linear_kl_to_uniform

CAP = 30.0


def capped(h, w, cap=CAP):
    z = h @ w.t()
    return cap * torch.tanh(z / cap)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def inputs(vocab: int, hidden: int = 64, batch: int = 1, seq: int = 12, seed: int = 0):
    """Hidden states and weights whose logits z reach |z| >> 30, so tanh saturates (the cap binds).

    Entries are small dyadic numbers (integers in [-8, 8] times multiples of 1/8 in [-2, 2]), so
    every z is exact in fp32 whatever the matmul's summation order: the comparison then measures
    the loss algorithms, not the BLAS kernel's rounding (which alone differs by ~1e-6 relative
    between a 3-row and a 12-row matmul of the same rows).
    """
    g = torch.Generator().manual_seed(seed)

    def ints(*shape, lo, hi):
        return torch.randint(lo, hi + 1, shape, generator=g).float()

    h = ints(batch, seq, hidden, lo=-8, hi=8)
    w = ints(vocab, hidden, lo=-16, hi=16) / 8
    th = ints(batch, seq, hidden, lo=-8, hi=8)
    tw = ints(vocab, hidden, lo=-16, hi=16) / 8
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    return h, w, th, tw, ids


def grads(fn, h, w):
    h = h.clone().requires_grad_(True)
    w = w.clone().requires_grad_(True)
    loss = fn(h, w)
    loss.backward()
    return loss.detach(), h.grad, w.grad


# The naive formulas of undo.losses without their fp32 upcast, so they can also run in float64
# as the exact reference. (In fp32 they equal undo.losses; checked below.)
def naive_ce(logits, ids, mask=None):
    nll = -F.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    wt = torch.ones_like(nll) if mask is None else mask[:, 1:].to(nll.dtype)
    return (nll * wt).sum() / wt.sum().clamp_min(1)


def naive_kl(student, teacher, mask=None):
    s, t = F.log_softmax(student[:, :-1], -1), F.log_softmax(teacher[:, :-1], -1)
    kl = (t.exp() * (t - s)).sum(-1)
    wt = torch.ones_like(kl) if mask is None else mask[:, 1:].to(kl.dtype)
    return (kl * wt).sum() / wt.sum().clamp_min(1)


def naive_uniform(logits):
    logp = F.log_softmax(logits[:, :-1], -1)
    return (-math.log(logp.size(-1)) - logp.mean(-1)).mean()


def check(chunked_fn, naive_fn, h, w, *, against_fp32=True):
    """Chunked fp32 vs the naive formula: within 1e-5 of its exact (float64) value, and of its fp32 value.

    The fp32 naive path is itself not exact: its gradient w.r.t. the hidden states sums 256k
    terms with heavy cancellation (for KL-to-uniform it is ~1e-4 off the float64 value), so
    that comparison is skipped where the naive fp32 result is the inaccurate one.
    """
    out = grads(chunked_fn, h, w)
    exact = grads(naive_fn, h.double(), w.double())
    for name, a, b in zip(("loss", "d/dhidden", "d/dweight"), out, exact, strict=True):
        assert rel_err(a.double(), b) < 1e-5, f"{name}: {rel_err(a.double(), b):.2e} from the exact value"
    if against_fp32:
        ref = grads(naive_fn, h, w)
        for name, a, b in zip(("loss", "d/dhidden", "d/dweight"), out, ref, strict=True):
            assert rel_err(a, b) < 1e-5, f"{name}: {rel_err(a, b):.2e} from naive fp32"


# Chunks of >= 4 rows: BLAS picks less accurate kernels for 1-3 row matmuls (the d/dhidden
# product then drifts ~1e-5 in fp32 whichever loss feeds it); real chunks have hundreds of rows.
@pytest.mark.parametrize("vocab,chunk", [(1000, 5), (32003, 4), (256000, 4)])
def test_cross_entropy_matches_naive(vocab, chunk):
    h, w, _, _, ids = inputs(vocab, seq=9 if vocab > 100_000 else 12)
    z = h[0] @ w.t()
    assert (z.abs() > 2 * CAP).float().mean() > 0.1, "the softcap should bind (tanh > 0.96)"
    check(lambda h, w: linear_cross_entropy(h, w, ids, softcap=CAP, chunk=chunk),
          lambda h, w: naive_ce(capped(h, w), ids), h, w)
    # The fp32 stand-in is undo.losses' own computation.
    assert naive_ce(capped(h, w), ids) == losses.cross_entropy(capped(h, w), ids)


@pytest.mark.parametrize("vocab,chunk", [(1000, 5), (32003, 4), (256000, 4)])
def test_forward_kl_matches_naive(vocab, chunk):
    h, w, th, tw, _ = inputs(vocab, seq=9 if vocab > 100_000 else 12)
    mask = torch.ones(h.shape[:2], dtype=torch.long)
    mask[0, 5] = 0  # one padded target
    check(lambda h, w: linear_forward_kl(h, w, th, tw, mask, softcap=CAP, teacher_softcap=CAP, chunk=chunk),
          lambda h, w: naive_kl(capped(h, w), capped(th.to(h.dtype), tw.to(h.dtype)), mask), h, w)
    s, t = capped(h, w), capped(th, tw)
    assert naive_kl(s, t, mask) > 1.0  # far from zero: a relative error is meaningful
    assert naive_kl(s, t, mask) == losses.forward_kl(s, t, mask)


@pytest.mark.parametrize("temperature", [4.0, 0.5])
def test_forward_kl_at_a_temperature_matches_naive(temperature):
    """App. F's TOFU distillation: KL of softmax(logits / T) without the T^2 factor, chunked as the naive path."""
    h, w, th, tw, _ = inputs(1000)
    mask = torch.ones(h.shape[:2], dtype=torch.long)
    mask[0, :4] = 0  # a prompt that is not scored

    def naive(h, w):
        return naive_kl(capped(h, w) / temperature, capped(th.to(h.dtype), tw.to(h.dtype)) / temperature, mask)

    check(lambda h, w: linear_forward_kl(h, w, th, tw, mask, softcap=CAP, teacher_softcap=CAP, chunk=5,
                                         temperature=temperature), naive, h, w)
    s, t = capped(h, w), capped(th, tw)
    assert torch.allclose(losses.forward_kl(s, t, mask, temperature=temperature),
                          naive_kl(s / temperature, t / temperature, mask))
    assert not torch.allclose(losses.forward_kl(s, t, mask, temperature=temperature), losses.forward_kl(s, t, mask))


@pytest.mark.parametrize("vocab", [1000, 256000])
def test_kl_to_uniform_matches_naive(vocab):
    h, w, _, _, _ = inputs(vocab, seq=9)
    check(lambda h, w: linear_kl_to_uniform(h, w, softcap=CAP, chunk=4),
          lambda h, w: naive_uniform(capped(h, w)), h, w, against_fp32=vocab < 100_000)
    assert naive_uniform(capped(h, w)) == losses.kl_to_uniform(capped(h, w))


def test_without_softcap_batches_and_scaled_backward():
    h, w, th, tw, ids = inputs(777, batch=3, seq=7)
    h, th = h / 64, th / 64  # small logits: no cap needed
    ref = grads(lambda h, w: 2.5 * losses.cross_entropy(h @ w.t(), ids), h, w)
    out = grads(lambda h, w: 2.5 * linear_cross_entropy(h, w, ids, chunk=4), h, w)
    for a, b in zip(out, ref, strict=True):
        assert rel_err(a, b) < 1e-5
    # No gradient is computed (or needed) under no_grad.
    with torch.no_grad():
        kl = linear_forward_kl(h, w, th, tw)
    assert torch.allclose(kl, losses.forward_kl(h @ w.t(), th @ tw.t()), rtol=1e-5)


def test_chunked_kl_peak_memory_is_at_most_a_quarter_of_naive():
    """The measurement docs/benchmarks.md reports (reproduce/bench.yaml: V=256000, 128 positions of
    width 64, chunks of 16): peak RSS of a fresh process, forward + backward."""
    from undo.bench import load_presets, loss_memory

    cfg = load_presets()[2]
    assert cfg["vocab"] == 256000 and cfg["chunk"] < cfg["positions"]
    naive = loss_memory("naive", device="cpu", **cfg)
    chunked = loss_memory("chunked", device="cpu", **cfg)
    assert chunked["loss"] == pytest.approx(naive["loss"], rel=1e-5)
    assert chunked["peak_bytes"] <= naive["peak_bytes"] / 4, (chunked, naive)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@needs_cuda
def test_gpu_chunked_kl_under_bf16_autocast_tracks_fp32_naive():
    h, w, th, tw, _ = (t.cuda() for t in inputs(256000, seq=64))
    ref = grads(lambda h, w: naive_kl(capped(h, w), capped(th, tw)), h, w)

    def chunked_bf16(h, w):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return linear_forward_kl(h, w, th, tw, softcap=CAP, teacher_softcap=CAP, chunk=16)

    out = grads(chunked_bf16, h, w)
    assert out[2].dtype == torch.float32  # the weight's gradient stays in the master weights' dtype
    for a, b in zip(out, ref, strict=True):
        assert rel_err(a, b) < 2e-2


@pytest.mark.gpu
@needs_cuda
def test_gpu_chunked_kl_peak_memory_at_a_0p1b_sequence():
    from undo.memory import loss_memory

    shape = dict(vocab=256000, positions=2048, hidden=320, device="cuda")
    naive, chunked = loss_memory("naive", **shape), loss_memory("chunked", **shape)
    assert chunked["loss"] == pytest.approx(naive["loss"], rel=1e-4)
    assert chunked["peak_bytes"] <= naive["peak_bytes"] / 4
