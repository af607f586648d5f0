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

Section 6 (App. D.2.3) sweeps alpha and the learning rate together (``over: retain_weight,lr``) and keeps
"three points across the frontier", named in Table 10 by their retain: Best, Medium, Worst (``point``).
Two rules pick them: ``rule: tolerance`` applies App. B.1's rule with a looser tolerance for each lower point
(a point that forgets the most within a retain budget is on the forget/retain frontier), and
``rule: retain_rank`` ranks the candidates by final retain and takes the ``point``-th (the paper scale, whose
candidates are Table 10's three points: Best is the one with the highest retain, Worst the lowest).
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
    over: str = option("lr", "the swept tags to choose along, comma-separated (sweep: {optim.lr: ...} tags instances "
                             "with lr; an alpha x lr grid: retain_weight,lr)")
    tolerance: float = option(0.10, "retain may move this fraction of its start (App. B.1 rule)", ge=0, lt=1)
    fallback: Literal["least_damaging", "fail"] = option("least_damaging", "when no rate keeps retain")
    rule: Literal["tolerance", "retain_rank"] = option(
        "tolerance", "tolerance: App. B.1's rule; retain_rank: the point-th candidate by final retain (Table 10)",
        key_if_set=True)
    point: Literal["best", "medium", "worst"] | None = option(
        None, "Table 10's name of the chosen frontier point: the rank under retain_rank, a label under tolerance",
        key_if_set=True)

    def validate(self) -> None:
        if self.rule == "retain_rank" and self.point is None:
            raise ValueError("point: rule retain_rank needs the point to take (best, medium or worst)")
        if not all(self.over.split(",")):
            raise ValueError(f"over: empty tag name in {self.over!r}")


def rank_by_retain(points: list[SweepPoint], point: str, *, higher_is_better: bool) -> SweepPoint:
    """Table 10's ranking: the candidates ordered from the best final retain to the worst; ``best`` is the first,
    ``worst`` the last, ``medium`` the middle one (the lower middle of an even count). Ties keep the given order."""
    ordered = sorted(points, key=lambda p: -p.final_retain if higher_is_better else p.final_retain)
    return ordered[{"best": 0, "medium": (len(ordered) - 1) // 2, "worst": len(ordered) - 1}[point]]


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
    along = cfg.over.split(",")
    candidates = ctx.inputs[str(cfg.candidates)]
    found = []  # (tag values along `over`, artifact, summary, point)
    higher = None
    for art, tags in candidates:
        if missing := [tag for tag in along if tag not in tags]:
            raise ValueError(f"select: {art.relpath} has no {missing[0]!r} tag (sweep it in {cfg.candidates})")
        summary = json.loads((art.path / "metrics.json").read_text())
        direction = summary.get("higher_is_better")
        if direction is None:
            raise ValueError(f"select: {art.relpath} does not state its metric direction (higher_is_better)")
        if higher is not None and direction != higher:
            raise ValueError("select: the sweep instances disagree on the metric direction")
        higher = direction
        values = tuple(float(tags[tag]) for tag in along)
        # ties go to the lower learning rate (App. B.1's rule), else to the lower first value along `over`
        found.append((values, art, summary, _point(summary, values[along.index("lr")] if "lr" in along else values[0])))
    found.sort(key=lambda f: f[0])  # a fixed order whatever order the store lists them in
    points = [f[3] for f in found]
    admissible = True
    if cfg.rule == "retain_rank":
        chosen = rank_by_retain(points, cfg.point, higher_is_better=higher)
        how = f"{cfg.point} of {len(points)} ranked by final retain"
    else:
        how = f"retain within {cfg.tolerance:.0%} of its start, then most forgotten"
        try:
            chosen = select_lr(points, tolerance=cfg.tolerance, higher_is_better=higher)
        except ValueError:
            if cfg.fallback == "fail":
                raise
            pick = max if higher else min
            chosen = pick(points, key=lambda p: (p.final_retain, -p.lr) if higher else (p.final_retain, p.lr))
            admissible = False
            how += "; none admissible: least damaging"
    values, art, summary, _ = found[next(i for i, p in enumerate(points) if p is chosen)]
    _link_tree(art.path / "model", ctx.workdir / "model")
    table = [{**dict(zip(along, v, strict=True)), "initial_retain": p.initial_retain, "final_retain": p.final_retain,
              "final_forget": p.final_forget,
              "admissible": retains_enough(p, tolerance=cfg.tolerance, higher_is_better=higher)}
             for v, _, _, p in found]
    out = {**summary, "selected": {**dict(zip(along, values, strict=True)), "artifact": art.relpath,
                                   "admissible": admissible, "rule": how,
                                   **({"point": cfg.point} if cfg.point else {})},
           "sweep": table}
    write_summary(ctx.workdir, out)
    ctx.log(f"{', '.join(f'{t} {v:g}' for t, v in zip(along, values, strict=True))} of {len(points)} "
            f"(admissible: {admissible}): retain {chosen.initial_retain:.3f} -> {chosen.final_retain:.3f}, "
            f"forget {chosen.final_forget:.3f}")
    return out
