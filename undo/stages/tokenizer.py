"""Stage ``tokenizer``: Gemma-2-2b's tokenizer (paper) or a byte-level BPE trained on the corpora."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import Ref, option
from ..tokenizer import byte_tokenizer, load_tokenizer, train_bpe
from . import Context
from .common import write_summary
from .corpus import read_documents

NAME = "tokenizer"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    kind: Literal["pretrained", "bpe", "bytes"] = option(doc="hub/local tokenizer, locally trained BPE, or raw bytes")
    name_or_path: str = option("google/gemma-2-2b", "pretrained: hub id or directory (App. A: Gemma-2-2b)")
    vocab_size: int = option(1024, "bpe: vocabulary size", gt=3)
    corpora: tuple[Ref, ...] = option((), "bpe: corpus configs to train on")
    weights: tuple[float, ...] = option((), "bpe: share of training characters per corpus (balances languages)", ge=0)
    train_chars: int = option(2_000_000, "bpe: characters of training text", gt=0)

    def validate(self) -> None:
        if self.kind == "bpe" and not self.corpora:
            raise ValueError("corpora: bpe needs at least one corpus")
        if self.weights and len(self.weights) != len(self.corpora):
            raise ValueError("weights: one weight per corpus")


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    if cfg.kind == "pretrained":
        tok = load_tokenizer(cfg.name_or_path)
    elif cfg.kind == "bytes":
        tok = byte_tokenizer()
    else:
        weights = cfg.weights or tuple(1.0 for _ in cfg.corpora)
        total = sum(weights)
        texts: list[str] = []
        for ref, w in zip(cfg.corpora, weights, strict=True):
            budget, used = int(cfg.train_chars * w / total), 0
            for doc in read_documents(ctx.input(ref)):
                if used >= budget:
                    break
                texts.append(doc)
                used += len(doc)
        tok = train_bpe(texts, cfg.vocab_size)
    tok.save_pretrained(ctx.workdir / "tokenizer")
    summary = {"vocab_size": len(tok), "kind": cfg.kind}
    write_summary(ctx.workdir, summary)
    ctx.log(f"tokenizer {cfg.kind}: vocab {len(tok)}")
    return summary
