"""Tokenized corpora: documents to token ids, cached as shards so reruns and interrupted builds resume.

A corpus is tokenized once per (corpus artifact, tokenizer artifact) pair, whichever dataset asks
first: the paper-scale English corpus feeds the reference mix, the oracle mix, the held-out set and
the distillation data, and 10M web documents are worth tokenizing only once. Shards of
``shard_documents`` documents are written atomically as ``.npz`` (flat int32 ids + lengths) with a
``progress.json`` after each (with the shard's sha256), so a build killed half-way continues with the next
shard; a shard that is unreadable or differs from its sha256 is tokenized again, with a warning.

Usage::

    corpus = tokenize_cached(iter_documents(corpus_dir), tokenizer, cache / f"{corpus_key}-{tok_key}")
    corpus.doc(3)   # token ids of the fourth document
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checksums import sha256_file


def dataset_tokens(path: Path) -> np.ndarray:
    """The packed token windows of a dataset artifact (``tokens.npy``, memory-mapped)."""
    return np.load(path / "tokens.npy", mmap_mode="r")


def dataset_loss_mask(path: Path) -> np.ndarray | None:
    """The answer-token mask of a prompt/answer dataset artifact (``loss_mask.npy``), None for packed text."""
    mask = path / "loss_mask.npy"
    return np.load(mask, mmap_mode="r") if mask.exists() else None


def dataset_batches(path: Path, batch_size: int, seed: int):
    """Seeded micro-batches over a dataset artifact, with its loss mask where it has one (:class:`undo.train.Batches`)."""
    from ..train import Batches

    return Batches(dataset_tokens(path), batch_size, seed, dataset_loss_mask(path))


@dataclass(frozen=True)
class TokenizedCorpus:
    """All documents of a corpus as one flat id array and document offsets (``offsets[i]:offsets[i+1]``)."""

    ids: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def doc(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    def docs(self, mask: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Documents in corpus order, optionally only those where ``mask`` is true."""
        for i in range(len(self)):
            if mask is None or mask[i]:
                yield self.doc(i)


def _encode(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def _from_lists(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


def _assemble(parts: list[tuple[np.ndarray, np.ndarray]]) -> TokenizedCorpus:
    ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int32)
    lengths = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    return TokenizedCorpus(ids=ids, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def tokenize(documents: Iterable[str], tokenizer, batch_size: int = 1000) -> TokenizedCorpus:
    """Tokenize without special tokens (BOS separators are added by packing), in batches."""
    parts = []
    it = iter(documents)
    while batch := list(itertools.islice(it, batch_size)):
        parts.append(_from_lists(_encode(tokenizer, batch)))
    return _assemble(parts)


def tokenize_cached(documents: Iterable[str], tokenizer, cache_dir: Path, *, shard_documents: int = 50_000,
                    batch_size: int = 1000) -> TokenizedCorpus:
    """:func:`tokenize`, with shards cached in ``cache_dir``; finished shards are read back, not recomputed.

    ``cache_dir`` must be specific to the corpus and the tokenizer (the dataset stage names it after
    both artifact keys), because shards are matched to documents by position only.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    progress_file = cache_dir / "progress.json"
    progress = json.loads(progress_file.read_text()) if progress_file.is_file() else {"shards": [], "complete": False}
    digests = progress.setdefault("sha256", {})  # shard -> sha256 (caches written before it lack it: unverified)
    parts = []
    for i, name in enumerate(progress["shards"]):
        try:
            if name in digests and sha256_file(cache_dir / name) != digests[name]:
                raise ValueError("its sha256 differs from the one recorded when it was written")
            with np.load(cache_dir / name) as z:
                parts.append((z["ids"], z["lengths"]))
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
            print(f"warning: tokenized shard {cache_dir / name} is unreadable or modified ({err}); it and the "
                  "shards after it are tokenized again", file=sys.stderr, flush=True)
            for later in progress["shards"][i:]:
                (cache_dir / later).unlink(missing_ok=True)
                digests.pop(later, None)
            progress["shards"], progress["complete"] = progress["shards"][:i], False
            _write_json(progress_file, progress)
            break
    if progress["complete"]:
        return _assemble(parts)
    done = sum(len(p[1]) for p in parts)
    it = itertools.islice(iter(documents), done, None)  # resume after the documents already cached
    while shard := list(itertools.islice(it, shard_documents)):
        pieces = [_from_lists(_encode(tokenizer, shard[i:i + batch_size])) for i in range(0, len(shard), batch_size)]
        flat, lengths = np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])
        name = f"shard-{len(progress['shards']):05d}.npz"
        tmp = cache_dir / f".{name}.tmp.npz"
        np.savez(tmp, ids=flat, lengths=lengths)
        os.replace(tmp, cache_dir / name)
        progress["shards"].append(name)
        digests[name] = sha256_file(cache_dir / name)
        _write_json(progress_file, progress)
        parts.append((flat, lengths))
    progress["complete"] = True
    _write_json(progress_file, progress)
    return _assemble(parts)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
