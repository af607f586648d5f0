"""Stage ``qa``: question-answer pairs as a prompt/answer dataset (``tokens.npy`` + ``loss_mask.npy``; App. F).

TOFU is finetuned, unlearned, distilled and relearned on its question-answer pairs, with the loss on the answer
tokens only (open-unlearning's QA collator masks the question). This stage takes one split of an item artifact (the
``tofu`` stage's ``<split>.jsonl``), formats every pair with the model's prompt format (:mod:`undo.data.qa`) and
writes one right-padded row per pair, its answer tokens marked in ``loss_mask.npy``. The tokenizer is the model's
(``tokenizer_from``: the base model about to be finetuned), copied into the artifact as every dataset carries one.
A pair longer than ``seq_len`` loses its answer's tail; how many did is recorded. The prompt format is recorded too
(``prompt`` in ``metrics.json``): the TOFU evaluation of a model trained on this data reads it from here
(``format_from``), so training and scoring cannot disagree on it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from ..config import Ref, option
from ..data.qa import PromptFormat, encode_pair, pad_pair
from ..models import PAD_ID
from . import Context
from .common import artifact_tokenizer, write_summary

NAME = "qa"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    items: Ref = option(doc="item artifact (a tofu stage config)")
    split: str = option(doc="which of its splits (e.g. full, forget10, retain90)")
    tokenizer_from: Ref = option(doc="the artifact whose tokenizer formats the pairs (the base model)")
    prompt: PromptFormat = option(default_factory=PromptFormat, doc="prompt format (chat for instruct models)")
    seq_len: int = option(256, "row length; longer pairs are cut at the answer's tail (open-unlearning: 512)", gt=1)


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    source = ctx.input(cfg.items) / f"{cfg.split}.jsonl"
    if not source.is_file():
        have = sorted(p.stem for p in ctx.input(cfg.items).glob("*.jsonl"))
        raise ValueError(f"split: {ctx.inputs[str(cfg.items)].relpath} has no split {cfg.split!r} "
                         f"(it has: {', '.join(have)})")
    tokenizer = artifact_tokenizer(ctx.input(cfg.tokenizer_from))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else PAD_ID
    rows, masks, truncated = [], [], 0
    with open(source, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            item = json.loads(line)
            prompt, answer = encode_pair(tokenizer, cfg.prompt, item["question"], item["answer"])
            ids, mask, cut = pad_pair(prompt, answer, cfg.seq_len, pad_id)
            rows.append(ids)
            masks.append(mask)
            truncated += cut
    if not rows:
        raise ValueError(f"split: {cfg.split!r} of {ctx.inputs[str(cfg.items)].relpath} has no items")
    tokens, loss_mask = np.stack(rows), np.stack(masks)
    np.save(ctx.workdir / "tokens.npy", tokens)
    np.save(ctx.workdir / "loss_mask.npy", loss_mask)
    tok_dir = ctx.workdir / "tokenizer"
    tokenizer.save_pretrained(tok_dir)
    lengths = (tokens != pad_id).sum(1)
    summary = {"pairs": len(rows), "seq_len": cfg.seq_len, "answer_tokens": int(loss_mask.sum()),
               "truncated": truncated, "longest_pair": int(lengths.max()), "pad_id": int(pad_id),
               "prompt": dataclasses.asdict(cfg.prompt)}
    write_summary(ctx.workdir, summary)
    ctx.log(f"{len(rows)} pairs of {cfg.split}, {summary['answer_tokens']} answer tokens, {truncated} truncated")
    return summary
