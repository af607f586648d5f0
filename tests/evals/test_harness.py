"""lm-evaluation-harness as the paper-scale scorer (undo.evals.harness): it scores exactly as the kit's own
multiple-choice scorer does, the evaluator's settings are validated, and the registered evaluator runs on local
tasks offline."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

from undo.config import ConfigError
from undo.evals import EvalConfig, higher_is_better, make_evaluator
from undo.evals.harness import HarnessEvalConfig, evaluate_tasks, task_manager, write_task
from undo.evals.multiple_choice import build_prompts, choice_logprobs, load_items, score_choices
from undo.models import BOS_ID, ModelConfig, build_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

# A wide head_dim with query_pre_attn_scalar=1 sharpens the random model's attention enough that its preferred letter
# changes from item to item (with the usual 16/16 every item gets " B"), so the per-item choices compared below are
# not all the same.
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1, head_dim=64, query_pre_attn_scalar=1, max_position_embeddings=1024,
                   sliding_window=1024, initializer_range=0.2)
BIO = "The following are multiple choice questions (with answers) about biology.\n\n"

# The harness's wmdp task template (its `wmdp/_default_template_yaml`), pointed at a local JSONL file.
WMDP_STYLE = """\
task: toy_wmdp
dataset_path: json
dataset_kwargs:
  data_files:
    test: {test}
  cache_dir: {cache}
