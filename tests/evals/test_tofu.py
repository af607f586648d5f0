"""The TOFU evaluation (undo.evals.tofu, App. F): open-unlearning's metrics of one model, scored in the prompt format
its finetuning data recorded, checked against an independent computation from the model's logits."""

import json
import math

import numpy as np
import pytest
import torch

from tests.stages.helpers import run_smoke, write_tofu_configs
from undo.config import Ref
from undo.data.qa import PromptFormat, encode_pair
from undo.evals import EvalConfig, make_evaluator
from undo.evals.tofu import TofuEvalConfig
from undo.evals.tofu_metrics import MODEL_UTILITY_KEYS
from undo.models import load_model
from undo.stages.common import artifact_tokenizer


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """The artifacts a TOFU evaluation reads (generated items, the qa dataset) and a tiny model, by config name."""
    tmp = tmp_path_factory.mktemp("tofu_eval")
    write_tofu_configs(tmp)
    nodes = run_smoke(tmp, "model.yaml")
    return {n.path.name: n.artifact.path for n in nodes}


def evaluator(upstream, **settings):
    settings = {"items": Ref("tofu.yaml"), "format_from": Ref("qa_full.yaml"), "max_items": 5, "max_new_tokens": 4,
                **settings}
    cfg = EvalConfig(kind="tofu", tofu=TofuEvalConfig(**settings))
    tokenizer = artifact_tokenizer(upstream["qa_full.yaml"])
    return make_evaluator(cfg, tokenizer, "cpu", lambda ref: upstream[str(ref)]), tokenizer


def by_hand(model, tokenizer, items, field="answer"):
    """Mean over items of exp(mean log-prob of the answer tokens), from one unpadded forward pass per item."""
    probs = []
    for item in items:
        prompt, answer = encode_pair(tokenizer, PromptFormat(), item["question"], item[field])
        ids = torch.tensor([prompt + answer])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
        picked = [logp[len(prompt) - 1 + j, t].item() for j, t in enumerate(answer)]
        probs.append(math.exp(sum(picked) / len(picked)))
    return float(np.mean(probs))


def test_the_metrics_match_an_independent_computation(upstream):
    evaluate, tokenizer = evaluator(upstream)
    model = load_model(upstream["model.yaml"] / "model")
    out = evaluate(model)
    items = [json.loads(line) for line in (upstream["tofu.yaml"] / "forget10_perturbed.jsonl").open()][:5]
    retain = [json.loads(line) for line in (upstream["tofu.yaml"] / "retain_perturbed.jsonl").open()][:5]
    assert out["forget_Q_A_Prob"] == pytest.approx(by_hand(model, tokenizer, items), rel=1e-5)
    assert out["retain_Q_A_Prob"] == pytest.approx(by_hand(model, tokenizer, retain), rel=1e-5)
    values = [out[k] for k in MODEL_UTILITY_KEYS]
    expected = 0.0 if min(values) == 0 else len(values) / sum(1 / v for v in values)
    assert out["model_utility"] == pytest.approx(expected)
    assert out["retain"] == out["model_utility"] and out["forget"] == out["forget_Q_A_Prob"]
    assert 0.0 <= out["mia_min_k"] <= 1.0 and 0.0 <= out["forget_truth_ratio"] <= 1.0
    assert "forget_quality" not in out            # no retain-only model named


def test_forget_alone_and_without_generation(upstream):
    evaluate, _ = evaluator(upstream, rouge=False, holdout_split=None)
    model = load_model(upstream["model.yaml"] / "model")
    out = evaluate(model, roles=("forget",))
    full = evaluate(model)
    assert set(out) == set(full), "an unscored role keeps its keys (NaN), so relearning curves align"
    assert all(math.isnan(out[k]) for k in evaluate.metric_names("retain")) and math.isnan(out["retain"])
    assert "mia_min_k" not in out               # no holdout split named
    assert out["forget_Q_A_Prob"] == full["forget_Q_A_Prob"]
    assert evaluate.metric_names("forget") == ["forget_Q_A_Prob", "forget_Q_A_ROUGE", "forget_truth_ratio"]
    only_retain = evaluate(model, roles=("retain",))
    assert set(only_retain) == set(full) and math.isnan(only_retain["forget"])
    assert only_retain["retain_Q_A_Prob"] == full["retain_Q_A_Prob"]
    assert math.isnan(out["forget_Q_A_ROUGE"])
    assert math.isnan(evaluate(model)["model_utility"])   # utility needs the ROUGE terms


def test_forget_quality_against_the_same_model_is_one(upstream):
    evaluate, _ = evaluator(upstream, retain_model=Ref("model.yaml"))
    assert evaluate(load_model(upstream["model.yaml"] / "model"))["forget_quality"] == pytest.approx(1.0)


def test_a_format_source_that_is_not_a_qa_dataset_is_one_line(upstream):
    with pytest.raises(ValueError, match=r"^eval.tofu.format_from: .* records no prompt format \(not a qa dataset\)$"):
        evaluator({**upstream, "qa_full.yaml": upstream["model.yaml"]})


def test_a_retain_reference_that_is_not_a_model_is_one_line(upstream):
    with pytest.raises(FileNotFoundError, match=r"^eval.tofu.retain_model: .* holds no model \(forget_quality needs"):
        evaluator(upstream, retain_model=Ref("tofu.yaml"))
