"""Stage ``relearn``: the relearning attack over a learning-rate grid (Table 4).

Curves of finished learning rates are kept in the partial directory, so an interrupted attack
resumes with the next learning rate. The result also records the attacked model's lineage
(its stage summary: e.g. distillation steps), which Figure 5's compute axis needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..attacks.relearn import lr_key, relearn_one, snapshot
from ..config import Ref, option
from ..models import load_model
from ..store import write_json_atomic
from ..train import Batches
from . import Context
from .common import EvalConfig, artifact_tokenizer, dataset_tokens, make_evaluator, write_summary

NAME = "relearn"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    model: Ref = option(doc="model to attack")
    data: Ref = option(doc="relearning dataset (Table 4: forget data, for arithmetic mixed 1:3 with English)")
    lrs: tuple[float, ...] = option(doc="learning-rate grid (Table 4)", gt=0)
    steps: int = option(500, "finetuning steps per learning rate (Table 4)", gt=0)
    batch_size: int = option(15, "sequences per step (Table 4)", gt=0)
    warmup_steps: int = option(1, "linear warmup (Table 4)", ge=0)
    weight_decay: float = option(0.0, "AdamW weight decay", ge=0)
    grad_clip: float | None = option(1.0, "max grad norm", gt=0)
    eval: EvalConfig = option(doc="what is measured along the attack")
    eval_every: int = option(5, "steps between evaluations (Table 4)", gt=0)
    seed: int = option(0, "data-order seed")

    def validate(self) -> None:
        if not self.lrs:
            raise ValueError("lrs: at least one learning rate")


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    model_dir = ctx.input(cfg.model)
    model = load_model(model_dir / "model", ctx.device)
    initial = snapshot(model)
    tokenizer = artifact_tokenizer(model_dir)
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx)
    batches = Batches(dataset_tokens(ctx.input(cfg.data)), cfg.batch_size, cfg.seed)
    curves_dir = ctx.workdir / "curves"
    curves_dir.mkdir(exist_ok=True)
    curves = {}
    for lr in cfg.lrs:
        path = curves_dir / f"lr_{lr_key(lr)}.json"
        if path.is_file():
            curves[lr_key(lr)] = json.loads(path.read_text())
            ctx.log(f"lr {lr:g}: already done, reusing")
            continue
        curve = relearn_one(model, initial, batches, lr, steps=cfg.steps, warmup_steps=cfg.warmup_steps,
                            weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip, eval_fn=lambda: evaluator(model),
                            eval_every=cfg.eval_every, seed=cfg.seed, device=ctx.device, desc=f"{ctx.name} lr={lr:g}")
        write_json_atomic(path, curve)
        curves[lr_key(lr)] = curve
        ctx.log(f"lr {lr:g}: forget {curve['forget'][0]:.3f} -> {curve['forget'][-1]:.3f}, "
                f"retain {curve['retain'][0]:.3f} -> {curve['retain'][-1]:.3f}")
    lineage_file = model_dir / "metrics.json"
    lineage = json.loads(lineage_file.read_text()) if lineage_file.is_file() else {}
    upstream = ctx.inputs[str(cfg.model)]
    results = {"model": upstream.relpath, "model_stage": upstream.stage, "model_steps": lineage.get("steps"),
               "tags": ctx.tags, "lrs": [lr_key(lr) for lr in cfg.lrs], "curves": curves}
    write_json_atomic(ctx.workdir / "results.json", results)
    # the attacker's best learning rate: highest forget accuracy, or lowest forget cross-entropy
    pick = max if cfg.eval.higher_is_better else min
    best_final = pick(c["forget"][-1] for c in curves.values())
    summary = {"best_final_forget": best_final, "lrs": len(cfg.lrs), "steps": cfg.steps}
    write_summary(ctx.workdir, summary)
    return summary
