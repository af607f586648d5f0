"""Relearning attack: finetune on forget data at each learning rate of a grid (Section 2, Table 4).

One process loops over the learning rates and restores the starting weights from memory
before each run. Every run uses a constant rate after a one-step warmup and is evaluated every
``eval_every`` steps, or at the steps ``eval_at`` lists (the WMDP attacks' sparse 10, 25, 50, 150, 500; App. E),
and at step 0. The attacker's strength at a step is the best result over
learning rates (the paper's bold line), computed later from the stored curves. A rate at which
training diverges scores NaN from then on. :func:`edge_to_extend` tells whether the grid brackets
the attacker's best rate (the relearn stage extends the grid until it does).

The adversary finetunes every weight, or only LoRA adapters (:mod:`undo.attacks.lora`), whose small state a run
at one learning rate checkpoints (``workdir``), so an interrupted LoRA attack resumes mid-rate exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from ..accel import lm_cross_entropy
from ..train import Batches, OptimConfig, TrainingDiverged, train

# The named relearning adversaries of the WMDP evaluation (App. D.2.5, Table 12; "/" and "-" written "_"): a relearn
# config's ``adversary`` must be one of them (or empty), so a typo fails before anything runs. Add a name here with
# its data and shrink-perturb settings in the config that uses it.
ADVERSARIES = ("forget_retain", "forget_retain_qa", "forget_retain_long", "forget_retain_qa_long", "wiki_qa_long",
               "sp_forget_retain", "sp_forget_retain_qa", "sp_wiki_qa_long")


def lr_key(lr: float) -> str:
    return f"{lr:g}"


def relearn_one(model, initial_state: dict, batches: Batches, lr: float, *, steps: int, warmup_steps: int,
                weight_decay: float, grad_clip: float | None, eval_fn: Callable[[int], dict], eval_every: int, seed: int,
                device: str, desc: str, eval_at: tuple[int, ...] = (), workdir: Path | None = None,
                checkpoint_every: int = 100) -> dict[str, list]:
    """Finetune from ``initial_state`` at one learning rate; returns the evaluation curve. ``eval_fn(step)`` scores
    the model at an evaluation step. With ``workdir``, the parameters being trained (a LoRA adversary's adapters:
    the rest is ``initial_state``) and the optimizer are checkpointed there every ``checkpoint_every`` steps, and
    a checkpoint found there is resumed."""
    model.load_state_dict(initial_state)
    cfg = OptimConfig(lr=lr, schedule="constant", warmup_steps=warmup_steps, weight_decay=weight_decay,
                      batch_size=batches.batch_size, max_steps=steps, grad_clip=grad_clip,
                      checkpoint_every=checkpoint_every)

    def loss_fn(batch):
        batch = batch.to(device)
        return lm_cross_entropy(model, batch), {}

    history: list[dict] = []
    try:
        result = train(model, loss_fn, batches, cfg, total_steps=steps, seed=seed, workdir=workdir,
                       eval_fn=eval_fn, eval_every=eval_every, desc=desc, checkpoint=workdir is not None,
                       log_every=eval_every or steps, history=history, eval_at=frozenset(eval_at),
                       checkpoint_trainable_only=workdir is not None)
        history = result.history
    except TrainingDiverged:  # the rate is too high: the run diverged. It scores NaN from there on, which
        pass                  # the attacker's envelope skips, so a diverging rate never counts as best.
    curve: dict[str, list] = {"step": []}
    losses = {r["step"]: r["train/loss"] for r in history if "train/loss" in r}
    for row in history:
        if not any(k.startswith("eval/") for k in row):
            continue
        curve["step"].append(row["step"])
        curve.setdefault("train_loss", []).append(losses.get(row["step"]))
        for k, v in row.items():
            if k.startswith("eval/"):
                curve.setdefault(k[5:], []).append(v)
    expected = sorted({0, steps, *eval_at, *(range(eval_every, steps + 1, eval_every) if eval_every else ())})
    if curve["step"] != expected[: len(curve["step"])]:
        raise RuntimeError(f"{desc}: evaluated at steps {curve['step']}, expected {expected}")
    curve["diverged"] = len(curve["step"]) < len(expected)
    for at in expected[len(curve["step"]):]:  # after a divergence: NaN for every evaluation it did not reach
        curve["step"].append(at)
        for key, values in curve.items():
            if key not in ("step", "diverged"):
                values.append(math.nan)
    return curve


def attack_strength(curve: dict, measure: str, higher_is_better: bool) -> tuple[float, float]:
    """How much an attack at one learning rate elicited, as a sortable pair (larger = stronger attack): the
    measure at the last evaluation, then its mean over evaluations (the tie-break). The attacker raises an
    accuracy (``higher_is_better``) and lowers a cross-entropy. A diverged run is the weakest possible."""
    values = [float(v) for v in curve[measure]]
    if not values or any(math.isnan(v) for v in values):
        return (-math.inf, -math.inf)
    sign = 1.0 if higher_is_better else -1.0
    return (sign * values[-1], sign * sum(values) / len(values))


def edge_to_extend(curves: dict[float, dict], measure: str, higher_is_better: bool, tolerance: float) -> str | None:
    """"up" or "down" when the attacker's best learning rate is the highest or lowest of the grid and beats its
    neighbour by more than ``tolerance`` (in the measure's units) at the last evaluation: a stronger attack may
    lie beyond the grid. None when the best rate is interior (the grid brackets it) or the edge is no better
    than its neighbour within the tolerance (a flat top: nothing to gain past it). Nor is the bottom extended when its
rate leaves the measure within the tolerance of the unattacked model's (step 0): every update then only costs forget
performance (an unlearning that removed nothing), and a lower rate moves the model less, toward that same value."""
    lrs = sorted(curves)
    if len(lrs) < 2:
        return "up"
    strength = {lr: attack_strength(curves[lr], measure, higher_is_better) for lr in lrs}
    best = max(lrs, key=lambda lr: (strength[lr], -lr))
    sign = 1.0 if higher_is_better else -1.0
    unattacked = sign * float(curves[lrs[0]][measure][0])  # step 0: the model before any update, the same for every rate
    for edge, neighbour, direction in ((lrs[-1], lrs[-2], "up"), (lrs[0], lrs[1], "down")):
        if best == edge and strength[edge][0] > strength[neighbour][0] + tolerance:
            if direction == "down" and strength[edge][0] <= unattacked + tolerance:
                return None  # the lowest rate elicited nothing beyond the unattacked model: lower rates cannot either
            return direction
    return None


def snapshot(model) -> dict:
    """The starting weights, copied so that finetuning cannot alias them."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
