"""The kit's multiple-choice scorer (undo.evals.multiple_choice): item files, prompt formats, batched scoring."""

from __future__ import annotations

import json
import math

import pytest
import torch

from undo.evals.multiple_choice import (
    Item,
    ItemsError,
    MultipleChoiceEval,
    MultipleChoiceEvalConfig,
    build_prompts,
    choice_logprobs,
    encode_pair,
    load_items,
    score_choices,
)

ITEMS = [{"question": "Which organelle makes ATP?", "choices": ["Nucleus", "Mitochondrion", "Ribosome", "Golgi"],
          "answer": 1, "subject": "biology"},
         {"question": "2 + 2 = ?", "choices": ["3", "4"], "answer": 1}]


def write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_items_load_and_bad_lines_are_named_by_number(tmp_path):
    items = load_items(write(tmp_path / "ok.jsonl", ITEMS))
    assert items[0] == Item("Which organelle makes ATP?", ("Nucleus", "Mitochondrion", "Ribosome", "Golgi"), 1, "biology")
    assert items[1].subject is None
    cases = [({"question": "q", "choices": ["a", "b"]}, r"bad.jsonl:2: missing key 'answer'"),
             ({"question": "q", "choices": ["a", "b"], "answer": 2}, r"bad.jsonl:2: answer must be the index"),
             ({"question": "q", "choices": ["a"], "answer": 0}, r"bad.jsonl:2: choices must be a list of at least two"),
             ({"question": " ", "choices": ["a", "b"], "answer": 0}, r"bad.jsonl:2: question must be a non-empty"),
             ('{"question": "q",', r"bad.jsonl:2: not JSON \("),
             ({"question": "q", "choices": ["a", "b"], "answer": True}, r"bad.jsonl:2: answer must be the index")]
    for row, message in cases:
        with pytest.raises(ItemsError, match=message):
            load_items(write(tmp_path / "bad.jsonl", [ITEMS[0], row]))
    (tmp_path / "latin1.jsonl").write_bytes(json.dumps(ITEMS[1]).encode() + b"\n\xe9\n")
    with pytest.raises(ItemsError, match=r"latin1.jsonl:2: not UTF-8"):
        load_items(tmp_path / "latin1.jsonl")
    with pytest.raises(ItemsError, match="no items"):
        load_items(write(tmp_path / "empty.jsonl", [""]))


def test_letter_and_continuation_prompts_follow_the_harness_layout(tmp_path):
    items = load_items(write(tmp_path / "i.jsonl", ITEMS))
    description = "The following are multiple choice questions (with answers) about biology.\n\n"
    (letters,) = build_prompts(items[:1], "letters", description=description, shots=[items[1]])
    assert letters.context == (description + "2 + 2 = ?\nA. 3\nB. 4\nAnswer: B\n\n"
                               "Which organelle makes ATP?\nA. Nucleus\nB. Mitochondrion\nC. Ribosome\nD. Golgi\nAnswer:")
    assert letters.continuations == (" A", " B", " C", " D") and letters.answer == 1
    (cloze,) = build_prompts(items[1:], "continuation")
    assert cloze.context == "2 + 2 = ?\nAnswer:" and cloze.continuations == (" 3", " 4")
    with pytest.raises(ValueError, match="format: 'mcq'"):
        build_prompts(items, "mcq")


def test_trailing_context_spaces_move_into_the_continuation(byte_tok):
    ctx, cont = encode_pair(byte_tok, "Answer: ", "B", bos_id=2)
    assert ctx[0] == 2 and byte_tok.decode(ctx[1:]) == "Answer:" and byte_tok.decode(cont) == " B"
    ctx, cont = encode_pair(byte_tok, "Answer:", " B", bos_id=None)
    assert byte_tok.decode(ctx) == "Answer:" and byte_tok.decode(cont) == " B"


