"""Relearning attack: finetune on forget data at each learning rate of a grid (Section 2, Table 4).

One process loops over the learning rates and restores the starting weights from memory
before each run. Every run uses a constant rate after a one-step warmup and is evaluated every
``eval_every`` steps (and at step 0). The attacker's strength at a step is the best result over
learning rates (the paper's bold line), computed later from the stored curves.
"""

from __future__ import annotations

from collections.abc import Callable

from ..accel import lm_cross_entropy
from ..train import Batches, OptimConfig, train


def lr_key(lr: float) -> str:
    return f"{lr:g}"


def relearn_one(model, initial_state: dict, batches: Batches, lr: float, *, steps: int, warmup_steps: int,
                weight_decay: float, grad_clip: float | None, eval_fn: Callable[[], dict], eval_every: int, seed: int,
                device: str, desc: str) -> dict[str, list]:
    """Finetune from ``initial_state`` at one learning rate; returns the evaluation curve."""
    model.load_state_dict(initial_state)
    cfg = OptimConfig(lr=lr, schedule="constant", warmup_steps=warmup_steps, weight_decay=weight_decay,
                      batch_size=batches.batch_size, max_steps=steps, grad_clip=grad_clip)

    def loss_fn(batch):
        batch = batch.to(device)
        return lm_cross_entropy(model, batch), {}

    result = train(model, loss_fn, batches, cfg, total_steps=steps, seed=seed, workdir=None,
                   eval_fn=lambda step: eval_fn(), eval_every=eval_every, desc=desc, checkpoint=False,
                   log_every=eval_every or steps)
    curve: dict[str, list] = {"step": []}
    losses = {r["step"]: r["train/loss"] for r in result.history if "train/loss" in r}
    for row in result.history:
        if not any(k.startswith("eval/") for k in row):
            continue
        curve["step"].append(row["step"])
        curve.setdefault("train_loss", []).append(losses.get(row["step"]))
        for k, v in row.items():
            if k.startswith("eval/"):
                curve.setdefault(k[5:], []).append(v)
    return curve


def snapshot(model) -> dict:
    """The starting weights, copied so that finetuning cannot alias them."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
