"""Packing documents into fixed-length token windows, and mixing packed sources.

Semantics follow the authors' reference data pipeline: every document is
preceded by BOS and concatenated; a document that overflows the current window is cut at the
window's end and its tail is discarded (not carried into the next window, unless ``carry=True``); documents shorter
than ``min_tokens`` or longer than ``max_tokens`` are dropped. Sources are packed separately and
then interleaved window by window with fixed probabilities, deterministically for a seed,
stopping when the first source runs out (``first_exhausted``). Held-out sets are whole documents
drawn in a seeded order until they hold a token budget (App. A: 500K tokens per language, seed 42),
so no held-out document contributes a single token to training windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def pack(documents: Iterable[Sequence[int]], seq_len: int, bos_id: int, *, min_tokens: int = 0,
         max_tokens: int | None = None, carry: bool = False) -> np.ndarray:
    """Windows [N, seq_len] (int32); the final incomplete window is dropped.

    ``carry=False`` is the reference packing: a document that overflows the window is cut and its tail
    discarded. ``carry=True`` continues the tail in the next window (a plain BOS-separated token stream),
    which wastes nothing when documents are about one window long and text is scarce.
    """
    windows: list[np.ndarray] = []
    current: list[int] = []
    for doc in documents:
        if len(doc) < min_tokens or (max_tokens is not None and len(doc) > max_tokens):
            continue
        piece = [bos_id, *doc]
        while piece:
            room = seq_len - len(current)
            current.extend(piece[:room])
            piece = piece[room:] if carry else []
            if len(current) == seq_len:
                windows.append(np.asarray(current, dtype=np.int32))
                current = []
    if not windows:
        return np.zeros((0, seq_len), dtype=np.int32)
    return np.stack(windows)


def mix(sources: Sequence[np.ndarray], weights: Sequence[float], seed: int, limit: int | None = None,
        stopping: str = "first_exhausted") -> tuple[np.ndarray, list[int]]:
    """Interleave windows of several sources with probabilities ``weights`` (normalised).

    Each source is shuffled with the seed, then each output window draws its source at random.
    ``first_exhausted`` (the reference default) stops when a drawn source is exhausted;
    ``all_exhausted`` (``interleave_datasets``' other strategy) restarts an exhausted source from its
    first window and stops once every source has been used in full, so a small source is repeated
    instead of truncating a large one. Either way at most ``limit`` windows are produced. Returns the
    mixed windows and how many were drawn from each source (repeats included).
    """
    if len(sources) != len(weights) or not sources:
        raise ValueError("one weight per source")
    if stopping not in ("first_exhausted", "all_exhausted"):
        raise ValueError(f"stopping must be first_exhausted or all_exhausted, got {stopping!r}")
    probs = np.asarray(weights, dtype=np.float64)
    if (probs < 0).any() or probs.sum() <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    probs = probs / probs.sum()
    rng = np.random.default_rng(seed)
    shuffled = [src[rng.permutation(len(src))] for src in sources]
    cursor = [0] * len(sources)
    out: list[np.ndarray] = []
    if stopping == "all_exhausted":
        live = [i for i in range(len(sources)) if probs[i] > 0]
        cap = limit if limit is not None else sum(len(s) for s in sources) * max(1, len(live)) * 1000
        done = [False] * len(sources)
        while len(out) < cap and not all(done[i] for i in live):
            i = int(rng.choice(len(sources), p=probs))
            out.append(shuffled[i][cursor[i] % len(shuffled[i])])
            cursor[i] += 1
            done[i] = done[i] or cursor[i] >= len(shuffled[i])
    else:
        cap = limit if limit is not None else sum(len(s) for s in sources)
        while len(out) < cap:
            i = int(rng.choice(len(sources), p=probs))
            if cursor[i] >= len(shuffled[i]):
                break
            out.append(shuffled[i][cursor[i]])
            cursor[i] += 1
    width = sources[0].shape[1]
    return (np.stack(out) if out else np.zeros((0, width), dtype=np.int32)), cursor


def heldout_mask(lengths: np.ndarray, heldout_tokens: int, seed: int) -> np.ndarray:
    """Which documents form the held-out set: the first documents of a seeded permutation whose
    token counts reach ``heldout_tokens`` (the document that crosses the budget is included).

    Depends only on the document lengths, the budget and the seed, so every dataset built from the
    same tokenized corpus agrees on the split, whatever its own length filters or mixture.
    """
    lengths = np.asarray(lengths)
    mask = np.zeros(len(lengths), dtype=bool)
    if heldout_tokens <= 0:
        return mask
    order = np.random.default_rng(seed).permutation(len(lengths))
    reached = np.cumsum(lengths[order]) >= heldout_tokens
    take = int(np.argmax(reached)) + 1 if reached.any() else len(lengths)
    if take >= len(lengths):
        raise ValueError(f"a held-out set of {heldout_tokens} tokens takes all {len(lengths)} documents "
                         f"({int(lengths.sum())} tokens); lower heldout_tokens or use a larger corpus")
    mask[order[:take]] = True
    return mask