def test_batched_scores_equal_one_sequence_at_a_time(tiny_model, byte_tok, tmp_path):
    prompts = build_prompts(load_items(write(tmp_path / "i.jsonl", ITEMS)), "continuation")
    batched = choice_logprobs(tiny_model, byte_tok, prompts, bos_id=2, batch_size=3)
    for prompt, scores in zip(prompts, batched, strict=True):
        for continuation, score in zip(prompt.continuations, scores, strict=True):
            ctx, cont = encode_pair(byte_tok, prompt.context, continuation, 2)
            with torch.no_grad():
                logp = torch.log_softmax(tiny_model(input_ids=torch.tensor([ctx + cont])).logits[0], -1)
            alone = sum(float(logp[len(ctx) - 1 + i, t]) for i, t in enumerate(cont))
            assert score == pytest.approx(alone, abs=1e-4)
    # the correct choice counts when it scores highest; equal scores go to the first choice
    correct = score_choices(tiny_model, byte_tok, prompts, bos_id=2)
    assert correct == [max(range(len(s)), key=lambda i: (s[i], -i)) == p.answer for p, s in zip(prompts, batched, strict=True)]

    class Uniform(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            return type("Out", (), {"logits": torch.zeros(*input_ids.shape, 300)})()
    assert score_choices(Uniform(), byte_tok, prompts) == [p.answer == 0 for p in prompts]


def test_benchmarks_and_the_registered_evaluation_run_in_the_pipeline(tmp_path):
    """corpus -> bytes tokenizer -> dataset -> an untrained model scored on two generated benchmarks."""
    from undo.evals import higher_is_better
    from undo.pipeline import Graph, run_nodes
    from undo.store import Store

    files = {
        "corpus.yaml": "stage: corpus\nsource: {kind: knowledge, domains: [bio, general], entities: 4}\n",
        "tok.yaml": "stage: tokenizer\nkind: bytes\n",
        "data.yaml": "stage: dataset\ntokenizer: tok.yaml\nseq_len: 32\nparts: [{corpus: corpus.yaml, weight: 1.0}]\n",
        "wmdp.yaml": "stage: questions\nsource: knowledge\ndomains: [bio]\nentities: 4\n",
        "mmlu.yaml": "stage: questions\nsource: knowledge\ndomains: [general]\nentities: 4\nmax_items: 6\n",
        "init.yaml": "stage: init\ndata: data.yaml\nseed: 1\n"
                     "model: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2,\n"
                     "        num_key_value_heads: 1, head_dim: 16, query_pre_attn_scalar: 16,\n"
                     "        max_position_embeddings: 256, sliding_window: 256}\n"
                     "eval: {kind: multiple_choice, multiple_choice: {retain: mmlu.yaml, forget: wmdp.yaml, "
                     "format: continuation}}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    nodes = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / "init.yaml"])
    run_nodes(nodes, device="cpu", scale="smoke", echo=lambda *_: None)
    by_stage = {n.stage: n for n in nodes}
    wmdp = [n for n in nodes if n.stage == "questions" and n.path.name == "wmdp.yaml"][0]
    items = [json.loads(line) for line in (wmdp.artifact.path / "items.jsonl").open()]
    assert len(items) == 4 * 4 and json.loads((wmdp.artifact.path / "metrics.json").read_text())["items"] == 16
    metrics = json.loads((by_stage["init"].artifact.path / "metrics.json").read_text())["eval"]
    assert set(metrics) == {"mmlu_acc", "wmdp_acc", "retain", "forget"}
    assert metrics["forget"] == metrics["wmdp_acc"] and 0.0 <= metrics["retain"] <= 1.0
    assert higher_is_better("multiple_choice", "wmdp_acc") and higher_is_better("multiple_choice", "retain")


def test_a_bad_benchmark_file_is_one_line_naming_the_line_and_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from undo.cli import cli

    write(tmp_path / "items.jsonl", [ITEMS[0], {"question": "q", "choices": ["a", "b"], "answer": 5}])
    (tmp_path / "bench.yaml").write_text(f"stage: questions\nsource: jsonl\npath: {tmp_path / 'items.jsonl'}\n")
    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "artifacts"), "run", str(tmp_path / "bench.yaml"),
                                      "--scale", "smoke"])
    assert result.exit_code != 0 and "items.jsonl:2: answer must be the index of a choice (0-1), got 5" in result.output
    assert not list((tmp_path / "artifacts").glob("questions/*/DONE"))


def test_retain_prompts_take_their_subjects_description_and_first_shots():
    """The harness's MMLU (App. D.2.1): "... about {subject}." then the subject's first five dev examples."""
    from undo.evals.multiple_choice import Item, subject_prompts

    items = [Item("Q1?", ("a", "b"), 0, "high_school_biology"), Item("Q2?", ("c", "d"), 1, "virology")]
    shots = [Item(f"S{i}?", ("x", "y"), i % 2, s) for s in ("virology", "high_school_biology") for i in range(3)]
    described = "The following are multiple choice questions (with answers) about {subject}.\n\n"
    prompts = subject_prompts(items, "letters", described, shots, 2)
    first = build_prompts([items[0]], "letters", shots=shots[3:5],
                          description="The following are multiple choice questions (with answers) about high school "
                                      "biology.\n\n")
    assert prompts[0] == first[0]
    assert prompts[1].context.count("Answer:") == 3 and "about virology." in prompts[1].context
    with pytest.raises(ValueError, match="retain_shots"):
        subject_prompts(items, "letters", described, shots, 4)


def test_an_evaluation_of_one_role_leaves_the_other_unscored(tiny_model, byte_tok, tmp_path):
    """A WMDP attack scores MMLU before the attack only (relearn's retain_at: start): the other role is NaN."""
    items = load_items(write(tmp_path / "i.jsonl", ITEMS))
    evaluate = MultipleChoiceEval(MultipleChoiceEvalConfig(retain="r.yaml", forget="f.yaml", format="continuation"),
                                  byte_tok, items, items)
    both, forget_only = evaluate(tiny_model), evaluate(tiny_model, roles=("forget",))
    assert forget_only["forget"] == both["forget"] == both["retain"] and forget_only["wmdp_acc"] == both["wmdp_acc"]
    assert math.isnan(forget_only["retain"]) and math.isnan(forget_only["mmlu_acc"])
