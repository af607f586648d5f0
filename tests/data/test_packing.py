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
