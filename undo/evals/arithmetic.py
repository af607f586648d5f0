"""Arithmetic evaluation: exact-match accuracy per operation and format, by batched greedy decoding.

Per operation and format, problems are generated with seed 42 from the held-out word-problem templates
(App. A), prompts are prefixed with BOS, a few tokens are decoded greedily, and the first
whitespace-separated piece is parsed as a number and compared within 1e-6. Prompts are decoded in
left-padded batches, so an evaluation costs a handful of forward passes. ``retain`` averages the
retain operations (add, sub), ``forget`` the forget operations (mul, div); all are accuracies (higher
is better).

Usage (registered as ``eval: {kind: arithmetic}``)::

    evaluate = ArithmeticEval(ArithmeticEvalConfig(), tokenizer)
    metrics = evaluate(model)   # {"add/equation": 0.98, ..., "retain": 0.97, "forget": 0.01}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import option
from ..data.arithmetic import FORMATS, OPERATIONS, generate_problems, is_correct
from ..models import BOS_ID, PAD_ID
from . import register


@dataclass(frozen=True, kw_only=True)
class ArithmeticEvalConfig:
    """Held-out arithmetic problems and how they are decoded."""

    n_per_metric: int = option(100, "problems per operation and format (reference: 100)", gt=0)
    seed: int = option(42, "problem seed (reference: 42)")
    templates: str = option("heldout", "word-problem template pool: heldout | train")
    retain_operations: tuple[str, ...] = option(("add", "sub"), "operations averaged into 'retain'")
    forget_operations: tuple[str, ...] = option(("mul", "div"), "operations averaged into 'forget'")
    formats: tuple[str, ...] = option(FORMATS, "problem formats")
    add_sub_max: int = option(50, "largest add/sub operand (App. A)", gt=0)
    mul_div_max: int = option(20, "largest mul/div operand (App. A)", gt=0)
    division_answers: str = option("float", "float: '5.0' as in the reference data; int: '5'")
    max_new_tokens: int = option(4, "greedy tokens decoded (reference: 4)", gt=0)
    pairs: str = option("all", "operand facts evaluated: all, or the 'eval' half of a seeded split whose "
                               "'attack' half the relearning data uses (undo.data.arithmetic.eval_pairs)",
                        key_if_set=True)
    heldout_fraction: float = option(0.5, "share of each operation's facts in the evaluation half", gt=0, lt=1,
                                     key_if_set=True)
    split_seed: int = option(0, "seed of the fact split", key_if_set=True)
    distinct: bool = option(False, "each problem a different fact (cycling only past the number of facts)",
                            key_if_set=True)
    batch_size: int = option(256, "prompts per forward pass", gt=0, in_key=False)

    def validate(self) -> None:
        for op in self.retain_operations + self.forget_operations:
            if op not in OPERATIONS:
                raise ValueError(f"retain_operations: unknown operation {op!r}")
        for fmt in self.formats:
            if fmt not in FORMATS:
                raise ValueError(f"formats: unknown format {fmt!r}")
        if self.templates not in ("heldout", "train"):
            raise ValueError("templates: must be heldout or train")
        if self.division_answers not in ("float", "int"):
            raise ValueError("division_answers: must be float or int")
        if self.pairs not in ("all", "eval"):
            raise ValueError("pairs: an evaluation reads 'all' facts or the 'eval' half")


class ArithmeticEval:
    """Callable that scores a model; problems are generated and tokenized once."""

    def __init__(self, cfg: ArithmeticEvalConfig, tokenizer, device: str = "cpu"):
        self.cfg, self.tokenizer, self.device = cfg, tokenizer, device
        ops = tuple(dict.fromkeys(cfg.retain_operations + cfg.forget_operations))
        self.problems = []
        for op in ops:
            for fmt in cfg.formats:
                self.problems += generate_problems([op], [fmt], cfg.n_per_metric, seed=cfg.seed, templates=cfg.templates,
                                                   add_sub_max=cfg.add_sub_max, mul_div_max=cfg.mul_div_max,
                                                   division_answers=cfg.division_answers, pairs=cfg.pairs,
                                                   heldout_fraction=cfg.heldout_fraction,
                                                   split_seed=cfg.split_seed, distinct=cfg.distinct)
        encoded = tokenizer([p.prompt for p in self.problems], add_special_tokens=False)["input_ids"]
        self.prompts = [[BOS_ID] + ids for ids in encoded]
        # Sort by length so each batch pads little; results are mapped back by index.
        self.order = sorted(range(len(self.prompts)), key=lambda i: len(self.prompts[i]))

    @torch.no_grad()
    def completions(self, model) -> list[str]:
        out: list[str] = [""] * len(self.prompts)
        for start in range(0, len(self.order), self.cfg.batch_size):
            idx = self.order[start:start + self.cfg.batch_size]
            width = max(len(self.prompts[i]) for i in idx)
            ids = torch.full((len(idx), width), PAD_ID, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                p = self.prompts[i]
                ids[row, width - len(p):] = torch.tensor(p)
                mask[row, width - len(p):] = 1
            gen = model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                 max_new_tokens=self.cfg.max_new_tokens, do_sample=False, pad_token_id=PAD_ID,
                                 eos_token_id=None)
            texts = self.tokenizer.batch_decode(gen[:, width:], skip_special_tokens=False)
            for row, i in enumerate(idx):
                out[i] = texts[row]
        return out

    def __call__(self, model) -> dict[str, float]:
        was_training = model.training
        model.eval()
        texts = self.completions(model)
        model.train(was_training)
        correct: dict[str, list[bool]] = {}
        for problem, text in zip(self.problems, texts, strict=True):
            correct.setdefault(f"{problem.operation}/{problem.format}", []).append(is_correct(text, problem.answer))
        metrics = {name: float(np.mean(v)) for name, v in correct.items()}
        for group, ops in (("retain", self.cfg.retain_operations), ("forget", self.cfg.forget_operations)):
            vals = [metrics[f"{op}/{fmt}"] for op in ops for fmt in self.cfg.formats]
            metrics[group] = float(np.mean(vals)) if vals else float("nan")
        return metrics


def _build(settings: ArithmeticEvalConfig, tokenizer, device: str, inputs) -> ArithmeticEval:
    return ArithmeticEval(settings, tokenizer, device)


register("arithmetic", config=ArithmeticEvalConfig, build=_build, settings_required=False,
         metrics={"retain": True, "forget": True, "*/*": True},
         doc="accuracy per operation and format (higher is better)")
