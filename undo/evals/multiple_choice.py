"""Multiple-choice accuracy by answer log-likelihood, as lm-evaluation-harness scores WMDP and MMLU (Section 6).

An item is ``{question, choices, answer}`` (``answer``: the index of the correct choice; the schema of
``cais/wmdp`` and ``cais/mmlu``). Each choice becomes a continuation of one prompt, the model scores every
continuation by the summed log-probability of its tokens, and the item counts as correct when the correct
choice scores highest (the harness's ``acc``; ties go to the first choice, as ``argmax`` does). Two prompt
formats, a config value rather than a code path:

- ``letters`` (the harness's ``mmlu`` and ``wmdp`` tasks)::

      {description}{shots}{question}\\nA. {choice 0}\\nB. {choice 1}\\nC. {choice 2}\\nD. {choice 3}\\nAnswer:

  continued by `` A`` ... `` D``; ``shots`` are solved examples, each the same block followed by `` {letter}``
  and a blank line (MMLU: five from the subject's dev split).
- ``continuation`` (the harness's cloze form, for models too small to follow letter prompts)::

      {description}{shots}{question}\\nAnswer:

  continued by `` {choice text}``.

Context and continuation are tokenised the way the harness does it: trailing spaces of the context move
into the continuation, the whole string is tokenised once, and the continuation is what follows the
context's tokens; a BOS token starts every sequence when ``bos_id`` is given (the harness adds it for
Gemma models). All continuations are scored in padded batches, so an evaluation costs about
``items x choices / batch_size`` forward passes.

Registered as ``eval: {kind: multiple_choice, multiple_choice: {retain: ..., forget: ...}}``, where ``retain`` and
``forget`` name ``questions`` stage configs (MMLU and WMDP at paper scale); ``retain``/``forget`` are accuracies
(higher is better), also reported as ``<retain_name>_acc`` and ``<forget_name>_acc``.

Usage::

    items = load_items(Path("wmdp_bio.jsonl"))           # validated: a bad line names its number
    prompts = build_prompts(items, "letters", description="The following are ... about biology.\\n\\n")
    correct = score_choices(model, tokenizer, prompts, bos_id=2)   # one bool per item
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..config import Ref, option
from ..data.jsonl import decode_line
from ..models import BOS_ID, PAD_ID
from . import check_metric_names, register

LETTERS = "ABCDEFGHIJ"
FORMATS = ("letters", "continuation")


@dataclass(frozen=True)
class Item:
    question: str
    choices: tuple[str, ...]
    answer: int
    subject: str | None = None  # MMLU's subject: its few-shot examples and description are the subject's


@dataclass(frozen=True)
class Prompt:
    """One item as the model sees it: a context, one continuation per choice, the correct index."""

    context: str
    continuations: tuple[str, ...]
    answer: int


class ItemsError(ValueError):
    """A malformed item file; the message names the file and the line."""


def load_items(path: Path) -> list[Item]:
    """Items from a JSONL file of ``{question, choices, answer}`` objects (other keys are ignored)."""
    items = []
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ItemsError(f"{path}: cannot read ({exc.strerror})") from None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        items.append(_item(decode_line(line, where, ItemsError), where))
    if not items:
        raise ItemsError(f"{path}: no items")
    return items


def _item(row, where: str) -> Item:
    if not isinstance(row, dict):
        raise ItemsError(f"{where}: expected an object with question, choices, answer")
    for key in ("question", "choices", "answer"):
        if key not in row:
            raise ItemsError(f"{where}: missing key {key!r}")
    question, choices, answer = row["question"], row["choices"], row["answer"]
    if not isinstance(question, str) or not question.strip():
        raise ItemsError(f"{where}: question must be a non-empty string")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise ItemsError(f"{where}: choices must be a list of at least two strings")
    if len(choices) > len(LETTERS):
        raise ItemsError(f"{where}: at most {len(LETTERS)} choices")
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise ItemsError(f"{where}: answer must be the index of a choice (0-{len(choices) - 1}), got {answer!r}")
    subject = row.get("subject")
    if subject is not None and (not isinstance(subject, str) or not subject):
        raise ItemsError(f"{where}: subject must be a non-empty string when given")
    return Item(question, tuple(choices), answer, subject)


def _block(item: Item, fmt: str) -> str:
    if fmt == "letters":
        lines = [item.question.strip()] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(item.choices)]
        return "\n".join(lines) + "\nAnswer:"
    return f"{item.question.strip()}\nAnswer:"


def _answers(item: Item, fmt: str) -> tuple[str, ...]:
    return tuple(f" {LETTERS[i]}" for i in range(len(item.choices))) if fmt == "letters" else \
        tuple(f" {c}" for c in item.choices)


def build_prompts(items: list[Item], fmt: str, *, description: str = "", shots: list[Item] = ()) -> list[Prompt]:
    """Each item's context and continuations in ``fmt`` (module docstring), after ``description`` and the
    solved ``shots``."""
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    prefix = description + "".join(f"{_block(s, fmt)}{_answers(s, fmt)[s.answer]}\n\n" for s in shots)
    return [Prompt(prefix + _block(it, fmt), _answers(it, fmt), it.answer) for it in items]


def encode_pair(tokenizer, context: str, continuation: str, bos_id: int | None) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) split as the harness does (module docstring)."""
    spaces = len(context) - len(context.rstrip(" "))
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    head = [bos_id] if bos_id is not None else []
    return head + ctx, whole[len(ctx):]


