"""Stage ``relearn``: the relearning attack over a learning-rate grid (Table 4).

Curves of finished learning rates are kept in the partial directory, so an interrupted attack
resumes with the next learning rate. The result also records the attacked model's lineage
(its stage summary: e.g. distillation steps and whether its stop rule was met), which Figure 5's
compute axis and the capped-student flags need. (Not its sweep tags: the same attack on the same model,
listed by two figures under different tags, is one artifact.)

With ``bracket``, the grid must bracket the attacker's best learning rate (the one that elicits the
most forget performance at the last step): while the best rate is the grid's highest (lowest) and
beats its neighbour by more than ``bracket.tolerance``, the stage adds a rate ``bracket.factor``
times higher (lower), at most ``bracket.max_extra`` times per direction, and fails if the best rate
is still at an edge (``on_edge: flag`` records ``bracketed: false`` instead, for smoke's tiny models). A
weaker attack than the best available would overstate robustness.

The WMDP adversaries (App. D.2.5, Table 12) differ in their data (a relearning dataset per mix and sequence
length), in ``shrink_alpha`` (the weights shrunk and perturbed as UNDO's noise, alpha = 0.05, before
relearning) and in where they are evaluated (``eval_steps``: 10, 25, 50, 150, 500); ``adversary`` names one
in the figures.

With ``lora``, the adversary trains LoRA adapters (peft; :mod:`undo.attacks.lora`) instead of every weight, with the
same loop, data, grid and evaluations; the results record its kind, rank, target modules and trainable parameter
count under ``attack``. Its adapter and optimizer state is checkpointed every ``checkpoint_every`` steps, so an
interrupted LoRA attack resumes mid-rate with the curve an uninterrupted one gives. (A full-finetune attack resumes
at the next learning rate: a checkpoint would hold the whole model and its optimizer state.)
"""

from __future__ import annotations

import inspect
import json
import shutil
from dataclasses import dataclass
from typing import Literal

from ..attacks.lora import LoraAdversary, attach
from ..attacks.relearn import ADVERSARIES, edge_to_extend, lr_key, relearn_one, snapshot
from ..config import Ref, option
from ..data.tokenized import dataset_batches
from ..evals import EvalConfig, make_evaluator
from ..models import load_model
from ..noise import shrink_perturb
from ..store import write_json_atomic
from . import Context
from .common import artifact_tokenizer, write_summary

