"""TOFU metrics (open-unlearning's definitions): each formula against a hand computation, and the
model-facing helpers against unpadded one-item forward passes on tiny random models."""

import math

import numpy as np
import pytest

from undo.evals import tofu_metrics as tm

# ---------------------------------------------------------------------------------------------- numbers


def test_qa_probability_is_exp_of_mean_token_logprob():
    lp = [np.log([0.5, 0.125]), np.array([-1.0])]
    # item 0: exp((ln 0.5 + ln 0.125) / 2) = sqrt(0.0625) = 0.25; item 1: e^-1
    np.testing.assert_allclose(tm.qa_probability(lp), [0.25, math.exp(-1.0)], rtol=1e-12)
    with pytest.raises(ValueError, match="item 1"):
        tm.qa_probability([np.array([-1.0]), np.array([])])


def test_probability_with_options_normalises_over_correct_and_wrong():
    correct = np.array([0.5, 0.2])
    wrong = np.array([[0.1, 0.15], [0.2, 0.4]])
    # 0.5 / (0.5 + 0.25) = 2/3 ;  0.2 / (0.2 + 0.6) = 1/4
    np.testing.assert_allclose(tm.probability_with_options(correct, wrong), [2 / 3, 0.25], rtol=1e-9)
    with pytest.raises(ValueError, match="wrong"):
        tm.probability_with_options(correct, np.ones((3, 2)))


def test_rouge_l_recall_is_lcs_over_reference_length_with_stemming():
    refs = ["the cat sat on the mat", "she writes novels"]
    gens = ["the cat on a mat", "He wrote a novel."]
    # item 0: LCS "the cat on mat" = 4 of the reference's 6 tokens
    # item 1: stems {she, write, novel} vs {he, wrote, a, novel}: LCS "novel" = 1 of 3
    # (without the stemmer "novels" != "novel" and the recall would be 0)
    np.testing.assert_allclose(tm.rouge_l_recall(gens, refs), [4 / 6, 1 / 3], rtol=1e-12)
    with pytest.raises(ValueError):
        tm.rouge_l_recall(gens[:1], refs)


def test_truth_ratios_use_the_geometric_mean_of_perturbed_probabilities():
    para = np.array([0.5, 0.1])
    pert = np.array([[0.1, 0.4], [0.2, 0.2]])
    # item 0: sqrt(0.1 * 0.4) = 0.2, / 0.5 = 0.4 (the arithmetic mean 0.25 would give 0.5)
    # item 1: sqrt(0.2 * 0.2) = 0.2, / 0.1 = 2.0
    ratios = tm.truth_ratios(para, pert)
    np.testing.assert_allclose(ratios, [0.4, 2.0], rtol=1e-8)
    # closer_to_1_better: mean(min(0.4, 2.5), min(2.0, 0.5)) = (0.4 + 0.5) / 2
    assert tm.truth_ratio_score(ratios, "closer_to_1_better") == pytest.approx(0.45, rel=1e-8)
    # true_better: mean(max(0, 1 - 0.4), max(0, 1 - 2)) = (0.6 + 0) / 2
    assert tm.truth_ratio_score(ratios, "true_better") == pytest.approx(0.3, rel=1e-8)
    with pytest.raises(ValueError, match="prob_mean"):
        tm.truth_ratio_score(ratios, "prob_mean")


def test_model_utility_is_the_harmonic_mean_of_nine_values():
    values = dict.fromkeys(tm.MODEL_UTILITY_KEYS, 0.5) | {"wf_Truth_Ratio": 0.25, "forget_Q_A_Prob": 0.9}
    # 9 / (8 * 1/0.5 + 1/0.25) = 9 / 20; the extra forget key is ignored
    assert tm.model_utility(values) == pytest.approx(0.45, rel=1e-12)
    assert tm.model_utility(values | {"ra_Q_A_ROUGE": 0.0}) == 0.0
    missing = {k: v for k, v in values.items() if k != "ra_Truth_Ratio"}
    with pytest.raises(ValueError, match="missing 'ra_Truth_Ratio'") as err:
        tm.model_utility(missing)
    assert "\n" not in str(err.value)


def test_forget_quality_is_the_ks_p_value():
    same = np.array([0.3, 0.7, 1.2])
    assert tm.forget_quality(same, same) == pytest.approx(1.0)
    # Fully separated samples: D = 1, reached by 2 of the C(n+m, n) equally likely arrangements
    # of the pooled order (all of one sample first), so the exact p-value is 2 / C(n+m, n).
    assert tm.forget_quality([0.1, 0.2], [0.8, 0.9]) == pytest.approx(2 / 6, rel=1e-9)  # C(4, 2) = 6
    assert tm.forget_quality([0.1, 0.2, 0.3], [0.7, 0.8, 0.9]) == pytest.approx(2 / 20, rel=1e-9)  # C(6, 3)


