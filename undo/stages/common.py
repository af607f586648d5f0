"""Helpers shared by the stage modules: reading upstream artifacts, evaluation specs, stop rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..config import option
from ..evals import ArithmeticEval, ArithmeticEvalConfig, LanguageEval, LanguageEvalConfig
from ..store import write_json_atomic
from ..tokenizer import load_tokenizer


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Which evaluation a stage runs. ``arithmetic``: accuracy per operation and format (higher is
    better); ``language``: held-out cross-entropy on retain and forget text (lower is better)."""

    kind: Literal["arithmetic", "language"] = option("arithmetic", "evaluation family")
    arithmetic: ArithmeticEvalConfig = option(default_factory=ArithmeticEvalConfig, doc="arithmetic settings")
    language: LanguageEvalConfig | None = option(None, "language settings (held-out datasets)", key_if_set=True)

    def validate(self) -> None:
        if self.kind == "language" and self.language is None:
            raise ValueError("language: kind 'language' needs language.retain and language.forget (held-out datasets)")

    @property
    def higher_is_better(self) -> bool:
        """Direction of the ``retain``/``forget`` metrics: accuracy up, cross-entropy down."""
        return self.kind != "language"


def make_evaluator(cfg: EvalConfig, tokenizer, device: str, ctx=None):
    """The evaluator a stage calls as ``evaluator(model) -> {"retain": ..., "forget": ..., ...}``.

    ``ctx`` (the stage's :class:`~undo.stages.Context`) locates the held-out datasets a language
    evaluation reads; they are upstream artifacts of the stage.
    """
    if cfg.kind == "language":
        if ctx is None:
            raise ValueError("a language evaluation needs the stage context to find its held-out datasets")
        lang = cfg.language
        return LanguageEval(lang, dataset_tokens(ctx.input(lang.retain)), dataset_tokens(ctx.input(lang.forget)), device)
    return ArithmeticEval(cfg.arithmetic, tokenizer, device)


@dataclass(frozen=True, kw_only=True)
class StopRule:
    """Stop distillation once the student is within ``tolerance`` of the teacher on ``metric``.

    Paper (Section 5): "at least 95% of the teacher model's performance on the retain set";
    the reference code reads that as 0.05 absolute retain accuracy (arithmetic) and 5% relative
    English CE (language). With ``higher_is_better: false`` and ``mode: relative`` the rule is
    ``CE_student <= CE_teacher * (1 + tolerance)``; :meth:`check_direction` refuses a rule that
    treats a cross-entropy as an accuracy or vice versa.
    """

    metric: str = option("retain", "evaluation metric compared with the teacher's")
    tolerance: float = option(0.05, "allowed gap", ge=0)
    mode: Literal["absolute", "relative"] = option("absolute", "gap measured absolutely or relative to the teacher")
    higher_is_better: bool = option(True, "accuracy: true; cross-entropy: false")

    def check_direction(self, eval_cfg: EvalConfig) -> None:
        """Refuse a rule whose direction contradicts the evaluation's (e.g. CE treated as accuracy)."""
        if self.higher_is_better != eval_cfg.higher_is_better:
            what = "accuracy (higher is better)" if eval_cfg.higher_is_better else "cross-entropy (lower is better)"
            raise ValueError(f"stop.higher_is_better: the {eval_cfg.kind} evaluation measures {what}; "
                             f"set higher_is_better: {str(eval_cfg.higher_is_better).lower()}")

    def reached(self, student: float, teacher: float) -> bool:
        gap = (teacher - student) if self.higher_is_better else (student - teacher)
        allowed = self.tolerance if self.mode == "absolute" else self.tolerance * abs(teacher)
        return gap <= allowed + 1e-12


def dataset_tokens(path: Path) -> np.ndarray:
    return np.load(path / "tokens.npy", mmap_mode="r")


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
