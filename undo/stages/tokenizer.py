"""Stage ``tokenizer``: Gemma-2-2b's tokenizer (paper) or a byte-level BPE trained on the corpora.

A pretrained tokenizer is a hub id or a ``save_pretrained`` directory; ``revision`` pins a hub id's commit,
branch or tag (:func:`undo.models.load_pretrained_tokenizer`); the commit a hub tokenizer was read from is recorded
as ``hub`` (:func:`undo.data.hub.hub_revision`), so an unpinned one can be pinned after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import Ref, option
from ..data.hub import hub_revision
from ..models import load_pretrained_tokenizer
from ..tokenizer import byte_tokenizer, train_bpe
from . import Context
from .common import record_hub, write_summary
from .corpus import iter_documents

NAME = "tokenizer"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    kind: Literal["pretrained", "bpe", "bytes"] = option(doc="hub/local tokenizer, locally trained BPE, or raw bytes")
    name_or_path: str = option("google/gemma-2-2b", "pretrained: hub id or directory (App. A: Gemma-2-2b)")
    revision: str | None = option(None, "pretrained: hub commit, branch or tag to load (pins the tokenizer; hub ids "
                                        "only)", key_if_set=True)
    vocab_size: int = option(1024, "bpe: vocabulary size", gt=3)
    corpora: tuple[Ref, ...] = option((), "bpe: corpus configs to train on")
    weights: tuple[float, ...] = option((), "bpe: share of training characters per corpus (balances languages)", ge=0)
    train_chars: int = option(2_000_000, "bpe: characters of training text", gt=0)
    balanced: bool = option(False, "bpe: if a corpus has less text than its share, shrink every share so the weights "
                                   "still hold (a small Korean corpus is not swamped by English)", key_if_set=True)

    def validate(self) -> None:
        if self.kind == "bpe" and not self.corpora:
            raise ValueError("corpora: bpe needs at least one corpus")
        if self.weights and len(self.weights) != len(self.corpora):
            raise ValueError("weights: one weight per corpus")


def training_text(ctx: Context, cfg: Config) -> tuple[list[str], dict[str, int]]:
    """Whole documents of each corpus up to its share of ``train_chars``; with ``balanced``, every share is
    scaled by the fill of the least-filled corpus, so the characters per corpus follow the weights."""
    weights = cfg.weights or tuple(1.0 for _ in cfg.corpora)
    total = sum(weights)
    picked: list[list[str]] = []
    budgets = []
    for ref, w in zip(cfg.corpora, weights, strict=True):
        budget, used, docs = int(cfg.train_chars * w / total), 0, []
        for doc in iter_documents(ctx.input(ref)):
            if used >= budget:
                break
            docs.append(doc)
            used += len(doc)
        picked.append(docs)
        budgets.append(budget)
    if cfg.balanced:
        fill = min(min(1.0, sum(map(len, docs)) / b) for docs, b in zip(picked, budgets, strict=True) if b > 0)
        trimmed = []
        for docs, budget in zip(picked, budgets, strict=True):
            keep, used = [], 0
            for doc in docs:
                if used >= fill * budget:
                    break
                keep.append(doc)
                used += len(doc)
            trimmed.append(keep)
        picked = trimmed
    used = {ctx.inputs[str(ref)].relpath: sum(map(len, docs)) for ref, docs in zip(cfg.corpora, picked, strict=True)}
    return [doc for docs in picked for doc in docs], used


def _record_commit(ctx: Context, cfg: Config, summary: dict) -> None:
    """The commit a hub tokenizer was read from (one lookup after the load; not offline); nothing for a directory."""
    record = hub_revision(cfg.name_or_path, revision=cfg.revision, repo_type="model",
                          offline_variables=("HF_HUB_OFFLINE",))
    record_hub(ctx, summary, record)


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    if cfg.kind == "pretrained":
        tok = load_pretrained_tokenizer(cfg.name_or_path, cfg.revision)
    elif cfg.kind == "bytes":
        tok = byte_tokenizer()
    else:
        texts, used = training_text(ctx, cfg)
        tok = train_bpe(texts, cfg.vocab_size)
    tok.save_pretrained(ctx.workdir / "tokenizer")
    summary = {"vocab_size": len(tok), "kind": cfg.kind}
    if cfg.kind == "pretrained" and cfg.revision is not None:
        summary["revision"] = cfg.revision
    if cfg.kind == "pretrained":
        _record_commit(ctx, cfg, summary)
    if cfg.kind == "bpe":
        summary["training_characters"] = used
    write_summary(ctx.workdir, summary)
    ctx.log(f"tokenizer {cfg.kind}: vocab {len(tok)}")
    return summary
