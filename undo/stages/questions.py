"""Stage ``questions``: multiple-choice items ``{question, choices, answer}`` as ``items.jsonl`` (Section 6).

The forget and retain question sets of the WMDP setting (WMDP-Bio/Cyber and MMLU at paper scale) are item sets
that the ``multiple_choice`` evaluation scores. Sources:

- ``knowledge``: the generated world of :mod:`undo.data.knowledge` (mini and smoke): one item per fact of the
  chosen domains, in the held-out phrasing, with distractors of the same attribute;
- ``jsonl``: a local file of ``{question, choices, answer}`` lines (e.g. a saved copy of a hub benchmark),
  validated line by line: a bad line is one error naming the file and line, and nothing is written.

``max_items`` keeps a seeded subset (in the source's order). The artifact records the number of items and
how often each answer position is correct (a skewed benchmark shows there).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import option
from ..data import knowledge
from ..evals.multiple_choice import load_items
from . import Context
from .common import write_summary

NAME = "questions"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    source: Literal["knowledge", "jsonl"] = option(doc="where the items come from")
    domains: tuple[str, ...] = option(("bio",), "knowledge: domains whose facts become items")
    entities: int = option(40, "knowledge: entities per domain (the corpus's world must match)", gt=0)
    world_seed: int = option(0, "knowledge: seed of the world's facts (as the corpus's)")
    n_choices: int = option(4, "knowledge: options per item (WMDP and MMLU: 4)", ge=2)
    path: str = option("", "jsonl: the item file")
    max_items: int | None = option(None, "keep a seeded subset of this many items", gt=0)
    seed: int = option(0, "order of the options (knowledge) and of the subset")

    def validate(self) -> None:
        if self.source == "jsonl" and not self.path:
            raise ValueError("path: a jsonl benchmark needs the item file")
        if self.source == "knowledge":
            knowledge.check_domains(self.domains)


def build_items(cfg: Config) -> list[dict]:
    if cfg.source == "knowledge":
        world = knowledge.make_world(cfg.world_seed, cfg.entities)
        items = [item for domain in cfg.domains
                 for item in knowledge.choice_items(world, domain, seed=cfg.seed, n_choices=cfg.n_choices)]
    else:
        items = [{"question": i.question, "choices": list(i.choices), "answer": i.answer}
                 for i in load_items(Path(cfg.path))]
    if cfg.max_items is not None and len(items) > cfg.max_items:
        keep = sorted(random.Random(cfg.seed).sample(range(len(items)), cfg.max_items))
        items = [items[i] for i in keep]
    return items


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    items = build_items(cfg)
    with open(ctx.workdir / "items.jsonl", "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    positions = Counter(item["answer"] for item in items)
    summary = {"items": len(items), "answer_positions": {str(k): positions[k] for k in sorted(positions)},
               "source": cfg.source if cfg.source == "knowledge" else f"jsonl:{Path(cfg.path).name}"}
    write_summary(ctx.workdir, summary)
    ctx.log(f"{len(items)} items from {summary['source']}")
    return summary
