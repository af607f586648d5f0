"""Packing with BOS separators and deterministic mixing."""

import numpy as np
import pytest

from undo.data.packing import mix, pack


def test_pack_bos_separators_and_discarded_tails():
    docs = [[10, 11], [20, 21, 22, 23, 24], [30], [40, 41]]
    out = pack(docs, seq_len=4, bos_id=2)
    # [2,10,11,2] then doc 2 overflows: its tail is dropped; the next window starts at doc 3
    assert out.tolist() == [[2, 10, 11, 2], [2, 30, 2, 40]]
    assert pack(docs, 4, 2, min_tokens=2).tolist() == [[2, 10, 11, 2]]  # [30] dropped; last window incomplete


def test_pack_length_filters():
    docs = [[5] * 3, [6] * 10, [7] * 3]
    out = pack(docs, seq_len=4, bos_id=2, max_tokens=5)
    assert 6 not in out


def test_mix_ratio_and_determinism():
    a = np.zeros((3000, 2), dtype=np.int32)
    b = np.ones((3000, 2), dtype=np.int32)
    out, used = mix([a, b], [0.75, 0.25], seed=0, limit=2000)
    assert out.shape == (2000, 2) and sum(used) == 2000
    assert abs(used[0] / 2000 - 0.75) < 0.03
    again, _ = mix([a, b], [0.75, 0.25], seed=0, limit=2000)
    assert np.array_equal(out, again)


def test_mix_stops_when_first_source_is_exhausted():
    out, used = mix([np.zeros((5, 2)), np.ones((100, 2))], [0.5, 0.5], seed=1)
    assert used[0] == 5 and len(out) < 105


def test_mix_rejects_bad_weights():
    with pytest.raises(ValueError):
        mix([np.zeros((2, 2))], [0.5, 0.5], seed=0)


def test_pack_carry_continues_tails_with_bos_separators():
    docs = [[10, 11], [20, 21, 22, 23, 24], [30]]
    out = pack(docs, seq_len=4, bos_id=2, carry=True)
    # one BOS-separated stream cut every 4 tokens; nothing of doc 2 is lost; the incomplete tail is dropped
    assert out.tolist() == [[2, 10, 11, 2], [20, 21, 22, 23]]  # [24, 2, 30] is incomplete


def test_heldout_split_is_deterministic_and_meets_budget():
    from undo.data.packing import heldout_mask

    lengths = np.random.default_rng(0).integers(5, 40, size=300)
    mask = heldout_mask(lengths, 500, seed=42)
    assert np.array_equal(mask, heldout_mask(lengths, 500, seed=42))
    assert not np.array_equal(mask, heldout_mask(lengths, 500, seed=43))
    held = lengths[mask].sum()
    assert 500 <= held < 500 + lengths.max()  # stops at the document that crosses the budget
    assert not heldout_mask(lengths, 0, seed=42).any()
    with pytest.raises(ValueError, match="takes all"):
        heldout_mask(lengths, int(lengths.sum()) + 1, seed=42)


@pytest.mark.parametrize("carry", [False, True])
def test_no_heldout_document_leaks_into_training_windows(carry):
    """Every document has its own token ids, so a leaked token would name its document."""
    from undo.data.packing import heldout_mask

    rng = np.random.default_rng(1)
    docs, next_id = [], 10
    for _ in range(120):
        n = int(rng.integers(3, 30))
        docs.append(list(range(next_id, next_id + n)))
        next_id += n
    held = heldout_mask(np.array([len(d) for d in docs]), 300, seed=42)
    train = pack([d for d, h in zip(docs, held, strict=True) if not h], 16, bos_id=2, carry=carry)
    test = pack([d for d, h in zip(docs, held, strict=True) if h], 16, bos_id=2, carry=carry)
    held_ids = {t for d, h in zip(docs, held, strict=True) if h for t in d}
    assert len(test) > 0 and held_ids & set(test.reshape(-1).tolist())
    assert not held_ids & set(train.reshape(-1).tolist())
    assert (train[:, 0] == 2).sum() > 0  # windows start at documents (BOS) at least sometimes


def test_mix_all_exhausted_repeats_the_small_source():
    big = np.zeros((400, 2), dtype=np.int32)
    small = np.ones((20, 2), dtype=np.int32)
    out, used = mix([big, small], [0.5, 0.5], seed=3, stopping="all_exhausted")
    assert used[0] == 400 and used[1] >= 20  # the big source is used in full, the small one repeated
    assert abs(used[1] / sum(used) - 0.5) < 0.06
    again, _ = mix([big, small], [0.5, 0.5], seed=3, stopping="all_exhausted")
    assert np.array_equal(out, again)
    capped, _ = mix([big, small], [0.5, 0.5], seed=3, limit=50, stopping="all_exhausted")
    assert len(capped) == 50
    with pytest.raises(ValueError, match="stopping"):
        mix([big], [1.0], seed=0, stopping="sometimes")
