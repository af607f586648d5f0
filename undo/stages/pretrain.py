"""Stage ``pretrain``: train a freshly initialised Gemma-2 on a dataset with next-token CE (Table 2).

Used for the reference model (retain + forget data) and the data-filtering oracle (retain only). With ``start`` the
model is an existing model artifact instead of a fresh init: finetuning, as App. F finetunes a base model on TOFU's
question-answer pairs (a prompt/answer dataset scores only the answer tokens, :mod:`undo.batch`).

With ``match``, training goes on past ``optim.max_steps`` (at the schedule's final learning rate)
until the model's retain performance is within ``match.tolerance`` of another model's (the
reference's), checked every ``match.every`` steps, or ``match.max_steps`` is reached. The
data-filtering oracle is the gold standard of Sections 3-6 only if it is as good on retain as the
reference; a tiny model trained on less of the retain-heavy mix can fall short at the reference's
step count. Its compute S_DataFiltering (Figure 5) is then the steps it actually took.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..accel import lm_cross_entropy
from ..config import Ref, option
from ..data.tokenized import dataset_batches, dataset_tokens
from ..evals import EvalConfig, make_evaluator
from ..models import ModelConfig, build_model, count_parameters, load_model, save_model
from ..train import OptimConfig, train
from . import Context
from .common import StopRule, artifact_tokenizer, write_history, write_summary

NAME = "pretrain"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class MatchRule:
    """Train on until retain matches another model's (see the module docstring)."""

    model: Ref = option(doc="the model to match (e.g. the reference's pretrain config)")
    rule: StopRule = option(default_factory=StopRule, doc="metric and tolerance (as distillation's stop rule)")
    every: int = option(50, "steps between checks past optim.max_steps", gt=0)
    max_steps: int = option(doc="hard cap on the total number of steps", gt=0)


@dataclass(frozen=True, kw_only=True)
class Config:
    data: Ref = option(doc="dataset config")
    model: ModelConfig | None = option(None, "architecture of a fresh init (Table 1)")
    start: Ref | None = option(None, "finetune this model artifact instead of a fresh init (App. F)", key_if_set=True)
    optim: OptimConfig = option(doc="optimizer and schedule (Table 2)")
    seed: int = option(0, "init and data-order seed")
    eval: EvalConfig | None = option(None, "evaluation during and after training")
    eval_every: int = option(0, "steps between evaluations (0: only at the end)", ge=0, in_key=False)
    match: MatchRule | None = option(None, "train on until retain matches another model's", key_if_set=True)

    def validate(self) -> None:
        if (self.model is None) == (self.start is None):
            raise ValueError("model: give either model (a fresh init) or start (a model artifact to finetune)")
        if self.match is not None:
            if self.eval is None:
                raise ValueError("match: needs eval (the metric it compares)")
            if self.match.max_steps < self.optim.max_steps:
                raise ValueError("match.max_steps: must be >= optim.max_steps")

    def derive(self) -> Config:
        """The match rule's direction is the evaluation's (``undo.evals`` registry)."""
        if self.match is None or self.eval is None:
            return self
        return dataclasses.replace(self, match=dataclasses.replace(self.match, rule=self.match.rule.directed(self.eval)))


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    data_dir = ctx.input(cfg.data)
    tokens = dataset_tokens(data_dir)
    if cfg.start is not None:
        model = load_model(ctx.input(cfg.start) / "model", ctx.device)
        tokenizer = artifact_tokenizer(ctx.input(cfg.start))
    else:
        tokenizer = artifact_tokenizer(data_dir)
        model = build_model(cfg.model, len(tokenizer), cfg.seed, ctx.device)
    batches = dataset_batches(data_dir, cfg.optim.batch_size, cfg.seed)
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx.input) if cfg.eval else None

    def loss_fn(batch):
        batch = batch.to(ctx.device)
        return lm_cross_entropy(model, batch), {}

    scheduled = cfg.optim.total_steps(len(tokens))
    total, eval_every, eval_from, should_stop, target = scheduled, cfg.eval_every, 0, None, {}
    if cfg.match is not None:
        rule = cfg.match.rule
        reference_dir = ctx.input(cfg.match.model)
        target = evaluator(load_model(reference_dir / "model", ctx.device))  # the same evaluation as this model's
        ctx.log(f"match: {rule.metric} within {rule.tolerance:g} ({rule.mode}) of {target[rule.metric]:.4f}")
        total, eval_every, eval_from = cfg.match.max_steps, cfg.match.every, scheduled

        def should_stop(history: list[dict]) -> bool:
            return rule.reached(history[-1][f"eval/{rule.metric}"], target[rule.metric])
    ctx.log(f"{count_parameters(model):,} parameters; {total} steps over {len(tokens)} windows")
    result = train(model, loss_fn, batches, cfg.optim, total_steps=total, seed=cfg.seed, workdir=ctx.workdir,
                   tokens_per_micro=cfg.optim.batch_size * tokens.shape[1],
                   eval_fn=(lambda step: evaluator(model)) if evaluator else None, eval_every=eval_every,
                   desc=ctx.name, schedule_steps=scheduled, eval_from=eval_from, should_stop=should_stop)
    save_model(model, tokenizer, ctx.workdir / "model")
    write_history(ctx.workdir, result.history)
    evals = [r for r in result.history if any(k.startswith("eval/") for k in r)]
    final = {k[5:]: v for k, v in evals[-1].items() if k.startswith("eval/")} if evals else {}
    summary = {"steps": result.steps, "tokens": result.tokens, "parameters": count_parameters(model),
               "train_seconds": result.wall_seconds, "eval": final}
    if cfg.match is not None:
        rule = cfg.match.rule
        summary["match"] = {"target": target, "scheduled_steps": scheduled, "max_steps": total,
                            "matched": bool(final) and rule.reached(final[rule.metric], target[rule.metric])}
    write_summary(ctx.workdir, summary)
    ctx.log(f"done: {result.steps} steps, eval {final}")
    return summary
