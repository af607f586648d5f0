"""Stage ``init``: a freshly initialised Gemma-2, untrained (the Unlearn-and-Distill student, Section 4).

Built exactly as :mod:`undo.stages.pretrain` builds its model before the first step (same
architecture block, same ``build_model`` initialiser, vocabulary from the same dataset's tokenizer),
so "Random Init" in Table 6 means the distribution pretraining starts from, not shrink-perturb noise.
With ``eval`` set, the untrained model's retain and forget performance is recorded as a floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Ref, option
from ..evals import EvalConfig, make_evaluator
from ..models import ModelConfig, build_model, count_parameters, save_model
from . import Context
from .common import artifact_tokenizer, write_summary

NAME = "init"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    data: Ref = option(doc="dataset whose tokenizer fixes the vocabulary (the pretraining data)")
    model: ModelConfig = option(doc="architecture (Table 1)")
    seed: int = option(0, "init seed")
    eval: EvalConfig | None = option(None, "evaluate the untrained model (chance-level floor)")


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    tokenizer = artifact_tokenizer(ctx.input(cfg.data))
    model = build_model(cfg.model, len(tokenizer), cfg.seed, ctx.device)
    metrics = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx.input)(model) if cfg.eval else {}
    save_model(model, tokenizer, ctx.workdir / "model")
    summary = {"steps": 0, "parameters": count_parameters(model), "seed": cfg.seed, "eval": metrics}
    write_summary(ctx.workdir, summary)
    ctx.log(f"{summary['parameters']:,} parameters, seed {cfg.seed}; eval {metrics}")
    return summary
