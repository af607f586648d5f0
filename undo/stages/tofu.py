"""Stage ``tofu``: TOFU question-answer splits as ``<split>.jsonl`` (App. F).

App. F finetunes on TOFU's ``full`` set, unlearns ``forget10`` with GradDiff against ``retain90``, distills into
the base model and attacks it; open-unlearning's TOFU metrics score each phase from the forget, retain, holdout,
perturbed, real-author and world-fact sets (:mod:`undo.data.tofu` names them, their columns and what was verified
of the hub). The default ``splits`` are what those metrics need for forget10. Sources:

- ``generated``: invented authors (:func:`undo.data.tofu.make_authors`; mini and smoke, offline) with the same
  splits and columns, the real-author and world-fact sets taken from the generated knowledge world
  (``world_seed``, ``world_entities``: as the base model's pretraining corpus);
- ``jsonl``: ``<path>/<split>.jsonl`` for every split (e.g. a saved copy of the hub's), validated line by line;
- ``hf``: ``locuslab/TOFU`` (or ``path``) pinned by ``revision``, each split read as the hub config of that name,
  split ``train``; ``path: json`` or ``parquet`` with ``data_files`` (files per TOFU split) reads local files with
  the hub's schema.

Every split is read and checked before anything is written: a bad row is one error naming the file and line, or
the dataset, config and row, and the field. The artifact records the items per split and, for the hub, the
revision asked for and the commit read (``hub``; :func:`undo.data.hub.hub_revision`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import option
from ..data import tofu
from . import Context
from .common import record_hub, write_summary

NAME = "tofu"
CODE_VERSION = 2  # 2: generated perturbed answers are the paraphrase with a wrong value (TOFU Sec. 2.2)

# What the TOFU metrics read for forget10 (open-unlearning's defaults): finetuning, forget/retain probability and
# ROUGE, truth ratio and forget quality, MIA (forget vs holdout), model utility (retain, real authors, world facts).
DEFAULT_SPLITS = ("full", "forget10", "retain90", "holdout10", "forget10_perturbed", "retain_perturbed",
                  "real_authors_perturbed", "world_facts_perturbed")


@dataclass(frozen=True, kw_only=True)
class Config:
    source: Literal["generated", "jsonl", "hf"] = option(doc="where the splits come from")
    splits: tuple[str, ...] = option(DEFAULT_SPLITS, "TOFU splits to write, as the hub names its configs")
    path: str = option("", "jsonl: directory of <split>.jsonl; hf: dataset id (default locuslab/TOFU), or "
                           "json/parquet with data_files")
    revision: str | None = option(None, "hf: hub commit, branch or tag to read (pins the dataset)")
    data_files: dict[str, tuple[str, ...]] = option(
        default_factory=dict, doc="hf: local files with the hub's schema, per TOFU split ({full: [...], ...})")
    seed: int = option(0, "generated: seed of the authors and of the perturbed answers")
    authors: int = option(200, "generated: authors in full (TOFU: 200); the holdout adds 10% more", ge=2)
    questions_per_author: int = option(20, "generated: questions per author (TOFU: 20)", ge=1,
                                       le=len(tofu.ATTRIBUTES))
    perturbed_per_item: int = option(5, "generated: wrong answers per perturbed item (TOFU: 5)", ge=1,
                                     le=tofu.MAX_PERTURBED)
    world_seed: int = option(0, "generated: seed of the knowledge world behind real_authors and world_facts "
                                "(as the base model's corpus)")
    world_entities: int = option(40, "generated: towns in that world's general domain (as the corpus)", gt=0)

    def validate(self) -> None:
        if not self.splits:
            raise ValueError("splits: name at least one split")
        for split in self.splits:
            try:
                tofu.check_split(split)
            except tofu.TofuError as err:
                raise ValueError(f"splits: {err}") from None
        repeated = sorted({s for s in self.splits if self.splits.count(s) > 1})
        if repeated:
            raise ValueError(f"splits: {', '.join(repeated)} named twice")
        if self.source == "jsonl" and not self.path:
            raise ValueError("path: source jsonl needs the directory of <split>.jsonl files")
        # hf options are ignored by the other sources, not refused: a scale overlay that switches the source
        # (paper: hf; mini/smoke: generated) inherits them.
        if self.source == "hf" and self.data_files:
            missing = [s for s in self.splits if s not in self.data_files]
            if missing:
                raise ValueError(f"data_files: no files for split {missing[0]!r} "
                                 f"(files given for: {', '.join(self.data_files)})")


def hub_path(cfg: Config) -> str:
    return cfg.path or tofu.HUB_PATH


def build_splits(cfg: Config) -> dict[str, list[dict]]:
    """Every split of ``cfg.splits``, read and checked."""
    world = None
    if cfg.source == "generated":
        world = tofu.make_authors(cfg.seed, cfg.authors, cfg.questions_per_author,
                                  perturbed_per_item=cfg.perturbed_per_item, world_seed=cfg.world_seed,
                                  world_entities=cfg.world_entities)
    return {split: tofu.load_split(cfg.source, split, world=world, path=hub_path(cfg) if cfg.source == "hf"
                                   else cfg.path, revision=cfg.revision, data_files=cfg.data_files.get(split))
            for split in cfg.splits}


def _record_commit(ctx: Context, cfg: Config, summary: dict) -> None:
    """The commit the dataset was read from, looked up once after every split loaded; nothing for local files."""
    from ..data.hub import hub_revision

    record = hub_revision(hub_path(cfg), revision=cfg.revision)
    record_hub(ctx, summary, record)


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    splits = build_splits(cfg)  # every check before anything is written
    for split, items in splits.items():
        with open(ctx.workdir / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    source = {"generated": "generated", "jsonl": f"jsonl:{Path(cfg.path).name}", "hf": f"hf:{hub_path(cfg)}"}
    summary = {"source": source[cfg.source], "items": {split: len(items) for split, items in splits.items()}}
    if cfg.source == "generated":
        summary["generated"] = {"authors": cfg.authors, "holdout_authors": tofu.share(cfg.authors, 10),
                                "questions_per_author": cfg.questions_per_author,
                                "perturbed_per_item": cfg.perturbed_per_item,
                                "world": {"seed": cfg.world_seed, "entities": cfg.world_entities}}
    if cfg.source == "hf":
        summary["revision"] = cfg.revision
        _record_commit(ctx, cfg, summary)
    write_summary(ctx.workdir, summary)
    ctx.log(f"{sum(summary['items'].values())} items in {len(splits)} splits from {summary['source']}")
    return summary
