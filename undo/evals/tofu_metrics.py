"""TOFU metrics as open-unlearning defines them (App. F: Figures 12-13, Table 14).

Appendix F runs TOFU through open-unlearning and reports its metrics: Q-A probability, ROUGE-L recall,
Truth Ratio, Forget Quality, Model Utility and the Min-K membership-inference AUC. This module
restates each definition in two layers:

- pure functions on numbers (numpy) that turn per-item log-probabilities, probabilities, texts or
  truth ratios into the metric; each docstring gives the formula and the open-unlearning metric or
  TOFU (Maini et al., 2024) definition it follows;
- two model-facing helpers for any Hugging Face causal LM: the answer tokens' log-probabilities
  given a prompt (teacher forcing) and greedy answers for ROUGE.

Prompts reach the model-facing helpers fully formatted (the caller applies any chat template).
open-unlearning computes the ratios with a 1e-10 guard in the denominators; the same constant is kept
here so values match its logs.

Usage::

    lp = answer_logprobs(model, tok, prompts, answers, append_eos=True)
    forget_prob = qa_probability(lp).mean()                                  # forget_Q_A_Prob
    rouge = rouge_l_recall(greedy_answers(model, tok, prompts, max_new_tokens=200), answers).mean()
    para = qa_probability(answer_logprobs(model, tok, prompts, paraphrases))
    pert = np.stack([qa_probability(answer_logprobs(model, tok, prompts, p)) for p in perturbed_sets], 1)
    ratios = truth_ratios(para, pert)
    truth_ratio_score(ratios, "closer_to_1_better")                         # forget_truth_ratio
    forget_quality(ratios, retain_model_ratios)                             # KS-test p-value
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch

EPS = 1e-10  # open-unlearning's guard in every ratio; kept so the numbers match its logs

# The nine values open-unlearning's model_utility takes the harmonic mean of (its metric names).
MODEL_UTILITY_KEYS = (
    "retain_Q_A_Prob", "retain_Q_A_ROUGE", "retain_Truth_Ratio",
    "ra_Q_A_Prob_normalised", "ra_Q_A_ROUGE", "ra_Truth_Ratio",
    "wf_Q_A_Prob_normalised", "wf_Q_A_ROUGE", "wf_Truth_Ratio",
)
TRUTH_RATIO_AGGREGATORS = ("closer_to_1_better", "true_better")


# ---------------------------------------------------------------------------------------------- numbers

def qa_probability(answer_logprobs: Sequence[np.ndarray]) -> np.ndarray:
    """Length-normalised answer probability per item: ``p = exp(mean_t log p(a_t | q, a_<t))``.

    This is open-unlearning's ``probability`` (``exp(-average NLL)`` over the answer's labelled tokens);
    the reported value (e.g. ``forget_Q_A_Prob``) is the mean of ``p`` over items.
    """
    out = np.empty(len(answer_logprobs))
    for i, lp in enumerate(answer_logprobs):
        lp = np.asarray(lp, dtype=np.float64)
        if lp.size == 0:
            raise ValueError(f"qa_probability: item {i} has no answer tokens")
        out[i] = np.exp(lp.mean())
    return out


def probability_with_options(correct: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """Probability of the correct answer among the options, per item: ``p_c / (p_c + sum_j p_wj + 1e-10)``.

    ``correct`` holds length-normalised probabilities (:func:`qa_probability`) of shape ``[n_items]``,
    ``wrong`` those of the perturbed (false) answers, ``[n_items, n_wrong]``. This is open-unlearning's
    ``probability_w_options``, which TOFU uses as the real-authors and world-facts "probability"
    (``ra_Q_A_Prob_normalised``, ``wf_Q_A_Prob_normalised``: the mean over items).
    """
    correct, wrong = _per_item(correct, "correct"), _options(wrong, len(correct), "wrong")
    return correct / (correct + wrong.sum(axis=1) + EPS)


def rouge_l_recall(generations: list[str], references: list[str]) -> np.ndarray:
    """ROUGE-L recall per item: ``LCS(generation, reference) / len(reference)`` in tokens.

    Scored with the ``rouge_score`` package as open-unlearning's ``rouge`` metric configures it
    (``RougeScorer(["rougeL"], use_stemmer=True)``, ``score(target=reference, prediction=generation)``,
    ``rouge_type: rougeL_recall``): lower-cased alphanumeric tokens, Porter-stemmed.
    """
    from rouge_score import rouge_scorer

    if len(generations) != len(references):
        raise ValueError(f"rouge_l_recall: {len(generations)} generations for {len(references)} references")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return np.array([scorer.score(ref, gen)["rougeL"].recall for gen, ref in zip(generations, references, strict=True)],
                    dtype=np.float64)


def truth_ratios(paraphrased: np.ndarray, perturbed: np.ndarray) -> np.ndarray:
    """Truth ratio per item: ``r = gmean_j(p_pert_j) / (p_para + 1e-10)``.

    Inputs are length-normalised probabilities: ``paraphrased`` ``[n_items]`` (or ``[n_items, k]``,
    reduced the same way) and ``perturbed`` ``[n_items, n_perturbed]``. open-unlearning's
    ``truth_ratio`` averages the per-answer *average NLLs* across the perturbed answers and
    exponentiates, so the numerator is the **geometric** mean of the perturbed probabilities (an
    arithmetic mean in log space), as in TOFU's Truth Ratio (Maini et al., 2024). The forget and retain
    sets use the paraphrased answer as the denominator; real authors and world facts, which have no
    paraphrase, use the original answer (open-unlearning's ``ra_Truth_Ratio``/``wf_Truth_Ratio``).
    """
    para = _per_item(paraphrased, "paraphrased", reduce=True)
    pert = _options(perturbed, len(para), "perturbed")
    return _geometric_mean(pert) / (para + EPS)


def truth_ratio_score(ratios: np.ndarray, aggregator: str) -> float:
    """Aggregate truth ratios ``r`` the way open-unlearning's ``truth_ratio`` metric does.

    - ``"closer_to_1_better"`` (forget set): ``mean(min(r, 1 / (r + 1e-10)))``; 1 when the model finds
      the paraphrase and the perturbations equally likely, as a model that never saw the data should.
    - ``"true_better"`` (retain, real-authors, world-facts sets): ``mean(max(0, 1 - r))``; high when the
      true answer is much more likely than the false ones.
    """
    r = np.asarray(ratios, dtype=np.float64)
    if aggregator == "closer_to_1_better":
        return float(np.mean(np.minimum(r, 1.0 / (r + EPS))))
    if aggregator == "true_better":
        return float(np.mean(np.maximum(0.0, 1.0 - r)))
    known = ", ".join(TRUTH_RATIO_AGGREGATORS)
    raise ValueError(f"truth_ratio_score: unknown aggregator {aggregator!r} (known: {known})")


def model_utility(values: Mapping[str, float]) -> float:
    """Harmonic mean of the nine utility values: ``9 / sum_k 1 / v_k`` over :data:`MODEL_UTILITY_KEYS`.

    The retain, real-authors (``ra``) and world-facts (``wf``) sets, each scored by probability, ROUGE-L
    recall and truth ratio (``true_better``), as in TOFU's Model Utility and open-unlearning's
    ``model_utility`` (``hm_aggregate``). Any zero gives 0. Other keys in ``values`` are ignored.
    """
    vals = []
    for key in MODEL_UTILITY_KEYS:
        if key not in values:
            raise ValueError(f"model_utility: missing {key!r} (needs {', '.join(MODEL_UTILITY_KEYS)})")
        v = float(values[key])
        if not v >= 0.0:  # also catches NaN
            raise ValueError(f"model_utility: {key!r} is {v}, not a non-negative number")
        vals.append(v)
    if min(vals) == 0.0:
        return 0.0
    return len(vals) / sum(1.0 / v for v in vals)


def forget_quality(unlearned_forget_ratios: np.ndarray, retain_model_forget_ratios: np.ndarray) -> float:
    """p-value of the two-sample Kolmogorov-Smirnov test between two models' forget-set truth ratios.

    TOFU's Forget Quality (Maini et al., 2024) and open-unlearning's ``forget_quality``/``ks_test``: the
    unlearned model's per-item forget truth ratios against those of the model trained on the retain set
    only, ``scipy.stats.ks_2samp(...).pvalue`` (exact for small samples). Older open-unlearning code
    tests ``1 / (r + 1e-10)`` instead of ``r``; the KS statistic depends only on the order of the pooled
    values, which that map reverses, so the p-value is the same.
    """
    from scipy.stats import ks_2samp

    a = np.asarray(unlearned_forget_ratios, dtype=np.float64)
    b = np.asarray(retain_model_forget_ratios, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("forget_quality: both samples need at least one truth ratio")
    return float(ks_2samp(a, b).pvalue)


def min_k_scores(token_logprobs: Sequence[np.ndarray], k: float = 0.4) -> np.ndarray:
    """Min-K% Prob score per item: the mean of the lowest ``max(1, floor(k * n))`` of its n token log-probs.

    open-unlearning's ``mia_min_k`` (Shi et al., 2024) with its TOFU setting ``k: 0.4`` (the attack's own
    default is 0.2); the count is rounded down but is at least one token. Sign: this returns the mean
    log-prob, so *higher means more likely a member*; open-unlearning stores its negation (a loss).
    open-unlearning feeds it the answer's labelled tokens without the last one (the EOS its collator
    appends); callers that scored answers with ``append_eos=True`` pass ``lp[:-1]`` to match.
    """
    if not 0.0 < k <= 1.0:
        raise ValueError(f"min_k_scores: k must be in (0, 1], got {k}")
    out = np.empty(len(token_logprobs))
    for i, lp in enumerate(token_logprobs):
        lp = np.asarray(lp, dtype=np.float64)
        if lp.size == 0:
            raise ValueError(f"min_k_scores: item {i} has no tokens")
        n_low = max(1, int(lp.size * k))
        out[i] = np.sort(lp)[:n_low].mean()
    return out


def mia_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """ROC AUC of telling members (e.g. the forget set) from non-members (the holdout set) by score.

    Convention: scores are higher for text the model finds more likely (as :func:`min_k_scores`), and
    ``sklearn.metrics.roc_auc_score`` gets label 1 for members. The AUC is 1 when every member is more
    likely than every non-member, which is open-unlearning's convention for its MIA metrics (it labels
    the forget set 0 and scores by loss, the same AUC).
    """
    from sklearn.metrics import roc_auc_score

    members = np.asarray(member_scores, dtype=np.float64).ravel()
    others = np.asarray(nonmember_scores, dtype=np.float64).ravel()
    if members.size == 0 or others.size == 0:
        raise ValueError("mia_auc: needs at least one member and one non-member score")
    labels = np.concatenate([np.ones(members.size), np.zeros(others.size)])
    return float(roc_auc_score(labels, np.concatenate([members, others])))


def _per_item(values: np.ndarray, name: str, reduce: bool = False) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if reduce and arr.ndim == 2:
        return _geometric_mean(arr)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected one value per item (shape [n_items]), got shape {arr.shape}")
    return arr


def _options(values: np.ndarray, n_items: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]  # one option per item
    if arr.ndim != 2 or arr.shape[0] != n_items or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected shape [{n_items}, n_options], got {arr.shape}")
    return arr


def _geometric_mean(probs: np.ndarray) -> np.ndarray:
    """Row-wise ``exp(mean(log p))``; a zero probability gives 0 without a warning."""
    with np.errstate(divide="ignore"):
        return np.exp(np.log(probs).mean(axis=1))


# ---------------------------------------------------------------------------------------------- models

def answer_logprobs(model, tokenizer, prompts: list[str], answers: list[str], *, batch_size: int = 16,
                    add_bos: bool = False, append_eos: bool = False) -> list[np.ndarray]:
    """Log-probabilities of each answer's tokens given its prompt (teacher forcing), one array per item.

    Prompt and answer are tokenized separately without special tokens and their ids concatenated, so
    the answer tokens are exactly those after the prompt's (tokenizing ``prompt + answer`` as one string
    could merge tokens across the boundary). ``add_bos`` prepends the tokenizer's BOS id: prompts are
    taken as fully formatted strings, so nothing is added unless asked (a chat template usually writes
    its own BOS text, which tokenizes to the BOS id). ``append_eos`` adds the EOS id after the answer, as
    open-unlearning's collator does, so the EOS prediction counts towards the probability.

    Batches are right-padded with an attention mask (pads come after every real token, so a causal
    model's real positions are unchanged) and log-softmaxed in fp32, on the model's device.
    """
    if len(prompts) != len(answers):
        raise ValueError(f"answer_logprobs: {len(prompts)} prompts for {len(answers)} answers")
    items = [_answer_item(tokenizer, p, a, add_bos, append_eos) for p, a in zip(prompts, answers, strict=True)]
    return pair_logprobs(model, items, pad_token_id(tokenizer), batch_size=batch_size)


def pair_logprobs(model, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int, *,
                  batch_size: int = 16) -> list[np.ndarray]:
    """:func:`answer_logprobs` on token ids: per (prompt ids, answer ids) pair, the answer tokens' log-probs."""
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    with _eval_mode(model), torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            ids, mask = _pad([list(p) + list(a) for p, a in chunk], pad_id, left=False)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for row, (prompt_ids, answer_ids) in enumerate(chunk):
                # position t predicts token t + 1: the answer's tokens are predicted from p-1 .. p+a-2
                p, a = len(prompt_ids), len(answer_ids)
                logp = torch.log_softmax(logits[row, p - 1:p + a - 1].float(), dim=-1)
                target = torch.tensor(answer_ids, device=logp.device)
                out.append(logp.gather(1, target[:, None])[:, 0].cpu().numpy().astype(np.float64))
    return out


def greedy_answers(model, tokenizer, prompts: list[str], *, max_new_tokens: int, batch_size: int = 16,
                   add_bos: bool = False) -> list[str]:
    """Greedy continuations of each prompt, decoded without special tokens and stripped.

    Batches are left-padded with an attention mask and decoded by ``model.generate(do_sample=False)``;
    prompts are tokenized as in :func:`answer_logprobs`. Each continuation is cut at its first EOS (the
    tokenizer's or the model's generation config's), so what generate pads after it never reaches the text.
    """
    encoded = [_encode(tokenizer, p, add_bos, "prompt") for p in prompts]
    rows = greedy_ids(model, encoded, pad_token_id(tokenizer), stop_token_ids(model, tokenizer), max_new_tokens=max_new_tokens,
                      batch_size=batch_size)
    return [tokenizer.decode(row, skip_special_tokens=True).strip() for row in rows]


def greedy_ids(model, prompts: Sequence[list[int]], pad_id: int, stops: set[int], *, max_new_tokens: int,
               batch_size: int = 16) -> list[list[int]]:
    """:func:`greedy_answers` on token ids: each prompt's greedy continuation, cut before its first stop token."""
    device = next(model.parameters()).device
    out: list[list[int]] = []
    with _eval_mode(model), torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            ids, mask = _pad([list(p) for p in prompts[start:start + batch_size]], pad_id, left=True)
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                                 max_new_tokens=max_new_tokens, pad_token_id=pad_id)
            for row in gen[:, ids.shape[1]:].tolist():
                out.append(row[:next((i for i, t in enumerate(row) if t in stops), len(row))])
    return out


