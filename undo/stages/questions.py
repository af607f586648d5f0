"""Stage ``questions``: multiple-choice items ``{question, choices, answer}`` as ``items.jsonl`` (Section 6).

The forget and retain question sets of the WMDP setting (WMDP-Bio/Cyber and MMLU at paper scale) are item sets
that the ``multiple_choice`` evaluation scores. Sources:

- ``knowledge``: the generated world of :mod:`undo.data.knowledge` (mini and smoke): one item per fact of the
  chosen domains, in the held-out phrasing, with distractors of the same attribute;
- ``jsonl``: a local file of ``{question, choices, answer}`` lines (e.g. a saved copy of a hub benchmark),
  validated line by line: a bad line is one error naming the file and line, and nothing is written;
- ``hf``: a benchmark on the Hugging Face hub, pinned by ``revision`` (paper scale): ``cais/wmdp`` with config
  ``wmdp-bio`` or ``wmdp-cyber`` (columns ``question``, ``choices``: four strings, ``answer``: the correct index;
  split ``test``), or ``cais/mmlu`` with config ``all`` (the same columns plus ``subject``; splits ``test`` and
  ``dev``). ``path: json`` or ``parquet`` with ``data_files`` (a mapping of split to files) reads local files
  with that schema. Every row is checked as the evaluation's item files are; a bad row is one error naming the
  dataset, split and row.

``fraction`` keeps that share of every subject (App. D.2.1: 40% of each MMLU subject): ``ceil(n * fraction)`` of
a subject's n items, the count lm-evaluation-harness takes for a fractional ``--limit``; ``fraction_pick: seeded``
draws them with a generator seeded by ``seed`` and the subject, ``first`` takes the subject's first items, which is
what the harness's ``--limit`` evaluates (its own seed does not choose them). Either way they stay in the source's
order, and items without a subject form one group. ``max_items`` then keeps a seeded subset (in the source's order). An
item's ``subject`` stays in ``items.jsonl``. With ``shots_split`` (MMLU: ``dev``) the first ``n_shots`` rows of
every subject of that split, in the split's order (the harness's ``first_n`` sampler, MMLU's five-shot prompt),
are written to ``shots.jsonl``, subject kept. The artifact records the number of items, how often each answer
position is correct (a skewed benchmark shows there) and, for hub benchmarks, the items and shots per subject,
the revision asked for and the commit read (``hub``; :func:`undo.data.hub.hub_revision`).
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import option
from ..data import knowledge
from ..evals.multiple_choice import ItemsError, _item, load_items
from . import Context
from .common import record_hub, write_summary

NAME = "questions"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    source: Literal["knowledge", "jsonl", "hf"] = option(doc="where the items come from")
    domains: tuple[str, ...] = option(("bio",), "knowledge: domains whose facts become items")
    entities: int = option(40, "knowledge: entities per domain (the corpus's world must match)", gt=0)
    world_seed: int = option(0, "knowledge: seed of the world's facts (as the corpus's)")
    n_choices: int = option(4, "knowledge: options per item (WMDP and MMLU: 4)", ge=2)
    path: str = option("", "jsonl: the item file; hf: dataset id (cais/wmdp, cais/mmlu), or json/parquet with "
                           "data_files")
    max_items: int | None = option(None, "keep a seeded subset of this many items", gt=0)
    seed: int = option(0, "order of the options (knowledge) and of the subsets (fraction, max_items)")
    config_name: str | None = option(None, "hf: dataset config (cais/wmdp: wmdp-bio, wmdp-cyber; cais/mmlu: all)",
                                     key_if_set=True)
    split: str = option("test", "hf: split of the items", key_if_set=True)
    revision: str | None = option(None, "hf: hub commit, branch or tag to read (pins the benchmark)", key_if_set=True)
    data_files: dict[str, tuple[str, ...]] = option(
        default_factory=dict, doc="hf: local files with the hub's schema, per split ({test: [...], dev: [...]})",
        key_if_set=True)
    subject_field: str = option("subject", "hf: column of an item's subject (MMLU), if the benchmark has one",
                                key_if_set=True)
    fraction: float | None = option(None, "keep this share of every subject, seeded (App. D.2.1: MMLU 0.4); "
                                          "None: every item", gt=0, le=1, key_if_set=True)
    fraction_pick: Literal["seeded", "first"] = option(
        "seeded", "which items of a subject the fraction keeps: a seeded draw, or the first ones (the harness's "
                  "fractional --limit)", key_if_set=True)
    shots_split: str | None = option(None, "hf: split whose first n_shots rows per subject go to shots.jsonl "
                                           "(MMLU: dev)", key_if_set=True)
    n_shots: int = option(5, "hf: few-shot examples per subject (MMLU: 5)", gt=0, key_if_set=True)
    subject: str | None = option(None, "label items without a subject with this one (the harness's WMDP descriptions "
                                       "name biology, cybersecurity)", key_if_set=True)

    def validate(self) -> None:
        if self.source == "jsonl" and not self.path:
            raise ValueError("path: a jsonl benchmark needs the item file")
        if self.source == "hf" and not self.path:
            raise ValueError("path: a hub benchmark needs its dataset id (cais/wmdp, cais/mmlu) or json/parquet")
        if self.source == "knowledge":
            knowledge.check_domains(self.domains)
        # hf options are ignored by the other sources, not refused: a scale overlay that switches the source
        # (paper: hf; mini/smoke: knowledge) inherits them.
        if self.source == "hf" and self.data_files:
            for split in (self.split, self.shots_split):
                if split is not None and split not in self.data_files:
                    raise ValueError(f"data_files: no files for split {split!r} (splits: {', '.join(self.data_files)})")


def _where(cfg: Config, split: str) -> str:
    name = cfg.path if cfg.config_name is None else f"{cfg.path} (config {cfg.config_name})"
    return f"{name}{'' if cfg.revision is None else f' at revision {cfg.revision}'} split {split!r}"


def hub_items(cfg: Config, split: str) -> list[dict]:
    """The rows of one split of a hub benchmark as items, each checked as the evaluation checks an item file
    (``subject`` kept when the benchmark has one)."""
    from ..data.hub import hf_rows

    files = {k: list(v) for k, v in cfg.data_files.items()} or None
    items = []
    for number, row in enumerate(hf_rows(cfg.path, name=cfg.config_name, split=split, revision=cfg.revision,
                                         data_files=files), start=1):
        where = f"{_where(cfg, split)} row {number}"
        checked = _item(row, where)
        item = {"question": checked.question, "choices": list(checked.choices), "answer": checked.answer}
        if cfg.subject_field in row:
            subject = row[cfg.subject_field]
            if not isinstance(subject, str) or not subject:
                raise ItemsError(f"{where}: {cfg.subject_field} must be a non-empty string, got {subject!r}")
            item["subject"] = subject
        items.append(item)
    if not items:
        raise ItemsError(f"{_where(cfg, split)}: no items")
    return items


def by_subject(items: list[dict]) -> dict[str | None, list[int]]:
    """Item indices per subject, subjects in order of first appearance (None: items without a subject)."""
    groups: dict[str | None, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(item.get("subject"), []).append(index)
    return groups


def subject_fraction(items: list[dict], fraction: float, seed: int, pick: str = "seeded") -> list[dict]:
    """``ceil(n * fraction)`` of every subject's n items (the harness's count for a fractional limit): a draw seeded
    by ``seed`` and the subject, or (``pick="first"``) the subject's first items; kept in the source's order."""
    keep: set[int] = set()
    for subject, indices in by_subject(items).items():
        k = int(math.ceil(len(indices) * fraction))
        keep.update(indices[:k] if pick == "first" else random.Random(f"{seed}/{subject}").sample(indices, k))
    return [item for index, item in enumerate(items) if index in keep]


def first_shots(cfg: Config, subjects: list[str | None]) -> list[dict]:
    """The first ``n_shots`` rows of ``shots_split`` for each subject of the items (the harness's ``first_n``)."""
    rows = hub_items(cfg, cfg.shots_split)
    groups = by_subject(rows)
    shots = []
    for subject in subjects:
        if subject not in groups:
            raise ItemsError(f"{_where(cfg, cfg.shots_split)}: no rows for subject {subject!r} (shots_split)")
        shots += [rows[i] for i in groups[subject][:cfg.n_shots]]
    return shots


def build_items(cfg: Config) -> list[dict]:
    if cfg.source == "knowledge":
        world = knowledge.make_world(cfg.world_seed, cfg.entities)
        items = [item for domain in cfg.domains
                 for item in knowledge.choice_items(world, domain, seed=cfg.seed, n_choices=cfg.n_choices)]
    elif cfg.source == "hf":
        items = hub_items(cfg, cfg.split)
    else:
        items = [{"question": i.question, "choices": list(i.choices), "answer": i.answer}
                 for i in load_items(Path(cfg.path))]
    if cfg.fraction is not None:
        items = subject_fraction(items, cfg.fraction, cfg.seed, cfg.fraction_pick)
    if cfg.max_items is not None and len(items) > cfg.max_items:
        keep = sorted(random.Random(cfg.seed).sample(range(len(items)), cfg.max_items))
        items = [items[i] for i in keep]
    if cfg.subject is not None:
        items = [{**item, "subject": item.get("subject") or cfg.subject} for item in items]
    return items


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _counts(rows: list[dict]) -> dict[str, int]:
    """Rows per subject ("all": rows of a benchmark without subjects, as WMDP)."""
    return {"all" if subject is None else subject: len(indices) for subject, indices in by_subject(rows).items()}


def _record_commit(ctx: Context, cfg: Config, summary: dict) -> None:
    """The commit the benchmark was read from, looked up once after the rows loaded (the load has already found the
    hub reachable); nothing for local files."""
    from ..data.hub import hub_revision

    record = hub_revision(cfg.path, name=cfg.config_name, revision=cfg.revision)
    record_hub(ctx, summary, record)


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    items = build_items(cfg)
    shots = None
    if cfg.source == "hf" and cfg.shots_split:
        shots = first_shots(cfg, list(by_subject(items)))  # every check before anything is written
    _write_jsonl(ctx.workdir / "items.jsonl", items)
    positions = Counter(item["answer"] for item in items)
    source = {"knowledge": "knowledge", "jsonl": f"jsonl:{Path(cfg.path).name}",
              "hf": f"hf:{cfg.path}/{cfg.config_name or ''} ({cfg.split})"}[cfg.source]
    summary = {"items": len(items), "answer_positions": {str(k): positions[k] for k in sorted(positions)},
               "source": source}
    if cfg.fraction is not None:
        summary["fraction"] = {"share": cfg.fraction, "pick": cfg.fraction_pick}
    if cfg.source == "hf":
        summary["revision"] = cfg.revision
        summary["items_per_subject"] = _counts(items)
        _record_commit(ctx, cfg, summary)
    if shots is not None:
        _write_jsonl(ctx.workdir / "shots.jsonl", shots)
        summary["shots"] = {"split": cfg.shots_split, "per_subject": _counts(shots)}
    write_summary(ctx.workdir, summary)
    ctx.log(f"{len(items)} items from {summary['source']}")
    return summary
