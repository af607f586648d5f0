"""Stage ``unlearn``: suppress the forget capability of a model with a registered method (Table 5).

Micro-batch i pairs forget window batch i with retain window batch i; padding is masked. The method's
``setup`` may freeze parameters (RMU trains only some down-projections); the summary records how many
parameters trained and, when not all, which tensors. Methods with a ``step`` (SAM) run the whole
optimizer step through the training loop's ``step_fn``. Learning-rate sweeps use the config's
``sweep: {optim.lr: [...]}``; :mod:`undo.selection` picks the trade-off.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, Ref, build, option
from ..data.tokenized import dataset_batches
from ..evals import EvalConfig, make_evaluator
from ..models import PAD_ID, load_model, save_model
from ..train import OptimConfig, train
from ..unlearn import REGISTRY, get_method
from ..unlearn.common import padded_batch
from . import Context
from .common import artifact_tokenizer, write_history, write_summary

NAME = "unlearn"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    model: Ref = option(doc="model to unlearn (a pretrain config)")
    forget: Ref = option(doc="forget dataset config")
    retain: Ref = option(doc="retain dataset config")
    method: str = option(doc="registered method: graddiff, maxent, rmu, sam, repnoise, undial")
    options: dict[str, Any] = option(default_factory=dict, doc="the method's own hyperparameters")
    optim: OptimConfig = option(doc="optimizer (Table 5); batch_size applies to forget and retain each")
    seed: int = option(0, "data-order seed")
    eval: EvalConfig | None = option(None, "evaluation before and after")
    eval_every: int = option(0, "steps between evaluations (0: start and end)", ge=0, in_key=False)
    lr_from: Ref | None = option(None, "take optim.lr from a select stage's choice (SAM and RepNoise run on top of "
                                       "the chosen MaxEnt rate, App. D.1)", key_if_set=True)

    def validate(self) -> None:
        if self.method not in REGISTRY:
            raise ValueError(f"method: unknown unlearning method {self.method!r} (known: {', '.join(sorted(REGISTRY))})")
        try:
            build(get_method(self.method).Config, self.options, file="-")
        except ConfigError as err:
            raise ValueError(f"options.{err.key}: {err.message}") from None


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    if cfg.lr_from is not None:
        chosen = json.loads((ctx.input(cfg.lr_from) / "metrics.json").read_text())["selected"]["lr"]
        ctx.log(f"learning rate {chosen:g}, chosen by {ctx.inputs[str(cfg.lr_from)].relpath}")
        cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=float(chosen)))
    method = get_method(cfg.method)(build(get_method(cfg.method).Config, cfg.options, file="-"))
    model = load_model(ctx.input(cfg.model) / "model", ctx.device)
    tokenizer = artifact_tokenizer(ctx.input(cfg.model))
    method.setup(model)
    trainable = trainable_summary(model)
    tensors = trainable["trainable_tensors"]
    ctx.log(f"training {trainable['trainable_parameters']:,} parameters in "
            + ("all tensors" if tensors == "all" else f"{len(tensors)} tensors"))
    forget = dataset_batches(ctx.input(cfg.forget), cfg.optim.batch_size, cfg.seed)
    retain = dataset_batches(ctx.input(cfg.retain), cfg.optim.batch_size, cfg.seed + 1)
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx.input) if cfg.eval else None

    def micro_batch(index):
        return (padded_batch(forget(index).to(ctx.device), PAD_ID),
                padded_batch(retain(index).to(ctx.device), PAD_ID))

    def loss_fn(pair):
        return method.loss(model, *pair)

    step_fn = (lambda pairs: method.step(model, pairs)) if hasattr(method, "step") else None
    seq_len = forget.tokens.shape[1]
    result = train(model, loss_fn, micro_batch, cfg.optim, total_steps=cfg.optim.max_steps, seed=cfg.seed,
                   workdir=ctx.workdir, tokens_per_micro=2 * cfg.optim.batch_size * seq_len,
                   eval_fn=(lambda step: evaluator(model)) if evaluator else None,
                   eval_every=cfg.eval_every, desc=ctx.name, log_every=1, step_fn=step_fn)
    save_model(model, tokenizer, ctx.workdir / "model")
    write_history(ctx.workdir, result.history)
    evals = [r for r in result.history if "eval/retain" in r]
    summary = {"steps": result.steps, "tokens": result.tokens, "train_seconds": result.wall_seconds, **trainable,
               "lr": cfg.optim.lr, "higher_is_better": cfg.eval.higher_is_better if evaluator else None,
               "eval_initial": {k[5:]: v for k, v in evals[0].items() if k.startswith("eval/")} if evals else {},
               "eval": {k[5:]: v for k, v in evals[-1].items() if k.startswith("eval/")} if evals else {}}
    write_summary(ctx.workdir, summary)
    if evals:
        ctx.log(f"retain {evals[0]['eval/retain']:.3f} -> {evals[-1]['eval/retain']:.3f}, "
                f"forget {evals[0]['eval/forget']:.3f} -> {evals[-1]['eval/forget']:.3f}")
    return summary


def trainable_summary(model) -> dict:
    """How many parameters train, and which tensors when not all of them (RMU's down-projections)."""
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    every = len(names) == len(list(model.parameters()))
    return {"trainable_parameters": count, "trainable_tensors": "all" if every else names}
