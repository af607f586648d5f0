"""Tokenized-shard cache: same ids as a plain pass, resumes after an interruption, reused without the tokenizer."""

import json

import numpy as np
import pytest

from undo.data.tokenized import tokenize, tokenize_cached

DOCS = [f"document {i} " + "word " * (i % 7) for i in range(53)]


def _same(a, b):
    return np.array_equal(a.ids, b.ids) and np.array_equal(a.offsets, b.offsets)


def test_cached_equals_plain_and_documents_round_trip(tmp_path, byte_tok):
    plain = tokenize(DOCS, byte_tok, batch_size=8)
    cached = tokenize_cached(DOCS, byte_tok, tmp_path / "c", shard_documents=10, batch_size=4)
    assert _same(plain, cached) and len(cached) == 53
    assert byte_tok.decode(cached.doc(5).tolist()) == DOCS[5]
    assert [len(d) for d in cached.docs(cached.lengths > 12)] == [n for n in cached.lengths if n > 12]
    assert len(json.loads((tmp_path / "c" / "progress.json").read_text())["shards"]) == 6


def test_interrupted_build_resumes_and_finished_one_needs_no_tokenizer(tmp_path, byte_tok):
    def dying():
        for i, doc in enumerate(DOCS):
            if i == 25:
                raise KeyboardInterrupt
            yield doc

    with pytest.raises(KeyboardInterrupt):
        tokenize_cached(dying(), byte_tok, tmp_path / "c", shard_documents=10)
    assert json.loads((tmp_path / "c" / "progress.json").read_text())["shards"] == ["shard-00000.npz", "shard-00001.npz"]
    seen = []

    class Counting:
        def __call__(self, texts, **kw):
            seen.extend(texts)
            return byte_tok(texts, **kw)

    resumed = tokenize_cached(DOCS, Counting(), tmp_path / "c", shard_documents=10)
    assert seen == DOCS[20:]  # only the documents after the two finished shards
    assert _same(resumed, tokenize(DOCS, byte_tok))

    class Broken:
        def __call__(self, *a, **k):
            raise AssertionError("a complete cache must not tokenize again")

    assert _same(tokenize_cached(DOCS, Broken(), tmp_path / "c", shard_documents=10), resumed)


@pytest.mark.parametrize("damage", ["modified", "truncated"])
def test_a_damaged_shard_is_tokenized_again_with_a_warning(tmp_path, byte_tok, capsys, damage):
    first = tokenize_cached(DOCS, byte_tok, tmp_path / "c", shard_documents=10)
    progress = json.loads((tmp_path / "c" / "progress.json").read_text())
    assert set(progress["sha256"]) == set(progress["shards"])
    shard = tmp_path / "c" / "shard-00002.npz"
    if damage == "modified":  # other ids, a well-formed file: only the digest tells
        ids = np.load(shard)["ids"].copy()
        ids[0] += 1
        np.savez(shard, ids=ids, lengths=np.load(shard)["lengths"])
    else:
        shard.write_bytes(shard.read_bytes()[:50])
    seen = []

    class Counting:
        def __call__(self, texts, **kw):
            seen.extend(texts)
            return byte_tok(texts, **kw)

    again = tokenize_cached(DOCS, Counting(), tmp_path / "c", shard_documents=10)
    assert _same(again, first) and seen == DOCS[20:]
    assert f"tokenized shard {shard} is unreadable or modified" in capsys.readouterr().err
