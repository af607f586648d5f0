"""Stage ``dataset``: tokenize corpora, pack them into windows and mix them (``tokens.npy``).

A dataset names a tokenizer artifact and a list of corpus artifacts with mixture weights
(Table 2's "data mixture ratio" 1:3 is weights 0.75 English / 0.25 arithmetic). The tokenizer is
copied into the artifact so that models trained on it can carry it. A part may take only the
training or only the held-out documents of a corpus that declares a split (App. A: 500K held-out
tokens per language); tokenized corpora are cached in ``UNDO_CACHE/tokens`` per corpus and
tokenizer, so the several datasets built from one corpus tokenize it once.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..config import Ref, option
from ..data.packing import heldout_mask, mix, pack
from ..data.tokenized import TokenizedCorpus, tokenize_cached
from ..models import BOS_ID
from ..tokenizer import load_tokenizer
from . import Context
from .common import write_summary
from .corpus import cache_dir, iter_documents, read_split

NAME = "dataset"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Part:
    corpus: Ref = option(doc="corpus config")
    weight: float = option(1.0, "mixture probability (normalised over parts)", ge=0)
    min_tokens: int = option(0, "drop shorter documents (App. A: 50 for web text)", ge=0)
    max_tokens: int | None = option(None, "drop longer documents (reference: 2048 text, 256 arithmetic)", gt=0)
    split: Literal["all", "train", "heldout"] = option("all", "all documents, or one side of the corpus's held-out split",
                                                       key_if_set=True)


@dataclass(frozen=True, kw_only=True)
class Config:
    tokenizer: Ref = option(doc="tokenizer config")
    parts: tuple[Part, ...] = option(doc="corpora and their mixture weights")
    seq_len: int = option(256, "window length (Table 2: 256 arithmetic, 2048 language)", gt=1)
    max_sequences: int | None = option(None, "cap on mixed windows", gt=0)
    seed: int = option(42, "shuffling / mixing seed (App. A: 42)")
    packing: Literal["truncate", "continue"] = option(
        "truncate", "an overflowing document's tail is dropped (reference) or continues in the next window",
        key_if_set=True)
    stopping: Literal["first_exhausted", "all_exhausted"] = option(
        "first_exhausted", "mixing ends when the first source runs out, or once all have (smaller ones repeat)",
        key_if_set=True)

    def validate(self) -> None:
        if not self.parts:
            raise ValueError("parts: at least one corpus")


def tokenized_corpus(ctx: Context, corpus: Ref, tokenizer_ref: Ref, tokenizer) -> TokenizedCorpus:
    """The corpus artifact tokenized with the tokenizer artifact (cached by both keys)."""
    corpus_art, tok_art = ctx.inputs[str(corpus)], ctx.inputs[str(tokenizer_ref)]
    cache = cache_dir() / "tokens" / f"{corpus_art.name}-{corpus_art.key[:16]}-{tok_art.key[:16]}"
    return tokenize_cached(iter_documents(corpus_art.path), tokenizer, cache)


def select(ctx: Context, part: Part, tokenized: TokenizedCorpus) -> np.ndarray:
    """Documents of ``part``: its side of the corpus's held-out split, then the length filters."""
    lengths = tokenized.lengths
    keep = np.ones(len(lengths), dtype=bool)
    if part.split != "all":
        art = ctx.inputs[str(part.corpus)]
        spec = read_split(art.path)
        if spec is None:
            raise ValueError(f"parts: split {part.split!r} needs a held-out split, but corpus {art.relpath} declares "
                             "none (set heldout_tokens in its config)")
        held = heldout_mask(lengths, spec["heldout_tokens"], spec["seed"])
        keep = held if part.split == "heldout" else ~held
    keep &= lengths >= part.min_tokens
    if part.max_tokens is not None:
        keep &= lengths <= part.max_tokens
    return keep


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    tok_dir = ctx.input(cfg.tokenizer) / "tokenizer"
    tokenizer = load_tokenizer(tok_dir)
    packed, stats = [], []
    for part in cfg.parts:
        tokenized = tokenized_corpus(ctx, part.corpus, cfg.tokenizer, tokenizer)
        keep = select(ctx, part, tokenized)
        # min/max filters were applied by select(); pack() only adds BOS and cuts windows
        windows = pack(tokenized.docs(keep), cfg.seq_len, BOS_ID, carry=cfg.packing == "continue")
        if len(windows) == 0:
            raise ValueError(f"corpus {part.corpus} gives no complete {cfg.seq_len}-token window")
        packed.append(windows)
        stats.append({"corpus": ctx.inputs[str(part.corpus)].relpath, "split": part.split,
                      "documents": len(tokenized), "documents_used": int(keep.sum()),
                      "document_tokens": int(tokenized.lengths[keep].sum()),
                      "windows": int(len(windows)), "weight": part.weight})
    tokens, used = mix(packed, [p.weight for p in cfg.parts], cfg.seed, cfg.max_sequences, cfg.stopping)
    for s, n in zip(stats, used, strict=True):
        s["windows_used"] = int(n)
    np.save(ctx.workdir / "tokens.npy", tokens.astype(np.int32))
    shutil.copytree(tok_dir, ctx.workdir / "tokenizer")
    summary = {"sequences": int(len(tokens)), "seq_len": cfg.seq_len, "tokens": int(tokens.size), "parts": stats}
    write_summary(ctx.workdir, summary)
    ctx.log(f"{len(tokens)} windows of {cfg.seq_len} tokens; per part used: {used}")
    return summary
