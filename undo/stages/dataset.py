"""Stage ``dataset``: tokenize corpora, pack them into windows and mix them (``tokens.npy``).

A dataset names a tokenizer artifact and a list of corpus artifacts with mixture weights
(Table 2's "data mixture ratio" 1:3 is weights 0.75 English / 0.25 arithmetic). The tokenizer is
copied into the artifact so that models trained on it can carry it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import numpy as np

from ..config import Ref, option
from ..data.packing import mix, pack
from ..models import BOS_ID
from ..tokenizer import load_tokenizer
from . import Context
from .common import write_summary
from .corpus import read_documents

NAME = "dataset"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Part:
    corpus: Ref = option(doc="corpus config")
    weight: float = option(1.0, "mixture probability (normalised over parts)", ge=0)
    min_tokens: int = option(0, "drop shorter documents (App. A: 50 for web text)", ge=0)
    max_tokens: int | None = option(None, "drop longer documents (reference: 2048 text, 256 arithmetic)", gt=0)


@dataclass(frozen=True, kw_only=True)
class Config:
    tokenizer: Ref = option(doc="tokenizer config")
    parts: tuple[Part, ...] = option(doc="corpora and their mixture weights")
    seq_len: int = option(256, "window length (Table 2: 256 arithmetic, 2048 language)", gt=1)
    max_sequences: int | None = option(None, "cap on mixed windows", gt=0)
    seed: int = option(42, "shuffling / mixing seed (App. A: 42)")

    def validate(self) -> None:
        if not self.parts:
            raise ValueError("parts: at least one corpus")


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    tok_dir = ctx.input(cfg.tokenizer) / "tokenizer"
    tokenizer = load_tokenizer(tok_dir)
    packed, stats = [], []
    for part in cfg.parts:
        docs = read_documents(ctx.input(part.corpus))
        ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
        windows = pack(ids, cfg.seq_len, BOS_ID, min_tokens=part.min_tokens, max_tokens=part.max_tokens)
        if len(windows) == 0:
            raise ValueError(f"corpus {part.corpus} gives no complete {cfg.seq_len}-token window")
        packed.append(windows)
        stats.append({"corpus": ctx.inputs[str(part.corpus)].relpath, "documents": len(docs),
                      "windows": int(len(windows)), "weight": part.weight})
    tokens, used = mix(packed, [p.weight for p in cfg.parts], cfg.seed, cfg.max_sequences)
    for s, n in zip(stats, used, strict=True):
        s["windows_used"] = int(n)
    np.save(ctx.workdir / "tokens.npy", tokens.astype(np.int32))
    shutil.copytree(tok_dir, ctx.workdir / "tokenizer")
    summary = {"sequences": int(len(tokens)), "seq_len": cfg.seq_len, "tokens": int(tokens.size), "parts": stats}
    write_summary(ctx.workdir, summary)
    ctx.log(f"{len(tokens)} windows of {cfg.seq_len} tokens; per part used: {used}")
    return summary
