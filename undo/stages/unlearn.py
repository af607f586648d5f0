"""Stage ``unlearn``: suppress the forget capability of a model with a registered method (Table 5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, Ref, build, option
from ..models import load_model, save_model
from ..train import Batches, OptimConfig, train
from ..unlearn import REGISTRY, get_method
from . import Context
from .common import EvalConfig, artifact_tokenizer, dataset_tokens, make_evaluator, write_history, write_summary

NAME = "unlearn"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    model: Ref = option(doc="model to unlearn (a pretrain config)")
    forget: Ref = option(doc="forget dataset config")
    retain: Ref = option(doc="retain dataset config")
    method: str = option(doc="registered method name, e.g. maxent")
    options: dict[str, Any] = option(default_factory=dict, doc="the method's own hyperparameters")
    optim: OptimConfig = option(doc="optimizer (Table 5); batch_size applies to forget and retain each")
    seed: int = option(0, "data-order seed")
    eval: EvalConfig | None = option(None, "evaluation before and after")
    eval_every: int = option(0, "steps between evaluations (0: start and end)", ge=0, in_key=False)

    def validate(self) -> None:
        if self.method not in REGISTRY:
            raise ValueError(f"method: unknown unlearning method {self.method!r} (known: {', '.join(sorted(REGISTRY))})")
        try:
            build(get_method(self.method).Config, self.options, file="-")
        except ConfigError as err:
            raise ValueError(f"options.{err.key}: {err.message}") from None


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    method = get_method(cfg.method)(build(get_method(cfg.method).Config, cfg.options, file="-"))
    model = load_model(ctx.input(cfg.model) / "model", ctx.device)
    tokenizer = artifact_tokenizer(ctx.input(cfg.model))
    method.setup(model)
    forget = Batches(dataset_tokens(ctx.input(cfg.forget)), cfg.optim.batch_size, cfg.seed)
    retain = Batches(dataset_tokens(ctx.input(cfg.retain)), cfg.optim.batch_size, cfg.seed + 1)
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx) if cfg.eval else None

    def loss_fn(index):
        return method.loss(model, forget(index).to(ctx.device), retain(index).to(ctx.device))

    seq_len = forget.tokens.shape[1]
    result = train(model, loss_fn, lambda i: i, cfg.optim, total_steps=cfg.optim.max_steps, seed=cfg.seed,
                   workdir=ctx.workdir, tokens_per_micro=2 * cfg.optim.batch_size * seq_len,
                   eval_fn=(lambda step: evaluator(model)) if evaluator else None,
                   eval_every=cfg.eval_every, desc=ctx.name, log_every=1)
    save_model(model, tokenizer, ctx.workdir / "model")
    write_history(ctx.workdir, result.history)
    evals = [r for r in result.history if "eval/retain" in r]
    summary = {"steps": result.steps, "tokens": result.tokens, "train_seconds": result.wall_seconds,
               "eval_initial": {k[5:]: v for k, v in evals[0].items() if k.startswith("eval/")} if evals else {},
               "eval": {k[5:]: v for k, v in evals[-1].items() if k.startswith("eval/")} if evals else {}}
    write_summary(ctx.workdir, summary)
    if evals:
        ctx.log(f"retain {evals[0]['eval/retain']:.3f} -> {evals[-1]['eval/retain']:.3f}, "
                f"forget {evals[0]['eval/forget']:.3f} -> {evals[-1]['eval/forget']:.3f}")
    return summary