def test_min_k_scores_average_the_lowest_fraction_rounded_down_at_least_one():
    lp = [np.array([-1.0, -2.0, -3.0, -4.0, -5.0]),  # k=0.4: floor(2.0) = 2 tokens -> (-5 - 4) / 2
          np.array([-0.5, -3.0]),                      # floor(0.8) = 0 -> at least 1 token -> -3
          np.array([-7.0, -1.0, -6.0, -2.0, -5.0, -3.0, -4.0])]  # floor(2.8) = 2 -> (-7 - 6) / 2
    np.testing.assert_allclose(tm.min_k_scores(lp), [-4.5, -3.0, -6.5])
    np.testing.assert_allclose(tm.min_k_scores(lp[:1], k=0.2), [-5.0])  # floor(1.0) = 1
    with pytest.raises(ValueError):
        tm.min_k_scores(lp, k=0.0)


def test_mia_auc_is_one_when_members_are_more_likely():
    members, others = np.array([-0.1, -0.2]), np.array([-2.0, -3.0])
    assert tm.mia_auc(members, others) == 1.0
    assert tm.mia_auc(others, members) == 0.0
    # pairs (member, non-member): 3>2, 3>0, 1<2, 1>0 -> 3 of 4 ordered correctly
    assert tm.mia_auc([3.0, 1.0], [2.0, 0.0]) == pytest.approx(0.75)


# ---------------------------------------------------------------------------------------------- models

PROMPTS = ["Q: who wrote it?\nA:", "Q: x\nA:", "Q: where was the author born, and when?\nA:"]
ANSWERS = [" Jane Doe", " a very long answer with many tokens", " Paris"]


def _tiny_gpt2(vocab_size: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=vocab_size, n_positions=128, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=2, eos_token_id=1)  # the byte tokenizer's ids, not GPT-2's 50256
    return GPT2LMHeadModel(cfg)


@pytest.fixture(params=["gemma2", "gpt2"])
def tiny_lm(request, tiny_model, byte_tok):
    return tiny_model if request.param == "gemma2" else _tiny_gpt2(len(byte_tok))


def test_answer_logprobs_match_an_unpadded_full_sequence_computation(tiny_lm, byte_tok):
    import torch

    tiny_lm.train()  # the helper must evaluate with dropout off and restore the mode
    batched = tm.answer_logprobs(tiny_lm, byte_tok, PROMPTS, ANSWERS, batch_size=3)
    assert tiny_lm.training
    single = tm.answer_logprobs(tiny_lm, byte_tok, PROMPTS, ANSWERS, batch_size=1)
    tiny_lm.eval()
    for prompt, answer, got_b, got_s in zip(PROMPTS, ANSWERS, batched, single, strict=True):
        p_ids = byte_tok(prompt, add_special_tokens=False)["input_ids"]
        a_ids = byte_tok(answer, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = tiny_lm(input_ids=torch.tensor([p_ids + a_ids])).logits[0].float()
        full = torch.log_softmax(logits, dim=-1)
        expected = [full[len(p_ids) + j - 1, tok].item() for j, tok in enumerate(a_ids)]
        np.testing.assert_allclose(got_b, expected, atol=1e-5)
        np.testing.assert_allclose(got_s, got_b, atol=1e-5)


def test_answer_logprobs_bos_and_eos_options(tiny_model, byte_tok):
    plain = tm.answer_logprobs(tiny_model, byte_tok, PROMPTS[:1], ANSWERS[:1])[0]
    with_eos = tm.answer_logprobs(tiny_model, byte_tok, PROMPTS[:1], ANSWERS[:1], append_eos=True)[0]
    assert len(with_eos) == len(plain) + 1
    np.testing.assert_allclose(with_eos[:-1], plain, atol=1e-6)
    with_bos = tm.answer_logprobs(tiny_model, byte_tok, PROMPTS[:1], ANSWERS[:1], add_bos=True)[0]
    assert len(with_bos) == len(plain) and not np.allclose(with_bos, plain)
    with pytest.raises(ValueError, match="tokenizes to nothing"):
        tm.answer_logprobs(tiny_model, byte_tok, ["Q:"], [""])


def test_greedy_answers_do_not_depend_on_batching(tiny_lm, byte_tok):
    batched = tm.greedy_answers(tiny_lm, byte_tok, PROMPTS, max_new_tokens=6, batch_size=3)
    single = tm.greedy_answers(tiny_lm, byte_tok, PROMPTS, max_new_tokens=6, batch_size=1)
    assert batched == single
    assert all(text == text.strip() for text in batched)
