"""TOFU evaluation: open-unlearning's metrics on the forget, retain, real-authors and world-facts sets (App. F).

Reads the item files of a ``tofu`` artifact (``<split>.jsonl``) and reports, under open-unlearning's names
(:mod:`undo.evals.tofu_metrics` gives each definition):

- ``forget_Q_A_Prob``, ``forget_Q_A_ROUGE``, ``forget_truth_ratio`` (aggregated ``closer_to_1_better``) on the forget
  split's perturbed set (``forget10_perturbed``: the forget questions with paraphrased and perturbed answers);
- ``retain_Q_A_Prob``, ``retain_Q_A_ROUGE``, ``retain_Truth_Ratio`` on ``retain_perturbed``; ``ra_*`` and ``wf_*``
  (probability among the options, ROUGE, truth ratio against the original answer) on ``real_authors_perturbed`` and
  ``world_facts_perturbed``; ``model_utility``, their harmonic mean;
- ``mia_min_k``: the AUC of min-k% answer log-probability separating the forget split (members) from the holdout
  split (authors the model never saw); 0.5 is no membership signal;
- ``forget_quality``: the KS-test p-value of the forget truth ratios against a retain-only model's (``retain_model``:
  a model finetuned on the retain split alone, TOFU's reference), when one is named.

``retain`` is ``model_utility`` and ``forget`` is ``forget_Q_A_Prob`` (both: higher is more capability), which is what
stop rules, attacks and claims read. Answers are scored in the prompt format the model was finetuned with, read from
that ``qa`` dataset's artifact (``format_from``), including the closing EOS (open-unlearning's collator appends it);
ROUGE reads greedy answers.

Usage (registered as ``eval: {kind: tofu, tofu: {items: tofu.yaml, format_from: qa_full.yaml}}``)::

    evaluate = make_evaluator(cfg.eval, tokenizer, "cpu", ctx.input)
    evaluate(model)   # {"forget_Q_A_Prob": 0.9, ..., "model_utility": 0.5, "retain": 0.5, "forget": 0.9}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Ref, build, option
from ..data.qa import PromptFormat, encode_answer, encode_prompt
from . import register
from .tofu_metrics import forget_quality as ks_forget_quality
from .tofu_metrics import (
    greedy_ids,
    mia_auc,
    min_k_scores,
    model_utility,
    pad_token_id,
    pair_logprobs,
    probability_with_options,
    qa_probability,
    rouge_l_recall,
    stop_token_ids,
    truth_ratio_score,
    truth_ratios,
)


@dataclass(frozen=True, kw_only=True)
class TofuEvalConfig:
    items: Ref = option(doc="the tofu stage's artifact (its <split>.jsonl files)")
    forget_split: str = option("forget10", "the forget split (its <split>_perturbed set is scored)")
    holdout_split: str | None = option("holdout10", "non-member authors for the MIA (None: no mia_min_k)")
    format_from: Ref = option(doc="the qa dataset the model was finetuned on: its recorded prompt format is used")
    max_items: int | None = option(None, "score the first n items of every set (None: all; open-unlearning: all)",
                                   gt=0)
    max_new_tokens: int = option(200, "greedy answer length for ROUGE (open-unlearning's TOFU: 200)", gt=0)
    batch_size: int = option(16, "items per forward pass", gt=0)
    mia_k: float = option(0.4, "fraction of lowest token log-probs of min-k% (open-unlearning's TOFU: 0.4)", gt=0, le=1)
    retain_model: Ref | None = option(None, "a model finetuned on the retain split only, for forget_quality",
                                      key_if_set=True)
    rouge: bool = option(True, "generate greedy answers for the ROUGE metrics (False: ROUGE is NaN, model_utility "
                               "then NaN; for fast evaluation inside relearning)", key_if_set=True)


def read_split(items_dir: Path, split: str, max_items: int | None) -> list[dict]:
    path = items_dir / f"{split}.jsonl"
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in items_dir.glob("*.jsonl")))
        raise FileNotFoundError(f"eval.tofu: {items_dir.name} has no split {split!r} (it has: {have})")
    with open(path, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    return items[:max_items] if max_items else items


class TofuEval:
    """The metrics of one model (module docstring); the item sets are encoded once, at construction."""

    def __init__(self, cfg: TofuEvalConfig, tokenizer, items_dir: Path, prompt: PromptFormat,
                 retain_model_ratios: np.ndarray | None = None):
        self.cfg, self.tokenizer, self.prompt = cfg, tokenizer, prompt
        self.pad_id = pad_token_id(tokenizer)
        n = cfg.max_items
        self.sets = {"forget": read_split(items_dir, f"{cfg.forget_split}_perturbed", n),
                     "retain": read_split(items_dir, "retain_perturbed", n),
                     "ra": read_split(items_dir, "real_authors_perturbed", n),
                     "wf": read_split(items_dir, "world_facts_perturbed", n)}
        self.members = read_split(items_dir, cfg.forget_split, n) if cfg.holdout_split else []
        self.nonmembers = read_split(items_dir, cfg.holdout_split, n) if cfg.holdout_split else []
        self.retain_model_ratios = retain_model_ratios

    def _prompt(self, question: str) -> list[int]:
        return encode_prompt(self.tokenizer, self.prompt, question)

    def _answer(self, answer: str) -> list[int]:
        return encode_answer(self.tokenizer, self.prompt, answer)

    def _logprobs(self, model, questions: list[str], answers: list[str]) -> list[np.ndarray]:
        pairs = [(self._prompt(q), self._answer(a)) for q, a in zip(questions, answers, strict=True)]
        return pair_logprobs(model, pairs, self.pad_id, batch_size=self.cfg.batch_size)

    def _probs(self, model, items: list[dict], field: str) -> np.ndarray:
        return qa_probability(self._logprobs(model, [i["question"] for i in items], [i[field] for i in items]))

    def _perturbed(self, model, items: list[dict]) -> np.ndarray:
        """[items, options] length-normalised probabilities of the perturbed answers (a ragged set is cut to the
        fewest options any item has)."""
        width = min(len(i["perturbed_answer"]) for i in items)
        columns = [self._probs(model, [{"question": i["question"], "answer": i["perturbed_answer"][j]} for i in items],
                               "answer") for j in range(width)]
        return np.stack(columns, axis=1)

    def _rouge(self, model, items: list[dict]) -> float:
        if not self.cfg.rouge:
            return math.nan
        stops = stop_token_ids(model, self.tokenizer)
        if self.prompt.style == "chat":
            end_turn = self.tokenizer.convert_tokens_to_ids("<end_of_turn>")
            if isinstance(end_turn, int) and end_turn != self.tokenizer.unk_token_id:
                stops.add(end_turn)
        rows = greedy_ids(model, [self._prompt(i["question"]) for i in items], self.pad_id, stops,
                          max_new_tokens=self.cfg.max_new_tokens, batch_size=self.cfg.batch_size)
        texts = [self.tokenizer.decode(r, skip_special_tokens=True).strip() for r in rows]
        return float(rouge_l_recall(texts, [i["answer"] for i in items]).mean())

    def forget_ratios(self, model) -> np.ndarray:
        """Per-item truth ratios on the forget set (forget quality compares their distribution)."""
        items = self.sets["forget"]
        return truth_ratios(self._probs(model, items, "paraphrased_answer"), self._perturbed(model, items))

    def __call__(self, model, roles: tuple[str, ...] = ("retain", "forget")) -> dict[str, float]:
        out: dict[str, float] = {}
        if "forget" in roles:
            items = self.sets["forget"]
            ratios = self.forget_ratios(model)
            out["forget_Q_A_Prob"] = float(self._probs(model, items, "answer").mean())
            out["forget_Q_A_ROUGE"] = self._rouge(model, items)
            out["forget_truth_ratio"] = truth_ratio_score(ratios, "closer_to_1_better")
            if self.retain_model_ratios is not None:
                out["forget_quality"] = ks_forget_quality(ratios, self.retain_model_ratios)
            if self.members:
                scores = [min_k_scores(self._logprobs(model, [i["question"] for i in s], [i["answer"] for i in s]),
                                       self.cfg.mia_k) for s in (self.members, self.nonmembers)]
                out["mia_min_k"] = mia_auc(*scores)
        if "retain" in roles:
            for name in ("retain", "ra", "wf"):
                items = self.sets[name]
                correct = self._probs(model, items, "answer")
                if name == "retain":
                    out["retain_Q_A_Prob"] = float(correct.mean())
                    # the retain set's truth ratio is against the paraphrased answer; ra/wf have none: the answer
                    reference = self._probs(model, items, "paraphrased_answer")
                else:
                    out[f"{name}_Q_A_Prob_normalised"] = float(
                        probability_with_options(correct, self._perturbed(model, items)).mean())
                    reference = correct
                out[f"{name}_Q_A_ROUGE"] = self._rouge(model, items)
                out[f"{name}_Truth_Ratio"] = truth_ratio_score(
                    truth_ratios(reference, self._perturbed(model, items)), "true_better")
            values = {k: out[k] for k in out if k.startswith(("retain_", "ra_", "wf_"))}
            out["model_utility"] = math.nan if any(math.isnan(v) for v in values.values()) else model_utility(values)
        for role in ("retain", "forget"):
            if role not in roles:  # an unscored role is NaN under every key, so curves keep one length per key
                out.update(dict.fromkeys(self.metric_names(role), math.nan))
        out["retain"] = out["model_utility"]
        out["forget"] = out["forget_Q_A_Prob"]
        return out

    def metric_names(self, role: str) -> list[str]:
        """The keys :meth:`__call__` reports for ``role`` (``retain`` or ``forget``)."""
        if role == "forget":
            return (["forget_Q_A_Prob", "forget_Q_A_ROUGE", "forget_truth_ratio"]
                    + ["forget_quality"] * (self.retain_model_ratios is not None) + ["mia_min_k"] * bool(self.members))
        names = ["retain_Q_A_Prob", "retain_Q_A_ROUGE", "retain_Truth_Ratio"]
        for name in ("ra", "wf"):
            names += [f"{name}_Q_A_Prob_normalised", f"{name}_Q_A_ROUGE", f"{name}_Truth_Ratio"]
        return names + ["model_utility"]


def trained_format(qa_dir: Path) -> PromptFormat:
    """The prompt format a ``qa`` dataset artifact recorded."""
    recorded = json.loads((qa_dir / "metrics.json").read_text()).get("prompt")
    if recorded is None:
        raise ValueError(f"eval.tofu.format_from: {qa_dir.name} records no prompt format (not a qa dataset)")
    return build(PromptFormat, recorded, file=qa_dir / "metrics.json", prefix="prompt.")


def _build(cfg: TofuEvalConfig, tokenizer, device: str, inputs) -> TofuEval:
    items_dir = inputs(cfg.items)
    prompt = trained_format(inputs(cfg.format_from))
    reference = None
    if cfg.retain_model is not None:
        from ..models import load_model

        retain_dir = inputs(cfg.retain_model)
        if not (retain_dir / "model").is_dir():
            raise FileNotFoundError(f"eval.tofu.retain_model: {retain_dir} holds no model (forget_quality needs a "
                                    "model finetuned on the retain split only)")
        evaluator = TofuEval(cfg, tokenizer, items_dir, prompt)
        reference = evaluator.forget_ratios(load_model(retain_dir / "model", device))
    return TofuEval(cfg, tokenizer, items_dir, prompt, reference)


register("tofu", config=TofuEvalConfig, build=_build,
         metrics={"retain": True, "forget": True, "forget_*": True, "retain_*": True, "ra_*": True, "wf_*": True,
                  "model_utility": True, "mia_min_k": True, "forget_quality": False},
         doc="TOFU: open-unlearning's metrics on forget, retain, real-authors and world-facts sets (App. F)")
