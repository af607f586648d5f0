"""Stage ``quantize``: the quantization attack, a model evaluated at full precision and at 4 bits (App. F.2, Table 14).

Zhang et al. (2024) showed that rounding an unlearned model's weights to 4 bits can bring forgotten knowledge back:
the unlearning moved the weights less than a quantization step, so the rounding lands them near the original model's.
The stage reloads the model under every mode of ``modes`` (:mod:`undo.quantize`: ``none``, bitsandbytes ``bnb-fp4`` as
the attack paper ran it and ``bnb-nf4``, and the pure-torch group-wise ``rtn-int4`` that runs everywhere) and runs the
evaluation on each. Every mode's record says which backend ran. A mode this machine cannot run fails the stage before
any evaluation, with one line naming the fix or the fallback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import Ref, option
from ..evals import EvalConfig, make_evaluator
from ..quantize import QUANT_MODES, QuantizationUnavailable, bnb_4bit_unavailable, load_quantized
from . import Context
from .common import artifact_tokenizer, write_summary

NAME = "quantize"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    model: Ref = option(doc="model to attack")
    modes: tuple[str, ...] = option(("none", "bnb-fp4", "rtn-int4"), "precisions to evaluate (undo.quantize)")
    group_size: int = option(128, "rtn-int4: weights per scale (the common INT4 g128)", gt=0)
    eval: EvalConfig = option(doc="what is measured at every precision")

    def validate(self) -> None:
        unknown = [m for m in self.modes if m not in QUANT_MODES]
        if unknown or not self.modes:
            raise ValueError(f"modes: unknown quantization mode {unknown[0] if unknown else '(none given)'!r} "
                             f"(known: {', '.join(QUANT_MODES)})")


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    for mode in cfg.modes:  # fail before spending any evaluation
        if mode.startswith("bnb-") and (reason := bnb_4bit_unavailable(ctx.device)) is not None:
            raise QuantizationUnavailable(f"modes: {mode} cannot run on {ctx.device}: {reason}; remove it or use "
                                          "rtn-int4, which runs everywhere")
    model_dir = ctx.input(cfg.model) / "model"
    tokenizer = artifact_tokenizer(ctx.input(cfg.model))
    evaluator = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx.input)
    results = {}
    for mode in cfg.modes:
        model, record = load_quantized(model_dir, mode, device=ctx.device, group_size=cfg.group_size)
        metrics = evaluator(model)
        results[mode] = {"record": record, "eval": metrics}
        ctx.log(f"{mode} ({record['backend']}): retain {metrics['retain']:.3f}, forget {metrics['forget']:.3f}")
        del model
    summary = {"modes": results, "higher_is_better": cfg.eval.higher_is_better,
               "lineage": _lineage(ctx.input(cfg.model))}
    write_summary(ctx.workdir, summary)
    return summary


def _lineage(path) -> dict:
    """The attacked model's own stage summary (what produced it), as relearning records it."""
    metrics = path / "metrics.json"
    return json.loads(metrics.read_text()) if metrics.is_file() else {}
