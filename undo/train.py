"""The one training loop every stage uses: pretraining, unlearning, distillation, relearning.

AdamW, linear warmup then cosine decay to ``min_lr`` (constant when ``schedule: constant``),
gradient accumulation, clipping, periodic evaluation with an optional stop rule, and
checkpoints that hold model, optimizer, scheduler, RNG state, step and metric history. Batches
are a pure function of the step (:class:`Batches`), so a resumed run sees exactly the data the
uninterrupted run would have seen and ends with the same weights.

Usage::

    result = train(model, loss_fn, batches, OptimConfig(lr=4e-4, ...), workdir=partial_dir, seed=0)
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from . import progress
from .accel import adamw_options
from .batch import Batch
from .config import option

log = print  # replaced by the stage runner's logger


class TrainingDiverged(RuntimeError):
    """The training loss became infinite or NaN: the run cannot continue (the learning rate is usually too high).
    The message names the run (its stage instance) and the step. A relearning attack records such a rate as
    diverged and goes on with the others (:func:`undo.attacks.relearn.relearn_one`)."""

    def __init__(self, desc: str, loss: float, step: int, lr: float):
        self.desc, self.loss, self.step, self.lr = desc, loss, step, lr
        super().__init__(f"{desc}: training diverged, the loss is {loss} at step {step} (learning rate {lr:g}); "
                         "lower the learning rate or keep grad_clip")

    def __reduce__(self):  # rebuilt from its fields when it crosses from a ``--jobs`` worker process
        return (type(self), (self.desc, self.loss, self.step, self.lr))


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """Optimizer, schedule and batching of one training stage."""

    lr: float = option(doc="peak learning rate", gt=0)
    min_lr: float | None = option(None, "cosine floor; None keeps lr (constant after warmup)", ge=0)
    schedule: Literal["cosine", "constant"] = option("cosine", "decay after warmup")
    warmup_steps: int = option(0, "linear warmup steps", ge=0)
    weight_decay: float = option(0.0, "AdamW decoupled weight decay", ge=0)
    batch_size: int = option(8, "sequences per micro-batch", gt=0)
    grad_accum: int = option(1, "micro-batches per optimizer step", gt=0)
    max_steps: int = option(1000, "optimizer steps (upper bound)", gt=0)
    epochs: float | None = option(None, "also stop after this many passes over the data", gt=0)
    grad_clip: float | None = option(1.0, "max global grad norm; None disables", gt=0)
    checkpoint_every: int = option(100, "steps between resumable checkpoints", gt=0, in_key=False)

    def validate(self) -> None:
        if self.min_lr is not None and self.min_lr > self.lr:
            raise ValueError("min_lr: must be <= lr")

    def total_steps(self, n_sequences: int) -> int:
        steps = self.max_steps
        if self.epochs is not None:
            per_step = self.batch_size * self.grad_accum
            steps = min(steps, max(1, math.floor(self.epochs * n_sequences / per_step)))
        return steps


def lr_lambda(cfg: OptimConfig, total: int) -> Callable[[int], float]:
    """Multiplier of cfg.lr at a step: linear warmup, then cosine to min_lr (or constant)."""
    floor = (cfg.min_lr if cfg.min_lr is not None else cfg.lr) / cfg.lr

    def fn(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant" or floor == 1.0:
            return 1.0
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return fn


class Batches:
    """Deterministic batches over a [N, L] token array: each epoch is a seeded permutation,
    and micro-batch ``i`` is always the same rows, whatever happened before.

    With a ``loss_mask`` ([N, L], prompt/answer data) a micro-batch is a :class:`undo.batch.Batch` carrying the rows'
    masks, cut after its last scored token (the rest is right padding); without one it is the bare [B, L] id
    tensor."""

    def __init__(self, tokens: np.ndarray, batch_size: int, seed: int, loss_mask: np.ndarray | None = None):
        if len(tokens) == 0:
            raise ValueError("empty dataset")
        if loss_mask is not None and loss_mask.shape != tokens.shape:
            raise ValueError(f"loss mask of shape {loss_mask.shape} for tokens of shape {tokens.shape}")
        self.tokens, self.batch_size, self.seed, self.loss_mask = tokens, batch_size, seed, loss_mask
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(len(self.tokens))}
        return self._perms[epoch]

    def __call__(self, index: int) -> torch.Tensor:
        n = len(self.tokens)
        rows = []
        for j in range(index * self.batch_size, (index + 1) * self.batch_size):
            rows.append(self._perm(j // n)[j % n])
        ids = torch.from_numpy(self.tokens[np.array(rows)].astype(np.int64))
        if self.loss_mask is None:
            return ids
        mask = self.loss_mask[np.array(rows)]
        # right padding past the batch's last scored token changes nothing (causal attention, unscored): cut it
        width = int(np.flatnonzero(mask.any(axis=0))[-1]) + 1 if mask.any() else 1
        return Batch(ids[:, :width], loss_mask=torch.from_numpy(mask[:, :width].astype(np.int64)))


@dataclass
class TrainResult:
    steps: int
    tokens: int
    history: list[dict]
    stopped_early: bool
    wall_seconds: float


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def _model_state(model, trainable_only: bool) -> dict:
    """What a checkpoint keeps of the model: its whole state, or only the parameters being trained (a LoRA
    adversary's adapters: the frozen base is the attack's starting point, restored by the caller)."""
    if not trainable_only:
        return model.state_dict()
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def _save_checkpoint(path: Path, model, optimizer, scheduler, step, tokens, history, extra,
                     trainable_only: bool = False) -> None:
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / "state.pt.tmp"
    torch.save({"model": _model_state(model, trainable_only), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": _rng_state(), "step": step, "tokens": tokens, "history": history, "extra": extra}, tmp)
    os.replace(tmp, path / "state.pt")


def _load_checkpoint(path: Path, desc: str) -> dict | None:
    """The checkpoint at ``path``; None when there is none, or when it cannot be loaded (a write cut short outside
    this kit's atomic rename, a full disk): that one is reported, removed and the stage restarts from step 0,
    rather than failing on it at every rerun."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, weights_only=False)
    except Exception as err:  # noqa: BLE001  (any unreadable file: pickle, zip and EOF errors alike)
        log(f"[{desc}] warning: checkpoint {path} is unreadable ({type(err).__name__}); discarded, restarting from "
            "step 0")
        path.unlink()
        return None


def train(
    model: torch.nn.Module,
    loss_fn: Callable[[object], tuple[torch.Tensor, dict]],
    batch_fn: Callable[[int], object],
    cfg: OptimConfig,
    *,
    total_steps: int,
    seed: int,
    workdir: Path | None,
    tokens_per_micro: int = 0,
    eval_fn: Callable[[int], dict] | None = None,
    eval_every: int = 0,
    should_stop: Callable[[list[dict]], bool] | None = None,
    desc: str = "train",
    checkpoint: bool = True,
    log_every: int = 10,
    step_fn: Callable[[list], tuple[float, dict]] | None = None,
    schedule_steps: int | None = None,
    eval_from: int = 0,
    history: list[dict] | None = None,
    eval_at: frozenset[int] = frozenset(),
    checkpoint_trainable_only: bool = False,
) -> TrainResult:
    """Run ``total_steps`` optimizer steps (fewer if ``should_stop`` says so after an evaluation).

    ``batch_fn(i)`` returns micro-batch ``i`` (global index step*grad_accum + micro) and
    ``loss_fn(batch)`` returns (loss, scalar logs). ``eval_fn(step)`` returns metrics, run at
    step 0, every ``eval_every`` steps and at the end. ``step_fn(micro_batches)``, if given,
    replaces the per-micro-batch backward for updates that need the whole step at once (SAM): it
    gets the step's ``grad_accum`` micro-batches, accumulates the gradient of their mean loss into
    ``.grad`` and returns (mean loss, logs); clipping and the optimizer step stay here.
    ``schedule_steps`` (default ``total_steps``) is the length of the warmup + cosine schedule; steps past it
    run at the schedule's final rate. Evaluations happen only from step ``eval_from`` on. ``history``, if
    given, is filled in place, so a caller still has the rows logged before an exception. ``eval_at`` adds
    evaluations (and loss logs) at those steps, e.g. a relearning attack's sparse steps 10, 25, 50, 150, 500 (App. E).
    ``checkpoint_trainable_only`` keeps only the parameters that require gradients in a checkpoint (a LoRA
    attack's adapters); the caller restores the frozen rest before a resume.
    """
    start_time = time.time()
    torch.manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **adamw_options(params))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg, schedule_steps or total_steps))
    step, tokens = 0, 0
    history = [] if history is None else history
    ckpt_dir = workdir / "checkpoint" if (workdir is not None and checkpoint) else None
    state = _load_checkpoint(ckpt_dir / "state.pt", desc) if ckpt_dir is not None else None
    if state is not None:
        if checkpoint_trainable_only:
            expected = set(_model_state(model, True))
            if set(state["model"]) != expected:
                raise RuntimeError(f"[{desc}] checkpoint {ckpt_dir} holds other trainable parameters than the model's")
            model.load_state_dict(state["model"], strict=False)
        else:
            model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"])
        step, tokens = state["step"], state["tokens"]
        history[:] = state["history"]
        log(f"[{desc}] resuming from step {step} (checkpoint {ckpt_dir})")

    def evaluate(at: int) -> bool:
        if eval_fn is None or at < eval_from:
            return False
        model.eval()
        with torch.no_grad():
            metrics = eval_fn(at)
        model.train()
        history.append({"step": at, **{f"eval/{k}": v for k, v in metrics.items()}})
        return bool(should_stop and should_stop(history))

    model.train()
    stopped = False
    if step == 0 and evaluate(0):
        stopped = True
    bar = tqdm(total=total_steps, initial=step, desc=desc, unit="step", dynamic_ncols=True, mininterval=1.0,
               disable=os.environ.get("UNDO_PROGRESS", "1") == "0" or progress.active())  # run display instead
    progress.report(desc, step, total_steps)
    while not stopped and step < total_steps:
        if step_fn is not None:
            loss_sum, logs = step_fn([batch_fn(step * cfg.grad_accum + micro) for micro in range(cfg.grad_accum)])
        else:
            loss_sum, logs = 0.0, {}
            for micro in range(cfg.grad_accum):
                loss, micro_logs = loss_fn(batch_fn(step * cfg.grad_accum + micro))
                (loss / cfg.grad_accum).backward()
                loss_sum += loss.item() / cfg.grad_accum
                for k, v in micro_logs.items():
                    logs[k] = logs.get(k, 0.0) + float(v) / cfg.grad_accum
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens += tokens_per_micro * cfg.grad_accum
        if not math.isfinite(loss_sum):
            raise TrainingDiverged(desc, loss_sum, step, lr)
        if step % log_every == 0 or step == total_steps or step in eval_at:
            history.append({"step": step, "train/loss": loss_sum, "train/lr": lr,
                            **{f"train/{k}": v for k, v in logs.items()}})
        bar.set_postfix(loss=f"{loss_sum:.4f}", refresh=False)
        bar.update(1)
        progress.report(desc, step, total_steps)
        if (eval_every and (step % eval_every == 0 or step == total_steps)) or step in eval_at:
            stopped = evaluate(step)
        elif step == total_steps and eval_fn is not None:
            stopped = evaluate(step)
        if ckpt_dir is not None and not stopped and step < total_steps and step % cfg.checkpoint_every == 0:
            _save_checkpoint(ckpt_dir, model, optimizer, scheduler, step, tokens, history, {},
                             checkpoint_trainable_only)
    bar.close()
    return TrainResult(steps=step, tokens=tokens, history=history, stopped_early=stopped and step < total_steps,
                       wall_seconds=time.time() - start_time)
