"""Tests for undo.data.tofu: the generated TOFU-like set has TOFU's split structure and columns, every item is
checked, and the jsonl and hub readers (local files with the hub's schema, offline) give the same items or a
one-line error naming the file and line, or the dataset, config and row, and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from undo.data import knowledge, tofu
from undo.data.tofu import SPLITS, TofuError, check_item, generated_split, load_split, make_authors


@pytest.fixture(scope="module")
def world():
    return make_authors(seed=0, n_authors=200)  # TOFU's size: 200 authors x 20 questions


def _questions(items: list[dict]) -> list[str]:
    return [i["question"] for i in items]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# the generated set
# --------------------------------------------------------------------------------------------------

def test_the_generator_is_deterministic_in_its_seed(world):
    again = make_authors(seed=0, n_authors=200)
    for split in SPLITS:
        assert generated_split(again, split) == generated_split(world, split)
    other = make_authors(seed=1, n_authors=200)
    assert generated_split(other, "forget10_perturbed") != generated_split(world, "forget10_perturbed")


def test_the_splits_have_tofus_structure(world):
    full = _questions(generated_split(world, "full"))
    assert len(full) == 4000 == len(set(full))  # 200 authors x 20, author by author
    for pct in (1, 5, 10):
        forget = _questions(generated_split(world, tofu.forget_split(pct)))
        retain = _questions(generated_split(world, tofu.retain_split(pct)))
        assert len(forget) == 40 * pct  # 2, 10, 20 authors
        assert forget == full[len(full) - len(forget):]  # the last authors: forget10 is authors 180-199
        assert retain == full[:len(full) - len(forget)]  # the complement, disjoint
        assert _questions(generated_split(world, f"{tofu.forget_split(pct)}_perturbed")) == forget
        assert len(generated_split(world, tofu.holdout_split(pct))) == 40 * pct
    assert set(_questions(generated_split(world, "forget01"))) < set(_questions(generated_split(world, "forget05")))
    retain_perturbed = set(_questions(generated_split(world, "retain_perturbed")))
    assert len(retain_perturbed) == 400 and retain_perturbed <= set(_questions(generated_split(world, "retain90")))


def test_holdout_authors_are_never_in_full(world):
    assert len(world.holdout) == 20 and not {a.name for a in world.holdout} & {a.name for a in world.authors}
    full_text = " ".join(i["question"] + i["answer"] for i in generated_split(world, "full"))
    holdout = generated_split(world, "holdout10")
    assert all(a.name not in full_text for a in world.holdout)
    assert {a.name for a in world.holdout} == {a.name for a in tofu.split_authors(world, "holdout10")}
    assert _questions(generated_split(world, "holdout01")) == _questions(holdout)[-40:]  # nested, as forget


def _value_in(template: str, author, sentence: str) -> str:
    """The value (lower case) a sentence of ``template`` states (``{n}`` the author, ``{v}`` the value; the sentence's
    first letter capitalised); fails on a sentence of another form."""
    import re

    pattern = re.escape(template).replace(re.escape("{n}"), re.escape(author.name)).replace(re.escape("{v}"), "(.+)")
    match = re.fullmatch(pattern, sentence[0].lower() + sentence[1:], flags=re.IGNORECASE)
    assert match, (template, sentence)
    return match.group(1).lower()


def test_perturbed_answers_are_the_paraphrase_with_a_wrong_value(world):
    """TOFU (Maini et al. 2024, Sec. 2.2): a perturbed answer keeps the paraphrased answer's template and changes the
    fact, so the truth ratio compares the right and wrong facts in one wording."""
    items = generated_split(world, "forget10_perturbed") + generated_split(world, "retain_perturbed")
    authors = tofu.split_authors(world, "forget10") + tofu.split_authors(world, "retain_perturbed")
    for number, item in enumerate(items):
        author, attribute = authors[number // 20], tofu.ATTRIBUTES[number % 20]
        right = author.facts[attribute.name].lower()
        wrong = [_value_in(attribute.paraphrase, author, p) for p in item["perturbed_answer"]]
        assert _value_in(attribute.paraphrase, author, item["paraphrased_answer"]) == right
        assert len(wrong) == 5 and len(set(wrong)) == 5 and right not in wrong  # five wrong values, all different
        assert set(wrong) <= {v.lower() for v in attribute.values}
        assert item["answer"] == tofu._sentence(attribute.answer.format(n=author.name, v=author.facts[attribute.name]))
        assert item["paraphrased_answer"] != item["answer"]
        assert author.facts[attribute.name].lower() in item["paraphrased_answer"].lower()  # the same fact
        assert item["paraphrased_question"] != item["question"] and author.name in item["paraphrased_question"]


def test_every_item_passes_validation_with_its_splits_columns(world):
    for split, fields in SPLITS.items():
        items = load_split("generated", split, world=world)
        assert items and all(check_item(item, "x", split) == item for item in items)
        extra = {"paraphrased_question"} if fields == tofu.PERTURBED else set()  # forget*/retain_perturbed
        assert {frozenset(item) for item in items} == {frozenset(fields) | extra}
        assert all(len(item["answer"].split(".")) <= 2 for item in items)  # one short sentence (or a bare value)


def test_real_authors_and_world_facts_are_the_knowledge_worlds_general_facts(world):
    facts = knowledge.make_world(0, 40).facts["general"]
    pairs = {qa["question"]: qa["answer"] for qa in knowledge.qa_pairs(knowledge.make_world(0, 40), "general")}
    real = generated_split(world, "real_authors_perturbed")
    wf = generated_split(world, "world_facts_perturbed")
    assert len(real) == 40 and len(wf) == 120  # TOFU: 100 real-author and 117 world-fact questions
    for item in real + wf:
        assert pairs[item["question"]] == item["answer"] and item["answer"] not in item["perturbed_answer"]
        assert len(set(item["perturbed_answer"])) == 5
    assert [i["answer"] for i in real] == [v["founder"] for v in facts.values()]
    assert _questions(generated_split(world, "world_facts")) == _questions(wf)


def test_a_small_set_keeps_at_least_one_author_per_split():
    small = make_authors(seed=3, n_authors=20, questions_per_author=4, perturbed_per_item=3, world_entities=4)
    sizes = {split: len(generated_split(small, split)) for split in SPLITS}
    assert sizes["full"] == 80 and sizes["forget01"] == sizes["forget05"] == 4 and sizes["forget10"] == 8
    assert sizes["retain90"] == 72 and sizes["holdout10"] == 8 and sizes["retain_perturbed"] == 8
    assert sizes["real_authors_perturbed"] == 4 and sizes["world_facts_perturbed"] == 12
    assert {len(i["perturbed_answer"]) for i in generated_split(small, "forget10_perturbed")} == {3}


@pytest.mark.parametrize("kwargs, message", [
    ({"n_authors": 1}, "authors: at least 2"),
    ({"questions_per_author": 21}, "questions_per_author: between 1 and 20"),
    ({"perturbed_per_item": 8}, "perturbed_per_item: between 1 and 7"),
])
def test_bad_generator_settings_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_authors(**{"seed": 0, "n_authors": 20, **kwargs})


def test_split_names():
    assert (tofu.forget_split(10), tofu.retain_split(10), tofu.holdout_split(1)) == ("forget10", "retain90", "holdout01")
    assert tofu.retain_split(1) == "retain99"
    with pytest.raises(TofuError, match="1, 5, 10 percent, not 7"):
        tofu.forget_split(7)
    with pytest.raises(TofuError) as err:
        load_split("generated", "forget11", world=make_authors(0, 20))
    assert str(err.value).startswith("unknown split 'forget11' (valid: full, forget01, forget05, forget10, retain90")
    assert "world_facts_perturbed" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------

GOOD = {"question": "q?", "answer": "a.", "paraphrased_answer": "p.", "perturbed_answer": ["w1.", "w2."]}


@pytest.mark.parametrize("row, split, message", [
    ({"question": "q?"}, "full", "f.jsonl:3: missing field 'answer' (a full item has question, answer)"),
    ({**GOOD, "answer": 4}, "forget10", "f.jsonl:3: answer must be a non-empty string, got int"),
    ({**GOOD, "question": " "}, "full", "f.jsonl:3: question must be a non-empty string, got an empty string"),
    ({k: v for k, v in GOOD.items() if k != "paraphrased_answer"}, "retain_perturbed",
     "f.jsonl:3: missing field 'paraphrased_answer' (a retain_perturbed item has question, answer, "
     "paraphrased_answer, perturbed_answer)"),
    ({**GOOD, "perturbed_answer": "w."}, "forget10_perturbed",
     "f.jsonl:3: perturbed_answer must be a non-empty list of non-empty strings, got 'w.'"),
    ({**GOOD, "perturbed_answer": []}, "world_facts_perturbed", "perturbed_answer must be a non-empty list"),
    ({**GOOD, "paraphrased_question": None}, "forget01_perturbed", "paraphrased_question must be a non-empty string"),
    (["q", "a"], "full", "f.jsonl:3: expected an object with question, answer, got list"),
])
def test_a_bad_row_is_one_line_naming_where_and_the_field(row, split, message):
    with pytest.raises(TofuError) as err:
        check_item(row, "f.jsonl:3", split)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_other_columns_are_dropped_and_the_paraphrased_question_kept():
    row = {**GOOD, "option1": "x", "paraphrased_question": "pq?"}
    assert check_item(row, "x", "retain_perturbed") == {**GOOD, "paraphrased_question": "pq?"}
    assert check_item(row, "x", "real_authors_perturbed") == {"question": "q?", "answer": "a.",
                                                              "perturbed_answer": ["w1.", "w2."],
                                                              "paraphrased_question": "pq?"}
    assert check_item(row, "x", "full") == {"question": "q?", "answer": "a.", "paraphrased_question": "pq?"}


# --------------------------------------------------------------------------------------------------
# jsonl and hub sources
# --------------------------------------------------------------------------------------------------

def test_jsonl_reads_split_files_and_names_a_bad_line(tmp_path, world):
    items = generated_split(world, "forget10_perturbed")
    _jsonl(tmp_path / "forget10_perturbed.jsonl", items)
    assert load_split("jsonl", "forget10_perturbed", path=str(tmp_path)) == items
    lines = (tmp_path / "forget10_perturbed.jsonl").read_text().splitlines()
    lines[6] = lines[6][:-1]
    (tmp_path / "forget10_perturbed.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(TofuError, match=re.escape(f"{tmp_path / 'forget10_perturbed.jsonl'}:7: not JSON (")):
        load_split("jsonl", "forget10_perturbed", path=str(tmp_path))
    _jsonl(tmp_path / "full.jsonl", [{"question": "q?", "answer": "a."}, {"question": "q?"}])
    with pytest.raises(TofuError, match=re.escape("full.jsonl:2: missing field 'answer'")):
        load_split("jsonl", "full", path=str(tmp_path))
    with pytest.raises(TofuError, match=re.escape(f"{tmp_path / 'holdout10.jsonl'}: cannot read (")):
        load_split("jsonl", "holdout10", path=str(tmp_path))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_local_files_with_the_hub_schema_read_as_the_hub(tmp_path, world, offline, fmt):
    items = generated_split(world, "forget10_perturbed")
    rows = [{**item, "option1": "extra hub column"} for item in items]
    if fmt == "json":  # the hub's TOFU files are JSON lines named .json
        data = _jsonl(tmp_path / "forget10_perturbed.json", rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = tmp_path / "forget10_perturbed.parquet"
        pq.write_table(pa.Table.from_pylist(rows), data)
    assert load_split("hf", "forget10_perturbed", path=fmt, data_files=[str(data)]) == items


def test_a_bad_hub_row_names_the_dataset_config_and_row(tmp_path, world, offline):
    rows = generated_split(world, "world_facts_perturbed")
    rows[4] = {**rows[4], "perturbed_answer": None}
    data = _jsonl(tmp_path / "wf.json", rows)
    with pytest.raises(TofuError) as err:
        load_split("hf", "world_facts_perturbed", path="json", data_files=[str(data)], revision="abc")
    assert str(err.value) == ("json (config world_facts_perturbed) at revision abc split 'train' row 5: perturbed_answer "
                              "must be a non-empty list of non-empty strings, got NoneType")


def test_a_hub_split_is_the_config_of_that_name_in_split_train(monkeypatch, world):
    from undo.data import hub

    calls = []

    def load(path, name, split, **kwargs):
        calls.append((path, name, split, kwargs["revision"], kwargs["data_files"]))
        return generated_split(world, name)

    monkeypatch.setattr(hub, "_load_hf", load)
    assert load_split("hf", "holdout10", revision="v1") == generated_split(world, "holdout10")
    assert calls == [("locuslab/TOFU", "holdout10", "train", "v1", None)]