NAME = "relearn"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class BracketRule:
    """Extend the learning-rate grid until it brackets the attacker's best rate (module docstring)."""

    factor: float = option(3.0, "ratio between an edge rate and the rate added beyond it", gt=1)
    max_extra: int = option(2, "rates added per direction before the stage fails", ge=0)
    tolerance: float = option(0.0, "an edge counts as best only if it beats its neighbour by more (metric units)",
                              ge=0)
    on_edge: Literal["fail", "flag"] = option("fail", "when the best rate is still at an edge after max_extra: stop "
                                                      "the run, or record bracketed: false (smoke's tiny models)")


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
    bracket: BracketRule | None = option(None, "extend the grid until it brackets the best rate", key_if_set=True)
    eval_steps: tuple[int, ...] | None = option(
        None, "evaluate at these steps (and 0 and the last) instead of every eval_every (App. E: 10, 25, 50, 150, 500)",
        gt=0, key_if_set=True)
    shrink_alpha: float = option(0.0, "shrink-perturb the model before the attack, theta <- (1 - alpha) theta + alpha "
                                      "beta N (App. D.2.5: 0.05; 0: no perturbation)", ge=0, le=1, key_if_set=True)
    shrink_beta: float = option(0.0, "noise scale of that perturbation (0: pure shrinkage, UNDO's WMDP setting)", ge=0,
                                key_if_set=True)
    adversary: str = option("", "the attack's name, shown by figures (App. D.2.5, Table 12)", in_key=False)
    retain_at: Literal["every", "start"] = option(
        "every", "score the retain benchmark at every evaluation, or only before the attack (start: the WMDP attacks, "
                 "whose figures read retain of the released model; later evaluations record retain as NaN)",
        key_if_set=True)
    lora: LoraAdversary | None = option(None, "attack through LoRA adapters instead of finetuning every weight "
                                              "(None: full finetuning, Table 4)", key_if_set=True)
    checkpoint_every: int = option(50, "steps between resumable checkpoints of a LoRA attack (its adapters and "
                                       "optimizer)", gt=0, in_key=False)

    def validate(self) -> None:
        if not self.lrs:
            raise ValueError("lrs: at least one learning rate")
        if len(set(self.lrs)) != len(self.lrs):
            raise ValueError("lrs: learning rates must differ")
        if self.eval_steps is not None and (max(self.eval_steps) > self.steps or list(self.eval_steps) != sorted(set(self.eval_steps))):
            raise ValueError(f"eval_steps: increasing steps between 1 and steps ({self.steps})")
        if self.adversary and self.adversary not in ADVERSARIES:
            raise ValueError(f"adversary: unknown adversary {self.adversary!r} (one of {', '.join(ADVERSARIES)})")


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    model_dir = ctx.input(cfg.model)
    model = load_model(model_dir / "model", ctx.device)
    if cfg.shrink_alpha > 0:
        counts = shrink_perturb(model, cfg.shrink_alpha, cfg.shrink_beta, cfg.seed)
        ctx.log(f"shrink-perturb alpha={cfg.shrink_alpha} beta={cfg.shrink_beta} before the attack: {counts}")
    attack_info = None
    if cfg.lora is not None:
        model, attack_info = attach(model, cfg.lora, cfg.seed)
        ctx.log(f"LoRA adversary: rank {cfg.lora.rank} on {', '.join(attack_info['target_modules'])}, "
                f"{attack_info['trainable_parameters']} of {attack_info['parameters']} parameters trained")
    initial = snapshot(model)
    tokenizer = artifact_tokenizer(model_dir)
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx.input)
    if cfg.retain_at == "start" and "roles" not in inspect.signature(evaluator).parameters:
        raise ValueError(f"retain_at: start needs an evaluator that can score the forget benchmark alone "
                         f"({cfg.eval.kind!r} cannot)")

    def evaluate(step: int) -> dict:
        if cfg.retain_at == "start" and step > 0:
            return evaluator(model, roles=("forget",))
        return evaluator(model)

    batches = dataset_batches(ctx.input(cfg.data), cfg.batch_size, cfg.seed)
    curves_dir = ctx.workdir / "curves"
    curves_dir.mkdir(exist_ok=True)
    curves: dict[float, dict] = {}

    def attack(lr: float) -> None:
        path = curves_dir / f"lr_{lr_key(lr)}.json"
        if path.is_file():
            try:
                curves[lr] = json.loads(path.read_text())
                ctx.log(f"lr {lr:g}: already done, reusing")
                return
            except ValueError:  # a damaged file of an interrupted run: attack again rather than fail at every rerun
                ctx.log(f"warning: {path} is unreadable; discarded, attacking at lr {lr:g} again")
                path.unlink()
        # a LoRA attack checkpoints its adapters per learning rate, removed once the rate's curve is written
        resume_dir = curves_dir / f"lr_{lr_key(lr)}" if cfg.lora is not None else None
        curve = relearn_one(model, initial, batches, lr, steps=cfg.steps, warmup_steps=cfg.warmup_steps,
                            weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip, eval_fn=evaluate,
                            eval_every=0 if cfg.eval_steps else cfg.eval_every, eval_at=cfg.eval_steps or (),
                            seed=cfg.seed, device=ctx.device, desc=f"{ctx.name} lr={lr:g}", workdir=resume_dir,
                            checkpoint_every=cfg.checkpoint_every)
        write_json_atomic(path, curve)
        if resume_dir is not None:
            shutil.rmtree(resume_dir, ignore_errors=True)
        curves[lr] = curve
        ctx.log(f"lr {lr:g}: forget {curve['forget'][0]:.3f} -> {curve['forget'][-1]:.3f}, "
                f"retain {curve['retain'][0]:.3f} -> {curve['retain'][-1]:.3f}" +
                (" (diverged)" if curve.get("diverged") else ""))

    for lr in cfg.lrs:
        attack(lr)
    higher = cfg.eval.higher_is_better
    extra = {"up": 0, "down": 0}
    bracketed = None
    if cfg.bracket is not None:
        rule = cfg.bracket
        while (edge := edge_to_extend(curves, "forget", higher, rule.tolerance)) is not None:
            if extra[edge] >= rule.max_extra:
                if rule.on_edge == "flag":
                    bracketed = False
                    ctx.log(f"best rate still at the grid's {'top' if edge == 'up' else 'bottom'} after "
                            f"{rule.max_extra} extra rates: recorded as not bracketed")
                    break
                raise RuntimeError(f"{ctx.name}: the attacker's best learning rate is still the grid's "
                                   f"{'highest' if edge == 'up' else 'lowest'} ({lr_key(max(curves) if edge == 'up' else min(curves))}) "
                                   f"after {rule.max_extra} extra rates: widen lrs in the relearn config")
            extra[edge] += 1
            new = max(curves) * rule.factor if edge == "up" else min(curves) / rule.factor
            ctx.log(f"best rate at the grid's {'top' if edge == 'up' else 'bottom'}: adding lr {new:g}")
            attack(float(f"{new:.6g}"))
        else:
            bracketed = True
    lineage_file = model_dir / "metrics.json"
    lineage = json.loads(lineage_file.read_text()) if lineage_file.is_file() else {}
    upstream = ctx.inputs[str(cfg.model)]
    lrs = sorted(curves)
    results = {"model": upstream.relpath, "model_stage": upstream.stage, "model_steps": lineage.get("steps"),
               "model_max_steps": lineage.get("max_steps"), "model_stop_reached": lineage.get("stop_reached"),
               "lrs": [lr_key(lr) for lr in lrs], "extra_lrs": extra, "bracketed": bracketed,
               "higher_is_better": higher, "curves": {lr_key(lr): curves[lr] for lr in lrs},
               **({"adversary": cfg.adversary} if cfg.adversary else {}),
               **({"attack": attack_info} if attack_info is not None else {})}
    write_json_atomic(ctx.workdir / "results.json", results)
    # the attacker's best learning rate: highest forget accuracy, or lowest forget cross-entropy
    finals = [c["forget"][-1] for c in curves.values() if c["forget"][-1] == c["forget"][-1]]  # NaN: diverged
    best_final = (max if higher else min)(finals) if finals else float("nan")
    summary = {"best_final_forget": best_final, "lrs": len(lrs), "steps": cfg.steps, "extra_lrs": extra,
               **({"lora_trainable_parameters": attack_info["trainable_parameters"]} if attack_info else {})}
    write_summary(ctx.workdir, summary)
    return summary
