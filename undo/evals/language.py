"""Language evaluation: cross-entropy on held-out retain and forget text (Section 2, App. A).

The retain and forget measures are the cross-entropy on held-out English and Korean text (500K tokens
each at paper scale), averaged over every target token of the packed held-out windows (with full
windows this equals the mean of per-batch means). Lower is better. The held-out windows are dataset
artifacts named by the settings (``retain``/``forget``), upstreams of the stage that evaluates.

Usage (registered as ``eval: {kind: language, language: {retain: ..., forget: ...}}``)::

    evaluate = LanguageEval(LanguageEvalConfig(...), english_windows, korean_windows)
    metrics = evaluate(model)   # {"english_ce": 4.1, "korean_ce": 3.6, "retain": 4.1, "forget": 3.6}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import Ref, option
from ..data.tokenized import dataset_tokens
from ..losses import cross_entropy_sum
from ..models import PAD_ID
from . import check_metric_names, register


@torch.no_grad()
def token_ce(model, tokens: np.ndarray, batch_size: int = 16, device: str = "cpu") -> float:
    """Held-out cross-entropy averaged over target tokens (pad excluded), across all batches."""
    total, count = 0.0, 0.0
    for start in range(0, len(tokens), batch_size):
        ids = torch.from_numpy(tokens[start:start + batch_size].astype(np.int64)).to(device)
        mask = (ids != PAD_ID).long()
        logits = model(input_ids=ids, attention_mask=mask).logits
        s, n = cross_entropy_sum(logits, ids, mask)
        total, count = total + s.item(), count + n.item()
    return total / max(count, 1.0)


@dataclass(frozen=True, kw_only=True)
class LanguageEvalConfig:
    """Held-out cross-entropy on a retain and a forget text (Section 2: English and Korean)."""

    retain: Ref = option(doc="dataset config of held-out retain windows (English)")
    forget: Ref = option(doc="dataset config of held-out forget windows (Korean)")
    retain_name: str = option("english", "metric prefix of the retain CE")
    forget_name: str = option("korean", "metric prefix of the forget CE")
    max_sequences: int | None = option(None, "evaluate only the first windows of each set", gt=0)
    batch_size: int = option(32, "windows per forward pass", gt=0, in_key=False)

    def validate(self) -> None:
        check_metric_names(self.retain_name, self.forget_name)


class LanguageEval:
    """Callable returning held-out CE (nats per token) on the retain and forget windows."""

    def __init__(self, cfg: LanguageEvalConfig, retain_tokens: np.ndarray, forget_tokens: np.ndarray,
                 device: str = "cpu"):
        self.cfg, self.device = cfg, device
        cap = cfg.max_sequences
        self.sets = {"retain": np.asarray(retain_tokens[:cap]), "forget": np.asarray(forget_tokens[:cap])}
        for role, tokens in self.sets.items():
            if len(tokens) == 0:
                raise ValueError(f"language eval: the held-out {role} set has no windows")

    def __call__(self, model) -> dict[str, float]:
        was_training = model.training
        model.eval()
        try:
            ce = {role: token_ce(model, tokens, self.cfg.batch_size, self.device) for role, tokens in self.sets.items()}
        finally:
            model.train(was_training)
        return {f"{self.cfg.retain_name}_ce": ce["retain"], f"{self.cfg.forget_name}_ce": ce["forget"], **ce}


def _build(settings: LanguageEvalConfig, tokenizer, device: str, inputs) -> LanguageEval:
    if inputs is None:
        raise ValueError("a language evaluation needs its held-out datasets (the stage's upstream artifacts)")
    return LanguageEval(settings, dataset_tokens(inputs(settings.retain)), dataset_tokens(inputs(settings.forget)),
                        device)


register("language", config=LanguageEvalConfig, build=_build,
         metrics={"retain": False, "forget": False, "*_ce": False},
         doc="held-out cross-entropy on retain and forget text (lower is better)")
