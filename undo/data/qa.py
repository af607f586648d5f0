"""Question-answer pairs as token ids: one prompt format for training and for scoring (App. F, TOFU).

A pair becomes ``prompt ids + answer ids (+ EOS)``: the prompt and the answer are tokenized separately and
concatenated, so the answer tokens a loss trains on are exactly the tokens a metric scores (a joint tokenization
could merge the last prompt token with the first answer token). Two prompt styles:

- ``chat``: the tokenizer's own chat template with one user turn and the generation prompt (gemma-2-2b-it, as the
  authors' open-unlearning fork formats TOFU); the answer then ends the model's turn. The template writes its own BOS.
- ``plain``: ``question_template`` / ``answer_template`` text (TOFU's ``Question: ...\\nAnswer: ...`` format for models
  without a chat template, such as Phi-1.5 and the kit's tiny models), with the tokenizer's BOS first when ``bos``.

Usage::

    fmt = PromptFormat(style="plain")
    prompt, answer = encode_pair(tokenizer, fmt, "Where was X born?", "In Y.")
    ids, mask = pad_pair(prompt, answer, seq_len=128, pad_id=0)     # mask: 1 on answer tokens
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..config import option


@dataclass(frozen=True, kw_only=True)
class PromptFormat:
    """How a question becomes a prompt and an answer its continuation (module docstring)."""

    style: Literal["plain", "chat"] = option("plain", "plain text templates, or the tokenizer's chat template")
    question_template: str = option("Question: {question}\nAnswer:", "plain: the prompt ({question} is replaced)")
    answer_template: str = option(" {answer}", "plain: the continuation ({answer} is replaced); chat: the answer as is")
    bos: bool = option(True, "plain: start with the tokenizer's BOS token (the kit's models are trained after BOS)")
    eos: bool = option(True, "end the answer with the tokenizer's EOS token (chat: the end-of-turn token as well)")

    def validate(self) -> None:
        if "{question}" not in self.question_template:
            raise ValueError("question_template: must contain {question}")
        if "{answer}" not in self.answer_template:
            raise ValueError("answer_template: must contain {answer}")


def prompt_text(tokenizer, fmt: PromptFormat, question: str) -> str:
    """The prompt a model sees before its answer (for generation as for scoring)."""
    if fmt.style == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("style: chat needs a tokenizer with a chat template; this one has none (use plain)")
        return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
    return fmt.question_template.replace("{question}", question)


def answer_text(tokenizer, fmt: PromptFormat, answer: str) -> str:
    if fmt.style == "chat":
        return answer
    return fmt.answer_template.replace("{answer}", answer)


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_prompt(tokenizer, fmt: PromptFormat, question: str) -> list[int]:
    ids = _ids(tokenizer, prompt_text(tokenizer, fmt, question))
    if fmt.style == "plain" and fmt.bos and tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id, *ids]
    return ids


def encode_answer(tokenizer, fmt: PromptFormat, answer: str) -> list[int]:
    ids = _ids(tokenizer, answer_text(tokenizer, fmt, answer))
    if fmt.eos:
        if fmt.style == "chat":
            end_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
            if isinstance(end_turn, int) and end_turn != tokenizer.unk_token_id:
                ids.append(end_turn)
        elif tokenizer.eos_token_id is not None:
            ids.append(tokenizer.eos_token_id)
    return ids


def encode_pair(tokenizer, fmt: PromptFormat, question: str, answer: str) -> tuple[list[int], list[int]]:
    """(prompt ids, answer ids) of one pair."""
    return encode_prompt(tokenizer, fmt, question), encode_answer(tokenizer, fmt, answer)


def pad_pair(prompt: list[int], answer: list[int], seq_len: int, pad_id: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(ids [seq_len], answer mask [seq_len], truncated): right-padded; an over-long pair loses its answer's tail.

    A prompt that leaves no room for a single answer token cannot be trained on and is refused."""
    if len(prompt) >= seq_len:
        raise ValueError(f"seq_len: a {len(prompt)}-token prompt leaves no room for its answer in {seq_len} tokens")
    ids = (prompt + answer)[:seq_len]
    truncated = len(prompt) + len(answer) > seq_len
    out = np.full(seq_len, pad_id, dtype=np.int32)
    mask = np.zeros(seq_len, dtype=np.uint8)
    out[: len(ids)] = ids
    mask[len(prompt): len(ids)] = 1
    return out, mask, truncated