def _encode(tokenizer, text: str, add_bos: bool, what: str) -> list[int]:
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if add_bos:
        if tokenizer.bos_token_id is None:
            raise ValueError("add_bos: the tokenizer has no BOS token")
        ids = [tokenizer.bos_token_id, *ids]
    if not ids:
        raise ValueError(f"{what} {text!r} tokenizes to nothing")
    return ids


def _answer_item(tokenizer, prompt: str, answer: str, add_bos: bool, append_eos: bool):
    prompt_ids = _encode(tokenizer, prompt, add_bos, "prompt")  # needs >= 1 token to predict the answer from
    answer_ids = list(tokenizer(answer, add_special_tokens=False)["input_ids"])
    if append_eos:
        if tokenizer.eos_token_id is None:
            raise ValueError("append_eos: the tokenizer has no EOS token")
        if not answer_ids or answer_ids[-1] != tokenizer.eos_token_id:
            answer_ids.append(tokenizer.eos_token_id)
    if not answer_ids:
        raise ValueError(f"answer {answer!r} tokenizes to nothing")
    return prompt_ids, answer_ids


def _pad(seqs: list[list[int]], pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        span = slice(width - len(s), width) if left else slice(0, len(s))
        ids[row, span] = torch.tensor(s, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


def pad_token_id(tokenizer) -> int:
    """The pad id (masked out, so its value never matters); EOS or 0 for tokenizers without one."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


def stop_token_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(config_eos if isinstance(config_eos, list) else [config_eos])
    return {int(i) for i in ids if i is not None}


@contextmanager
def _eval_mode(model):
    """Evaluate with dropout off, then give the model back in the mode it came in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
