"""Stage ``distill``: forward-KL distillation of a teacher's outputs into a student (Sections 3-5, Table 6).

The student is any model artifact: the noised copy of the teacher (UNDO), a random init
(Unlearn-and-Distill), a pretrained model (oracle matching) or the base model the teacher was finetuned from (App. F:
TOFU's knowledge came in post-training, so the base model never had it; ``temperature: 4``). With a ``stop`` rule, training ends
at the first evaluation where the student is within tolerance of the teacher's retain
performance (Section 5), or after ``optim.max_steps`` / one epoch, whichever comes first. The
number of steps taken is the compute S_UNDO of Figure 5. ``max_steps_from`` caps the steps at
another model's training length instead (the data-filtering oracle's, as the paper caps UNDO at
one epoch of pretraining data, Table 6). A student that reaches the cap without meeting its stop
rule is ``capped``: weaker than its teacher on retain, so its robustness partly measures weakness.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from ..accel import lm_forward_kl
from ..config import Ref, option
from ..data.tokenized import dataset_batches, dataset_tokens
from ..evals import EvalConfig, make_evaluator
from ..models import load_model, save_model
from ..train import OptimConfig, train
from . import Context
from .common import StopRule, artifact_tokenizer, write_history, write_summary

NAME = "distill"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    teacher: Ref = option(doc="teacher model (e.g. the unlearned model)")
    student: Ref = option(doc="student initialisation (e.g. a noise stage)")
    data: Ref = option(doc="distillation dataset (Table 6: the pretraining mix)")
    optim: OptimConfig = option(doc="optimizer (Table 6)")
    seed: int = option(0, "data-order seed")
    eval: EvalConfig | None = option(None, "evaluation used by the stop rule")
    eval_every: int = option(0, "steps between evaluations (reference: 20 arithmetic, 50 language)", ge=0)
    stop: StopRule | None = option(None, "stop once within tolerance of the teacher (Section 5)")
    max_steps_from: Ref | None = option(None, "cap the steps at this model's training steps (its metrics.json)",
                                        key_if_set=True)
    temperature: float = option(1.0, "softmax temperature of both distributions, no T^2 factor (App. F's TOFU "
                                     "distillation: 4, as the authors' open-unlearning fork)", gt=0, key_if_set=True)

    def validate(self) -> None:
        if self.stop is not None and (self.eval is None or self.eval_every == 0):
            raise ValueError("stop: a stop rule needs eval and eval_every > 0")

    def derive(self) -> Config:
        """The stop rule's direction is its evaluation's (``undo.evals`` registry)."""
        if self.stop is None or self.eval is None:
            return self
        return dataclasses.replace(self, stop=self.stop.directed(self.eval))


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    teacher = load_model(ctx.input(cfg.teacher) / "model", ctx.device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = load_model(ctx.input(cfg.student) / "model", ctx.device)
    tokenizer = artifact_tokenizer(ctx.input(cfg.teacher))
    tokens = dataset_tokens(ctx.input(cfg.data))
    batches = dataset_batches(ctx.input(cfg.data), cfg.optim.batch_size, cfg.seed)
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx.input) if cfg.eval else None
    teacher_metrics = evaluator(teacher) if evaluator else {}
    if teacher_metrics:
        ctx.log(f"teacher: {', '.join(f'{k}={v:.3f}' for k, v in teacher_metrics.items())}")

    def loss_fn(batch):
        batch = batch.to(ctx.device)
        return lm_forward_kl(student, teacher, batch, temperature=cfg.temperature), {}

    def should_stop(history: list[dict]) -> bool:
        if cfg.stop is None:
            return False
        last = history[-1][f"eval/{cfg.stop.metric}"]
        return cfg.stop.reached(last, teacher_metrics[cfg.stop.metric])

    total = cfg.optim.total_steps(len(tokens))
    if cfg.max_steps_from is not None:
        total = int(json.loads((ctx.input(cfg.max_steps_from) / "metrics.json").read_text())["steps"])
        ctx.log(f"step cap {total}: the training steps of {ctx.inputs[str(cfg.max_steps_from)].relpath}")
    result = train(student, loss_fn, batches, cfg.optim, total_steps=total, seed=cfg.seed, workdir=ctx.workdir,
                   tokens_per_micro=cfg.optim.batch_size * tokens.shape[1],
                   eval_fn=(lambda step: evaluator(student)) if evaluator else None, eval_every=cfg.eval_every,
                   should_stop=should_stop if cfg.stop else None, desc=ctx.name)
    save_model(student, tokenizer, ctx.workdir / "model")
    write_history(ctx.workdir, result.history)
    evals = [r for r in result.history if any(k.startswith("eval/") for k in r)]
    final = {k[5:]: v for k, v in evals[-1].items() if k.startswith("eval/")} if evals else {}
    reached = bool(cfg.stop and final and cfg.stop.reached(final[cfg.stop.metric], teacher_metrics[cfg.stop.metric]))
    summary = {"steps": result.steps, "tokens": result.tokens, "max_steps": total, "stop_reached": reached,
               "capped": bool(cfg.stop) and not reached,
               "train_seconds": result.wall_seconds, "teacher_eval": teacher_metrics, "eval": final}
    write_summary(ctx.workdir, summary)
    ctx.log(f"done after {result.steps}/{total} steps (stop rule reached: {reached}); student {final}")
    return summary
