"""Stage ``qa``: a TOFU split as a prompt/answer dataset (App. F): one right-padded row per pair, its answer tokens
(and only those) marked for the loss, the prompt format recorded; an unknown split is one line and nothing stored."""

import json

import numpy as np

from undo.stages.common import artifact_tokenizer

from .helpers import cli_errors, no_artifacts, run_smoke, write_tofu_configs


def test_every_pair_is_a_row_whose_mask_marks_exactly_its_answer(tmp_path):
    write_tofu_configs(tmp_path)
    nodes = run_smoke(tmp_path, "qa_forget.yaml")
    qa = next(n for n in nodes if n.stage == "qa").artifact.path
    items = [json.loads(line) for line in (next(n for n in nodes if n.stage == "tofu").artifact.path
                                           / "forget10.jsonl").open()]
    tokens, mask = np.load(qa / "tokens.npy"), np.load(qa / "loss_mask.npy")
    assert tokens.shape == mask.shape == (len(items), 128)
    tok = artifact_tokenizer(qa)
    for row, item in zip(range(len(items)), items, strict=True):
        answer = tokens[row][mask[row] == 1].tolist()
        assert answer[-1] == tok.eos_token_id
        assert tok.decode(answer[:-1]) == " " + item["answer"]
        first = int(np.argmax(mask[row]))
        assert tokens[row][0] == tok.bos_token_id
        assert tok.decode(tokens[row][1:first].tolist()) == f"Question: {item['question']}\nAnswer:"
        assert (tokens[row][first + len(answer):] == 0).all()     # right padding after the answer, never scored
    summary = json.loads((qa / "metrics.json").read_text())
    assert summary["pairs"] == len(items) and summary["truncated"] == 0
    assert summary["prompt"]["style"] == "plain" and summary["prompt"]["bos"] is True


def test_an_unknown_split_is_one_line_and_nothing_is_stored(tmp_path):
    write_tofu_configs(tmp_path)
    (tmp_path / "bad.yaml").write_text("base: [qa_full.yaml]\nsplit: forget07\n")
    code, errors = cli_errors(tmp_path, "bad.yaml")
    assert code != 0 and len(errors) == 1
    assert "split: " in errors[0] and "'forget07'" in errors[0] and "forget10" in errors[0]
    assert not any((tmp_path / "artifacts").glob("qa/*/DONE"))
    assert no_artifacts(tmp_path) or any((tmp_path / "artifacts").glob("tofu/*/DONE"))
