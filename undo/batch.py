"""Token batches with their masks, shared by every training stage and unlearning method.

A dataset artifact is ``tokens.npy`` ([N, T] token ids) and, for prompt/answer data such as TOFU's question-answer
pairs (App. F), ``loss_mask.npy`` (1 on the answer tokens a loss scores, 0 on the prompt and on the right padding).
Right padding needs no attention mask for a causal model: no real token attends to a pad after it, and pads are
never scored. Packed pretraining windows have no loss mask and score every token.

Usage::

    batch = as_batch(ids)                        # every token scored
    batch = Batch(ids, loss_mask=answer_mask)    # only answer tokens scored
    lm_cross_entropy(model, batch.input_ids, batch.targets)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Batch:
    """Token windows [B, T] with optional masks.

    ``attention_mask``: 1 for real tokens, 0 for padding (None: no padding, or right padding a causal model ignores).
    ``loss_mask``: 1 for tokens whose prediction is scored, e.g. only answer tokens of a QA prompt
    (None: every real token). The losses follow :mod:`undo.losses`: a mask marks *target* tokens,
    so position t (predicting token t+1) counts when the mask at t+1 is 1.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor | None = None
    loss_mask: torch.Tensor | None = None

    @property
    def targets(self) -> torch.Tensor | None:
        """Mask of scored target tokens: the loss mask restricted to real tokens."""
        if self.loss_mask is None:
            return self.attention_mask
        if self.attention_mask is None:
            return self.loss_mask
        return self.loss_mask * self.attention_mask

    def forward(self, model, **kwargs):
        return model(input_ids=self.input_ids, attention_mask=self.attention_mask, **kwargs)

    def to(self, device) -> Batch:
        def move(t):
            return None if t is None else t.to(device)

        return Batch(move(self.input_ids), move(self.attention_mask), move(self.loss_mask))


def as_batch(x) -> Batch:
    """A :class:`Batch` from a Batch or a bare [B, T] tensor of token ids (no padding, every token scored)."""
    return x if isinstance(x, Batch) else Batch(input_ids=x)


def padded_batch(tokens, pad_id: int) -> Batch:
    """Masks padding tokens; a window without padding gets no mask, so the model runs its plain causal path.

    A :class:`Batch` that already carries a loss mask (prompt/answer data) keeps it: its pads are right pads that
    the loss mask already excludes."""
    if isinstance(tokens, Batch):
        return tokens
    real = tokens != pad_id
    return Batch(input_ids=tokens, attention_mask=None if bool(real.all()) else real.long())
