"""Stage ``noise``: the shrink-perturb student of UNDO, theta <- (1-alpha) theta + alpha beta N (Section 5)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Ref, option
from ..models import load_model, save_model
from ..noise import shrink_perturb
from . import Context
from .common import artifact_tokenizer, write_summary

NAME = "noise"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    model: Ref = option(doc="model to perturb (the unlearned teacher)")
    alpha: float = option(doc="mixing coefficient: 0 keeps the model, 1 replaces it (App. C)", ge=0, le=1)
    beta: float = option(0.1, "noise scale (Section 5: 0.1)", ge=0)
    seed: int = option(0, "noise seed")


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    model = load_model(ctx.input(cfg.model) / "model", ctx.device)
    counts = shrink_perturb(model, cfg.alpha, cfg.beta, cfg.seed)
    save_model(model, artifact_tokenizer(ctx.input(cfg.model)), ctx.workdir / "model")
    summary = {"alpha": cfg.alpha, "beta": cfg.beta, **counts}
    write_summary(ctx.workdir, summary)
    ctx.log(f"alpha={cfg.alpha} beta={cfg.beta}: {counts}")
    return summary
