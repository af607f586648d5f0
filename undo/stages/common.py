"""Helpers shared by the stage modules: reading upstream artifacts, stop rules."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import option
from ..evals import higher_is_better as metric_direction
from ..store import write_json_atomic
from ..tokenizer import load_tokenizer


@dataclass(frozen=True, kw_only=True)
class StopRule:
    """Stop distillation once the student is within ``tolerance`` of the teacher on ``metric``.

    Paper (Section 5): "at least 95% of the teacher model's performance on the retain set";
    the reference code reads that as 0.05 absolute retain accuracy (arithmetic) and 5% relative
    English CE (language). The metric's direction comes from the evaluation's registration
    (:mod:`undo.evals`), never from YAML: for a cross-entropy with ``mode: relative`` the rule is
    ``CE_student <= CE_teacher * (1 + tolerance)``.
    """

    metric: str = option("retain", "evaluation metric compared with the teacher's")
    tolerance: float = option(0.05, "allowed gap", ge=0)
    mode: Literal["absolute", "relative"] = option("absolute", "gap measured absolutely or relative to the teacher")
    higher_is_better: bool = option(True, "direction of the metric", derived="the evaluation declares it")

    def directed(self, eval_cfg) -> StopRule:
        """This rule with the direction the evaluation declares for its metric."""
        return dataclasses.replace(self, higher_is_better=metric_direction(eval_cfg.kind, self.metric))

    def reached(self, student: float, teacher: float) -> bool:
        gap = (teacher - student) if self.higher_is_better else (student - teacher)
        allowed = self.tolerance if self.mode == "absolute" else self.tolerance * abs(teacher)
        return gap <= allowed + 1e-12


def artifact_tokenizer(path: Path):
    """The tokenizer saved in a dataset or model artifact."""
    for sub in ("tokenizer", "model"):
        if (path / sub / "tokenizer_config.json").is_file() or (path / sub / "tokenizer.json").is_file():
            return load_tokenizer(path / sub)
    raise FileNotFoundError(f"no tokenizer in {path}")


def write_history(workdir: Path, history: list[dict]) -> None:
    with open(workdir / "metrics.jsonl", "w", encoding="utf-8") as fh:
        for row in history:
            fh.write(json.dumps(row) + "\n")


def write_summary(workdir: Path, summary: dict) -> None:
    write_json_atomic(workdir / "metrics.json", summary)


def record_hub(ctx, summary: dict, record: dict | None) -> None:
    """Put the hub commit a stage read into its summary (``hub``) and log its note (e.g. that it was unpinned)."""
    if record is None:
        return
    from ..data.hub import revision_note

    summary["hub"] = record
    note = revision_note(record)
    if note:
        ctx.log(note)