@torch.no_grad()
def choice_logprobs(model, tokenizer, prompts: list[Prompt], *, bos_id: int | None = None, pad_id: int = 0,
                    batch_size: int = 32, device: str = "cpu") -> list[list[float]]:
    """Summed log-probability of every continuation of every prompt."""
    requests = []  # (prompt index, choice index, context ids, continuation ids)
    for p_index, prompt in enumerate(prompts):
        for c_index, continuation in enumerate(prompt.continuations):
            ctx, cont = encode_pair(tokenizer, prompt.context, continuation, bos_id)
            if not cont:
                raise ValueError(f"item {p_index}: choice {c_index} tokenises to nothing after its context")
            requests.append((p_index, c_index, ctx, cont))
    scores = [[0.0] * len(p.continuations) for p in prompts]
    order = sorted(range(len(requests)), key=lambda r: -len(requests[r][2]) - len(requests[r][3]))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            batch = [requests[r] for r in order[start:start + batch_size]]
            width = max(len(ctx) + len(cont) for _, _, ctx, cont in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, _, ctx, cont) in enumerate(batch):
                seq = ctx + cont
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            logp = torch.log_softmax(logits, dim=-1)
            for row, (p_index, c_index, ctx, cont) in enumerate(batch):
                positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1)
                targets = torch.tensor(cont)
                scores[p_index][c_index] = float(logp[row, positions, targets].sum())
    finally:
        model.train(was_training)
    return scores


def score_choices(model, tokenizer, prompts: list[Prompt], **kwargs) -> list[bool]:
    """Whether the correct continuation of each prompt scores highest (first of equal scores wins)."""
    out = []
    for prompt, scores in zip(prompts, choice_logprobs(model, tokenizer, prompts, **kwargs), strict=True):
        out.append(max(range(len(scores)), key=lambda i: (scores[i], -i)) == prompt.answer)
    return out


