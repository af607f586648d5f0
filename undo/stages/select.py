"""Stage ``select``: the unlearned model a learning-rate sweep chooses (App. B.1, App. D.1).

The paper picks, per method, "the learning rate that provided the best trade-off between retain
performance and forget degradation"; :func:`undo.selection.select_lr` states that rule (retain
within ``tolerance`` of its start, then the most forgotten). This stage applies it to the finished
instances of a sweep config (``sweep: {optim.lr: [...]}``), separately for every other tag they
carry (one choice per pipeline seed), and becomes that instance: its ``model/`` holds the chosen
model (hard links into the store, which never rewrites a finished artifact) and its
``metrics.json`` the chosen instance's summary plus the choice and the table it was made from.
Downstream configs name this stage as their teacher, so no learning rate is copied by hand.

When no rate keeps retain within the tolerance (the paper finds none for RMU, App. B.1),
``fallback: least_damaging`` takes the rate with the best final retain and records
``admissible: false``; ``fallback: fail`` stops the run instead.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import Ref, option
from ..selection import SweepPoint, retains_enough, select_lr
from . import Context
from .common import write_summary

NAME = "select"
CODE_VERSION = 1
COLLAPSE = "over"  # the config field naming the swept tag this stage chooses along (see undo.pipeline)


@dataclass(frozen=True, kw_only=True)
class Config:
    candidates: Ref = option(doc="the swept unlearning config to choose from (e.g. unlearn_maxent.yaml)")
    over: str = option("lr", "the swept tag to choose along (sweep: {optim.lr: ...} tags instances with lr)")
    tolerance: float = option(0.10, "retain may move this fraction of its start (App. B.1 rule)", ge=0, lt=1)
    fallback: Literal["least_damaging", "fail"] = option("least_damaging", "when no rate keeps retain")


def _point(summary: dict, value: float) -> SweepPoint:
    first, last = summary.get("eval_initial") or {}, summary.get("eval") or {}
    if not {"retain"} <= first.keys() or not {"retain", "forget"} <= last.keys():
        raise ValueError("select: a sweep instance has no retain/forget evaluation before and after unlearning "
                         "(set eval in the unlearning config)")
    return SweepPoint(value, first["retain"], last["retain"], last["forget"])


def _link_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            _link_tree(item, dst / item.name)
            continue
        try:
            os.link(item, dst / item.name)
        except OSError:  # another file system
            shutil.copy2(item, dst / item.name)


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    candidates = ctx.inputs[str(cfg.candidates)]
    summaries, points = {}, []
    higher = None
    for art, tags in candidates:
        if cfg.over not in tags:
            raise ValueError(f"select: {art.relpath} has no {cfg.over!r} tag (sweep it in {cfg.candidates})")
        summary = json.loads((art.path / "metrics.json").read_text())
        direction = summary.get("higher_is_better")
        if direction is None:
            raise ValueError(f"select: {art.relpath} does not state its metric direction (higher_is_better)")
        if higher is not None and direction != higher:
            raise ValueError("select: the sweep instances disagree on the metric direction")
        higher = direction
        value = float(tags[cfg.over])
        summaries[value] = (art, summary)
        points.append(_point(summary, value))
    try:
        chosen = select_lr(points, tolerance=cfg.tolerance, higher_is_better=higher)
        admissible = True
    except ValueError:
        if cfg.fallback == "fail":
            raise
        pick = max if higher else min
        chosen = pick(points, key=lambda p: (p.final_retain, -p.lr) if higher else (p.final_retain, p.lr))
        admissible = False
    art, summary = summaries[chosen.lr]
    _link_tree(art.path / "model", ctx.workdir / "model")
    table = [{cfg.over: p.lr, "initial_retain": p.initial_retain, "final_retain": p.final_retain,
              "final_forget": p.final_forget,
              "admissible": retains_enough(p, tolerance=cfg.tolerance, higher_is_better=higher)}
             for p in sorted(points, key=lambda p: p.lr)]
    out = {**summary, "selected": {cfg.over: chosen.lr, "artifact": art.relpath, "admissible": admissible,
                                   "rule": f"retain within {cfg.tolerance:.0%} of its start, then most forgotten"
                                           + ("" if admissible else "; none admissible: least damaging")},
           "sweep": table}
    write_summary(ctx.workdir, out)
    ctx.log(f"{cfg.over} {chosen.lr:g} of {len(points)} (admissible: {admissible}): retain "
            f"{chosen.initial_retain:.3f} -> {chosen.final_retain:.3f}, forget {chosen.final_forget:.3f}")
    return out