test_split: test
training_split: null
validation_split: null
num_fewshot: 0
output_type: multiple_choice
doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choices[0]}}}}\\nB. {{{{choices[1]}}}}\\nC. {{{{choices[2]}}}}\\nD. {{{{choices[3]}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
description: "The following are multiple choice questions (with answers) about biology.\\n\\n"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""


def make_items(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(1, 99), rng.randint(1, 99)
        choices = [str(a + b)] + [str(a + b + d) for d in rng.sample([-11, -2, 1, 3, 10, 20], 3)]
        rng.shuffle(choices)
        rows.append({"question": f"Item {i}: what is {a} + {b}?", "choices": choices,
                     "answer": choices.index(str(a + b)), "subject": "arithmetic"})
    return rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def model():
    from undo.tokenizer import byte_tokenizer

    return build_model(TINY, vocab_size=len(byte_tokenizer()), seed=0)


@pytest.fixture
def task_dir(tmp_path):
    """Local tasks: `toy_wmdp` (the WMDP template, written out), `toy_cloze` (choices scored as text) and the
    MMLU-style group `toy_mmlu` of two subjects with dev splits (first_n few-shot sampler)."""
    tasks, cache = tmp_path / "tasks", tmp_path / "hf_datasets"
    tasks.mkdir()
    test = write_jsonl(tmp_path / "bio.jsonl", make_items(20, seed=0))
    (tasks / "toy_wmdp.yaml").write_text(WMDP_STYLE.format(test=test, cache=cache))
    write_task(tasks, "toy_cloze", test, fmt="continuation", description=BIO, num_fewshot=0, cache_dir=cache)
    for k, subject in enumerate(("anatomy", "virology")):
        write_task(tasks, f"toy_mmlu_{subject}", write_jsonl(tmp_path / f"{subject}.jsonl", make_items(10, 10 + k)),
                   dev=write_jsonl(tmp_path / f"{subject}_dev.jsonl", make_items(5, 20 + k)), cache_dir=cache,
                   description=f"The following are multiple choice questions (with answers) about {subject}.\n\n")
    (tasks / "toy_mmlu.yaml").write_text(
        "group: toy_mmlu\ntask: [toy_mmlu_anatomy, toy_mmlu_virology]\n"
        "aggregate_metric_list:\n  - metric: acc\n    weight_by_size: true\nmetadata:\n  version: 1\n")
    return tasks


def kit_prompts(tmp_path, task: str, shots: int, limit: float):
    """The same items through the kit's scorer: {leaf task: prompts}, in the harness's task and item order."""
    if task == "toy_mmlu":
        out = {}
        for subject in ("anatomy", "virology"):
            items = load_items(tmp_path / f"{subject}.jsonl")
            out[f"toy_mmlu_{subject}"] = build_prompts(
                items[:math.ceil(len(items) * limit)], "letters", shots=load_items(tmp_path / f"{subject}_dev.jsonl")[:shots],
                description=f"The following are multiple choice questions (with answers) about {subject}.\n\n")
        return out
    fmt = "letters" if task == "toy_wmdp" else "continuation"
    return {task: build_prompts(load_items(tmp_path / "bio.jsonl"), fmt, description=BIO)}


@pytest.mark.parametrize(("task", "shots", "limit", "bos"), [
    ("toy_wmdp", 0, 1.0, True),      # WMDP: letters, zero-shot, every item
    ("toy_cloze", 0, 1.0, True),     # choices scored as text
    ("toy_cloze", 0, 1.0, False),    # without BOS on both sides
    ("toy_mmlu", 3, 0.5, True),      # MMLU: a group, first_n few-shot from dev, the first half of each subject
])
def test_the_harness_scores_every_item_as_the_kit_does(model, byte_tok, task_dir, tmp_path, task, shots, limit, bos):
    result = evaluate_tasks(model, byte_tok, [task], num_fewshot=shots, limit=limit, include_path=task_dir,
                            batch_size=16, bos=bos, log_samples=True)
    expected = kit_prompts(tmp_path, task, shots, limit)
    assert set(result.samples) == set(expected) and all(result.num_fewshot[t] == shots for t in expected)
    chosen, correct = [], []
    for leaf, prompts in expected.items():
        kit = choice_logprobs(model, byte_tok, prompts, bos_id=BOS_ID if bos else None, batch_size=16)
        samples = result.samples[leaf]
        assert [s.doc_id for s in samples] == list(range(len(prompts)))
        for prompt, sample, scores in zip(prompts, samples, kit, strict=True):
            assert sample.answer == prompt.answer
            assert sample.loglikelihoods == pytest.approx(scores, abs=1e-4)
            best = max(range(len(scores)), key=lambda i: (scores[i], -i))
            assert sample.choice == best
            # the pick is decided by the model, not by rounding: the runner-up is far behind
            assert sorted(scores)[-1] - sorted(scores)[-2] > 1e-3
            chosen.append(best)
            correct.append(best == prompt.answer)  # how score_choices counts an item
    assert len(set(chosen)) > 1  # not one letter for every item
    assert result.accuracy[task] == pytest.approx(sum(correct) / len(correct))


def test_a_limit_outside_0_1_is_refused_with_one_line_naming_the_key(tmp_path):
    f = tmp_path / "x.yaml"
    for key, value in (("retain_limit", 0), ("retain_limit", 1.5), ("retain_limit", -0.4), ("forget_limit", 2)):
        with pytest.raises(ConfigError) as err:
            EvalConfig.__coerce__({"kind": "harness", "harness": {key: value}}, file=f, key="eval")
        assert str(err.value) == (f"{f}: eval.harness.{key}: must be a fraction of each task's items in (0, 1] "
                                  f"(1: all items), got {float(value)!r}")
    with pytest.raises(ValueError, match=r"^retain_limit: must be a fraction .* got 0\.0$"):
        HarnessEvalConfig(retain_limit=0.0).validate()
    with pytest.raises(ValueError, match=r"^limit: .* got 3$"):
        evaluate_tasks(None, None, ["mmlu"], limit=3)
    cfg = EvalConfig.__coerce__({"kind": "harness", "harness": {"retain_limit": 1}}, file=f, key="eval")
    assert cfg.settings.retain_limit == 1 and cfg.settings == HarnessEvalConfig(retain_limit=1.0)
    # the paper's protocol is the default
    paper = HarnessEvalConfig()
    assert (paper.retain_task, paper.retain_fewshot, paper.retain_limit, paper.forget_task, paper.forget_fewshot,
            paper.forget_limit, paper.seed) == ("mmlu", 5, 0.4, "wmdp_bio", 0, 1.0, 1234)


def test_the_registered_evaluator_reports_retain_forget_and_named_accuracies(model, byte_tok, task_dir, tmp_path):
    cfg = EvalConfig.__coerce__(
        {"kind": "harness", "harness": {"retain_task": "toy_mmlu", "retain_fewshot": 2, "retain_limit": 0.5,
                                        "forget_task": "toy_wmdp", "include_path": str(task_dir),
                                        "batch_size": 8}},
        file=tmp_path / "x.yaml", key="eval")
    evaluate = make_evaluator(cfg, byte_tok, "cpu")
    model.train()
    torch.manual_seed(5)
    metrics = evaluate(model)
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(1))  # the harness reseeds; the caller's random state is restored
    assert model.training  # and the model is back in the mode it came in
    assert byte_tok("a")["input_ids"] == byte_tok("a", add_special_tokens=False)["input_ids"]  # HFLM got a BOS copy
    assert set(metrics) == {"retain", "forget", "mmlu_acc", "wmdp_acc"}
    retain = [c for prompts in kit_prompts(tmp_path, "toy_mmlu", 2, 0.5).values()
              for c in score_choices(model, byte_tok, prompts, bos_id=BOS_ID)]
    forget = score_choices(model, byte_tok, kit_prompts(tmp_path, "toy_wmdp", 0, 1.0)["toy_wmdp"], bos_id=BOS_ID)
    assert metrics["retain"] == metrics["mmlu_acc"] == pytest.approx(sum(retain) / len(retain))
    assert metrics["forget"] == metrics["wmdp_acc"] == pytest.approx(sum(forget) / len(forget))
    assert all(higher_is_better("harness", m) for m in metrics)
    with pytest.raises(ValueError, match="tasks: unknown harness task 'nope'"):
        evaluate_tasks(model, byte_tok, ["nope"], manager=task_manager(task_dir, ["toy_wmdp"]))


# --- the paper configs' route: harness tasks built from questions artifacts (App. D.2.1) ---------------------------

MMLU_SUBJECTS = {"anatomy": 7, "college_biology": 5}  # ceil(0.4 n): 3 and 2 items


def _hub_mmlu(split: str) -> list[dict]:
    """Rows in cais/mmlu's schema (config all): each subject's rows together, in the split's order."""
    counts = MMLU_SUBJECTS if split == "test" else {s: 6 for s in MMLU_SUBJECTS}
    rows = []
    for k, (subject, n) in enumerate(counts.items()):
        rows += [{**r, "question": f"{split} {subject} {r['question']}", "subject": subject}
                 for r in make_items(n, seed=(30 if split == "test" else 40) + k)]
    return rows


@pytest.fixture
def questions(tmp_path):
    """The questions stage, run offline on hub-schema files: MMLU as questions_mmlu.yaml takes it (the first 40% of
    every subject, five dev shots) and a WMDP-Bio-like benchmark labelled with the harness's subject."""
    from undo.pipeline import Graph, run_nodes
    from undo.store import Store

    test, dev = write_jsonl(tmp_path / "mmlu_test.jsonl", _hub_mmlu("test")), write_jsonl(tmp_path / "mmlu_dev.jsonl",
                                                                                          _hub_mmlu("dev"))
    wmdp = write_jsonl(tmp_path / "wmdp.jsonl", [{k: r[k] for k in ("question", "choices", "answer")}
                                                 for r in make_items(9, seed=50)])
    (tmp_path / "q_mmlu.yaml").write_text(
        f"stage: questions\nsource: hf\npath: json\nconfig_name: all\nsplit: test\n"
        f"data_files: {{test: [{test}], dev: [{dev}]}}\nfraction: 0.4\nfraction_pick: first\nshots_split: dev\n")
    (tmp_path / "q_wmdp.yaml").write_text(f"stage: questions\nsource: hf\npath: json\nconfig_name: wmdp-bio\n"
                                          f"data_files: {{test: [{wmdp}]}}\nsubject: biology\n")
    out = {}
    for name in ("q_mmlu.yaml", "q_wmdp.yaml"):
        (node,) = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / name])
        run_nodes([node], device="cpu", scale="smoke", echo=lambda *_: None)
        out[name] = node.artifact.path
    return out


def _paper_evaluators(tmp_path, questions, tok, **harness):
    """The harness and the kit's scorer as eval_harness.yaml and common.yaml configure them at paper scale."""
    description = "The following are multiple choice questions (with answers) about {subject}.\n\n"
    refs = {"retain": "q_mmlu.yaml", "forget": "q_wmdp.yaml"}
    settings = {"harness": {**refs, "retain_task": "mmlu", "forget_task": "wmdp", "retain_fewshot": 5,
                            "retain_limit": 1.0, "batch_size": 16, **harness},
                "multiple_choice": {**refs, "format": "letters", "retain_description": description,
                                    "retain_shots": 5, "forget_description": description, "batch_size": 16}}
    out = {}
    for kind, block in settings.items():
        cfg = EvalConfig.__coerce__({"kind": kind, kind: block}, file=tmp_path / "x.yaml", key="eval")
        out[kind] = make_evaluator(cfg, tok, "cpu", lambda ref: questions[Path(ref).name])
    return out["harness"], out["multiple_choice"]


def test_a_questions_artifact_is_scored_by_the_harness_item_for_item_as_by_the_kit(model, byte_tok, tmp_path,
                                                                                   questions):
    harness, kit = _paper_evaluators(tmp_path, questions, byte_tok)
    results = harness.results(model, log_samples=True)
    # the harness's layout: one subtask per subject under the group, the WMDP items as one subject
    assert set(results["retain"].samples) == {"mmlu_anatomy", "mmlu_college_biology"}
    assert set(results["forget"].samples) == {"wmdp_biology"}
    assert {leaf: len(s) for leaf, s in results["retain"].samples.items()} == {"mmlu_anatomy": 3,
                                                                                "mmlu_college_biology": 2}
    assert results["retain"].num_fewshot == {"mmlu_anatomy": 5, "mmlu_college_biology": 5}
    assert results["forget"].num_fewshot == {"wmdp_biology": 0}
    # the same items, the same log-likelihoods and the same pick as the kit's scorer, in the artifact's order
    for role, leaves in (("retain", ["mmlu_anatomy", "mmlu_college_biology"]), ("forget", ["wmdp_biology"])):
        samples = [s for leaf in leaves for s in results[role].samples[leaf]]
        prompts = kit.prompts[role]
        assert len(samples) == len(prompts) == {"retain": 5, "forget": 9}[role]
        scores = choice_logprobs(model, byte_tok, prompts, bos_id=BOS_ID, batch_size=16)
        for sample, prompt, kit_scores in zip(samples, prompts, scores, strict=True):
            assert sample.answer == prompt.answer
            assert sample.loglikelihoods == pytest.approx(kit_scores, abs=1e-4)
            assert sample.choice == max(range(4), key=lambda i: (kit_scores[i], -i))
    assert harness(model) == pytest.approx(kit(model))


def test_the_questions_stages_first_40_percent_is_what_lm_evals_limit_scores(model, byte_tok, tmp_path, questions):
    """questions_mmlu.yaml's `fraction: 0.4, fraction_pick: first` vs the harness's `limit=0.4` on whole subjects."""
    harness, _ = _paper_evaluators(tmp_path, questions, byte_tok)
    from_artifact = harness.results(model, ("retain",), log_samples=True)["retain"]
    whole = tmp_path / "whole"
    rows, dev = _hub_mmlu("test"), _hub_mmlu("dev")
    for subject in MMLU_SUBJECTS:  # the hub's per-subject tasks, every item
        write_task(whole, f"mmlu_{subject}", write_jsonl(tmp_path / f"all_{subject}.jsonl",
                                                         [r for r in rows if r["subject"] == subject]),
                   dev=write_jsonl(tmp_path / f"dev_{subject}.jsonl", [r for r in dev if r["subject"] == subject]),
                   description=f"The following are multiple choice questions (with answers) about "
                               f"{subject.replace('_', ' ')}.\n\n", cache_dir=tmp_path / "hf_whole")
    limited = evaluate_tasks(model, byte_tok, [f"mmlu_{s}" for s in MMLU_SUBJECTS], num_fewshot=5, limit=0.4,
                             include_path=whole, batch_size=16, log_samples=True)
    assert limited.samples == from_artifact.samples  # same items (3 of 7, 2 of 5), same order, same scores
    # and a harness limit on top of the questions stage's fraction would cut twice: refused
    with pytest.raises(ValueError, match=r"^retain_limit: 0\.4 would cut again the 0\.4 of every subject"):
        _paper_evaluators(tmp_path, questions, byte_tok, retain_limit=0.4)


def test_questions_tasks_refuse_what_the_harness_prompt_cannot_score(tmp_path):
    from undo.evals.harness import write_questions_task

    art = tmp_path / "art"
    art.mkdir()
    write_jsonl(art / "items.jsonl", [{"question": "q?", "choices": ["a", "b", "c", "d"], "answer": 0,
                                       "subject": "s"}])
    with pytest.raises(ValueError, match=r"^retain_fewshot: 5 solved examples wanted, but .*shots\.jsonl does not"):
        write_questions_task(tmp_path / "t", "mmlu", art, fewshot=5)
    write_jsonl(art / "shots.jsonl", [{"question": "q?", "choices": ["a", "b", "c", "d"], "answer": 0,
                                       "subject": "s"}] * 4)
    with pytest.raises(ValueError, match=r"^retain_fewshot: 5 solved examples wanted, subject 's' has 4 in "):
        write_questions_task(tmp_path / "t", "mmlu", art, fewshot=5)
    write_jsonl(art / "items.jsonl", [{"question": "q?", "choices": ["a", "b", "c"], "answer": 0}])
    with pytest.raises(ValueError, match=r"items\.jsonl: item 1: the harness's A-D prompt needs four choices, got 3$"):
        write_questions_task(tmp_path / "t", "wmdp", art)