@dataclass(frozen=True, kw_only=True)
class MultipleChoiceEvalConfig:
    """Accuracy on a retain and a forget benchmark (Section 6: MMLU and WMDP)."""

    retain: Ref = option(doc="questions config of the retain items (MMLU at paper scale)")
    forget: Ref = option(doc="questions config of the forget items (WMDP at paper scale)")
    retain_name: str = option("mmlu", "metric prefix of the retain accuracy")
    forget_name: str = option("wmdp", "metric prefix of the forget accuracy")
    format: Literal["letters", "continuation"] = option(
        "letters", "letters: the harness's A-D prompt; continuation: choices scored as text (tiny models)")
    retain_description: str = option("", "text before every retain prompt (the harness's task description; "
                                         "'{subject}' is the item's subject with spaces for underscores)")
    retain_shots: int = option(0, "solved examples before every retain item: the first ones of its subject in the "
                                  "retain questions' shots.jsonl (MMLU: 5, App. D.2.1)", ge=0, key_if_set=True)
    forget_description: str = option("", "text before every forget prompt ('{subject}' as for retain_description)")
    bos: bool = option(True, "start every sequence with BOS (the harness does for Gemma models)")
    max_items: int | None = option(None, "score only the first items of each benchmark (fast checks)", gt=0)
    batch_size: int = option(32, "sequences per forward pass", gt=0, in_key=False)

    def validate(self) -> None:
        check_metric_names(self.retain_name, self.forget_name)


class MultipleChoiceEval:
    """Callable returning retain and forget accuracy; prompts are built once."""

    def __init__(self, cfg: MultipleChoiceEvalConfig, tokenizer, retain_items: list[Item], forget_items: list[Item],
                 device: str = "cpu", retain_shots: list[Item] = ()):
        self.cfg, self.tokenizer, self.device = cfg, tokenizer, device
        self.prompts = {"retain": subject_prompts(retain_items[:cfg.max_items], cfg.format, cfg.retain_description,
                                                  retain_shots, cfg.retain_shots),
                        "forget": subject_prompts(forget_items[:cfg.max_items], cfg.format, cfg.forget_description,
                                                  [], 0)}

    def __call__(self, model, roles: tuple[str, ...] = ("retain", "forget")) -> dict[str, float]:
        """Accuracies of the benchmarks ``roles`` names; the other one is NaN (not scored, e.g. retain during a
        WMDP attack, whose figures read it before the attack only)."""
        acc = {role: float(np.mean(score_choices(model, self.tokenizer, prompts, bos_id=BOS_ID if self.cfg.bos else None,
                                                 pad_id=PAD_ID, batch_size=self.cfg.batch_size, device=self.device)))
               if role in roles else float("nan") for role, prompts in self.prompts.items()}
        return {f"{self.cfg.retain_name}_acc": acc["retain"], f"{self.cfg.forget_name}_acc": acc["forget"], **acc}


def subject_prompts(items: list[Item], fmt: str, description: str, shots: list[Item], n_shots: int) -> list[Prompt]:
    """Prompts in ``items``' order, each after its subject's description and first ``n_shots`` solved examples (the
    harness's MMLU: "The following are multiple choice questions (with answers) about {subject}.", five dev shots)."""
    out = []
    for item in items:
        mine = [s for s in shots if s.subject == item.subject][:n_shots]
        if len(mine) < n_shots:
            raise ValueError(f"retain_shots: {n_shots} examples wanted, subject {item.subject!r} has {len(mine)}")
        text = description.format(subject=(item.subject or "").replace("_", " ")) if "{subject}" in description \
            else description
        out += build_prompts([item], fmt, description=text, shots=mine)
    return out


def _build(settings: MultipleChoiceEvalConfig, tokenizer, device: str, inputs) -> MultipleChoiceEval:
    if inputs is None:
        raise ValueError("a multiple-choice evaluation needs its benchmarks (the stage's upstream artifacts)")
    retain_dir = inputs(settings.retain)
    shots = load_items(retain_dir / "shots.jsonl") if settings.retain_shots else []
    return MultipleChoiceEval(settings, tokenizer, load_items(retain_dir / "items.jsonl"),
                              load_items(inputs(settings.forget) / "items.jsonl"), device, shots)


register("multiple_choice", config=MultipleChoiceEvalConfig, build=_build,
         metrics={"retain": True, "forget": True, "*_acc": True},
         doc="multiple-choice accuracy on a retain and a forget benchmark (higher is better)")
