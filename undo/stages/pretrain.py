"""Stage ``pretrain``: train a freshly initialised Gemma-2 on a dataset with next-token CE (Table 2).

Used for the reference model (retain + forget data) and the data-filtering oracle (retain only).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..accel import lm_cross_entropy
from ..config import Ref, option
from ..models import ModelConfig, build_model, count_parameters, save_model
from ..train import Batches, OptimConfig, train
from . import Context
from .common import EvalConfig, artifact_tokenizer, dataset_tokens, make_evaluator, write_history, write_summary

NAME = "pretrain"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    data: Ref = option(doc="dataset config")
    model: ModelConfig = option(doc="architecture (Table 1)")
    optim: OptimConfig = option(doc="optimizer and schedule (Table 2)")
    seed: int = option(0, "init and data-order seed")
    eval: EvalConfig | None = option(None, "evaluation during and after training")
    eval_every: int = option(0, "steps between evaluations (0: only at the end)", ge=0, in_key=False)


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    data_dir = ctx.input(cfg.data)
    tokens = dataset_tokens(data_dir)
    tokenizer = artifact_tokenizer(data_dir)
    model = build_model(cfg.model, len(tokenizer), cfg.seed, ctx.device)
    batches = Batches(tokens, cfg.optim.batch_size, cfg.seed)
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx) if cfg.eval else None

    def loss_fn(batch):
        batch = batch.to(ctx.device)
        return lm_cross_entropy(model, batch), {}

    total = cfg.optim.total_steps(len(tokens))
    ctx.log(f"{count_parameters(model):,} parameters; {total} steps over {len(tokens)} windows")
    result = train(model, loss_fn, batches, cfg.optim, total_steps=total, seed=cfg.seed, workdir=ctx.workdir,
                   tokens_per_micro=cfg.optim.batch_size * tokens.shape[1],
                   eval_fn=(lambda step: evaluator(model)) if evaluator else None, eval_every=cfg.eval_every,
                   desc=ctx.name)
    save_model(model, tokenizer, ctx.workdir / "model")
    write_history(ctx.workdir, result.history)
    final = {k[5:]: v for k, v in result.history[-1].items() if k.startswith("eval/")} if evaluator else {}
    summary = {"steps": result.steps, "tokens": result.tokens, "parameters": count_parameters(model),
               "train_seconds": result.wall_seconds, "eval": final}
    write_summary(ctx.workdir, summary)
    ctx.log(f"done: {result.steps} steps, eval {final}")
    return summary
