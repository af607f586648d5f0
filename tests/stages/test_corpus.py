"""Stage ``corpus`` on the paper-scale data path, offline: local JSONL corpora (text and question-answer lines),
hub sources pinned by revision and Magpie-style rows made into one document by a template, on local files with
the hub's schema; every bad input is one line naming the file/key/line, and nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from undo.config import ConfigError, key_view
from undo.data.knowledge import documents, make_world, qa_document, qa_pairs
from undo.pipeline import Graph
from undo.stages.corpus import read_documents
from undo.store import Store

from .helpers import cli_errors, no_artifacts, run_smoke


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list) -> Path:
    return _write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _metrics(node) -> dict:
    return json.loads((node.artifact.path / "metrics.json").read_text())


# --------------------------------------------------------------------------------------------------
# kind: jsonl
# --------------------------------------------------------------------------------------------------


def test_jsonl_text_lines_are_whole_documents_with_provenance(tmp_path):
    import hashlib

    long = "A forget-corpus paper about imaginary microbes. " * 100  # longer than max_chars: kept whole
    data = _jsonl(tmp_path / "bio_forget.jsonl", [{"title": "t0", "abstract": "a0", "text": long},
                                                  {"title": "t1", "abstract": "a1", "text": "Short."}])
    _write(tmp_path / "c.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {data}, license: 'test terms'}}\n")
    _write(tmp_path / "t.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {data}, text_field: abstract}}\n")
    _write(tmp_path / "tpl.yaml", "stage: corpus\nsource: {kind: jsonl, path: " + str(data)
           + ", text_template: \"{title}\\n\\n{abstract}\"}\n")
    full, abstracts, titled = run_smoke(tmp_path, "c.yaml", "t.yaml", "tpl.yaml")
    assert read_documents(full.artifact.path) == [long, "Short."]
    assert read_documents(abstracts.artifact.path) == ["a0", "a1"]
    assert read_documents(titled.artifact.path) == ["t0\n\na0", "t1\n\na1"]
    prov = _metrics(full)["provenance"]
    assert prov == {"source": "jsonl:bio_forget.jsonl (prose)", "license": "test terms", "url": "",
                    "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}


def test_jsonl_qa_lines_use_the_knowledge_worlds_qa_format(tmp_path):
    world = make_world(0, 5)
    pairs = qa_pairs(world, "bio")
    data = _jsonl(tmp_path / "qa.jsonl", pairs)
    _write(tmp_path / "qa.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {data}, form: qa}}\n")
    _write(tmp_path / "world.yaml", "stage: corpus\nsource: {kind: knowledge, domains: [bio], entities: 5, form: qa}\n")
    from_file, generated = run_smoke(tmp_path, "qa.yaml", "world.yaml")
    docs = read_documents(from_file.artifact.path)
    assert docs == read_documents(generated.artifact.path)  # one formatter for both
    assert docs[0] == f"Question: {pairs[0]['question']}\nAnswer: {pairs[0]['answer']}" == qa_document(**pairs[0])
    _write(tmp_path / "sub.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {data}, form: qa}}\nmax_documents: 3\n")
    (sub,) = run_smoke(tmp_path, "sub.yaml")
    assert len(read_documents(sub.artifact.path)) == 3 and set(read_documents(sub.artifact.path)) <= set(docs)


GOOD = {"question": "Which host carries the microbe?", "answer": "field mice"}


@pytest.mark.parametrize("bad, message", [
    (b"\xff\xfe{}", "qa.jsonl:7: not UTF-8 (byte 0)"),
    (b'{"question": "q", "answer": ', "qa.jsonl:7: not JSON ("),
    (b'["q", "a"]', "qa.jsonl:7: expected a JSON object with question, answer, got list"),
    (b'{"question": "q"}', "qa.jsonl:7: missing key 'answer'"),
    (b'{"question": "  ", "answer": "a"}', "qa.jsonl:7: 'question' is empty"),
    (b'{"question": "q", "answer": 3}', "qa.jsonl:7: 'answer' must be a string, got int"),
])
def test_a_bad_qa_line_is_one_error_naming_file_and_line_and_writes_nothing(tmp_path, bad, message):
    lines = [json.dumps(GOOD).encode()] * 5 + [b""] + [bad] + [json.dumps(GOOD).encode()]  # line 6 blank: skipped
    (tmp_path / "qa.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    _write(tmp_path / "qa.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {tmp_path / 'qa.jsonl'}, form: qa}}\n")
    code, out = cli_errors(tmp_path, "qa.yaml")
    assert code == 2 and len(out) == 1 and message in out[0] and str(tmp_path / "qa.jsonl") in out[0], out
    assert no_artifacts(tmp_path)


def test_a_bad_text_line_names_the_text_field(tmp_path):
    _jsonl(tmp_path / "docs.jsonl", [{"text": "fine"}, {"body": "no text"}])
    _write(tmp_path / "c.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {tmp_path / 'docs.jsonl'}}}\n")
    code, out = cli_errors(tmp_path, "c.yaml")
    assert code == 2 and out == [f"error: {tmp_path / 'docs.jsonl'}:2: missing key 'text'"]
    assert no_artifacts(tmp_path)


def test_a_missing_file_names_the_key_and_the_dataset_and_writes_nothing(tmp_path):
    missing = tmp_path / "x" / "bio_forget.jsonl"
    hint = "cais/wmdp-bio-forget-corpus is gated by its authors: request access and give its local path here"
    _write(tmp_path / "c.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {missing}, hint: '{hint}'}}\n")
    code, out = cli_errors(tmp_path, "c.yaml")
    assert code == 2 and out == [f"error: source.path: {missing} not found ({hint})"]
    assert no_artifacts(tmp_path)
    _write(tmp_path / "d.yaml", f"stage: corpus\nsource: {{kind: jsonl, path: {missing}}}\n")
    code, out = cli_errors(tmp_path, "d.yaml")
    assert code == 2 and out == [f"error: source.path: {missing} not found (give the local path of the JSONL file here)"]
    assert no_artifacts(tmp_path)


@pytest.mark.parametrize("source, key, message", [
    ("{kind: jsonl}", "source.path", "jsonl needs the local file"),
    ("{kind: jsonl, path: q.jsonl, form: qa, text_template: '{a}'}", "source.text_template",
     "qa lines are written as"),
    ("{kind: hf, path: json, text_template: 'no field'}", "source.text_template", "reads no column"),
    ("{kind: hf, path: json, text_template: '{a[0]}'}", "source.text_template", "{a[0]} must name a column"),
    ("{kind: hf, path: json, text_template: '{a'}", "source.text_template", "malformed template"),
])
def test_config_errors_are_one_line_naming_the_key(tmp_path, source, key, message):
    _write(tmp_path / "c.yaml", f"stage: corpus\nsource: {source}\n")
    with pytest.raises(ConfigError) as err:
        Graph(Store(tmp_path / "artifacts"), "smoke").resolve(tmp_path / "c.yaml")
    assert str(err.value).startswith(f"{tmp_path / 'c.yaml'}: {key}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_scale_overlay_that_switches_the_kind_inherits_the_paper_options(tmp_path):
    # paper: a pinned hub corpus / a local QA file; smoke: the generated world, the paper's options merged underneath
    (tmp_path / "hub.yaml").write_text(
        "stage: corpus\nsource: {kind: hf, path: org/data, revision: abc, text_template: '{a} {b}'}\n"
        "scales: {smoke: {source: {kind: knowledge, domains: [bio], entities: 2}}}\n")
    (tmp_path / "qa.yaml").write_text(
        "stage: corpus\nsource: {kind: jsonl, path: /no/qa.jsonl, form: qa, hint: 'not public'}\n"
        "scales: {smoke: {source: {kind: knowledge, domains: [bio], entities: 2}}}\n")
    hub, qa = run_smoke(tmp_path, "hub.yaml", "qa.yaml")
    world = make_world(0, 2)
    assert read_documents(qa.artifact.path) == [qa_document(**p) for p in qa_pairs(world, "bio")]  # form: qa kept
    assert read_documents(hub.artifact.path) == documents(world, "bio", seed=0, per_entity=3)


# --------------------------------------------------------------------------------------------------
# kind: hf (local files with the hub's schema)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def recorded_loads(monkeypatch, tmp_path):
    """``datasets.load_dataset``'s keyword arguments, call by call (the real loader still runs)."""
    import datasets

    monkeypatch.setenv("UNDO_CACHE", str(tmp_path / "cache"))
    calls, load = [], datasets.load_dataset

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", recording)
    return calls


def test_hub_revision_reaches_load_dataset_and_the_key_only_when_set(tmp_path, recorded_loads):
    data = _jsonl(tmp_path / "rows.jsonl", [{"text": f"Document {i} about hills."} for i in range(6)])
    base = "stage: corpus\nsource: {kind: hf, path: json, data_files: [" + str(data) + "]"
    _write(tmp_path / "plain.yaml", base + "}\n")
    _write(tmp_path / "pinned.yaml", base + ", revision: 0123abcd}\n")
    plain, pinned = run_smoke(tmp_path, "plain.yaml", "pinned.yaml")
    assert [c["revision"] for c in recorded_loads] == [None, "0123abcd"]
    assert read_documents(plain.artifact.path) == read_documents(pinned.artifact.path)
    assert plain.key != pinned.key
    assert "revision" not in key_view(plain.cfg, {})["source"]  # the option re-keys nothing that leaves it unset
    assert key_view(pinned.cfg, {})["source"]["revision"] == "0123abcd"
    assert _metrics(pinned)["provenance"]["revision"] == "0123abcd"
    assert "revision" not in _metrics(plain)["provenance"]
    assert "hub" not in _metrics(plain) and "hub" not in _metrics(pinned)  # local files: no hub commit


def test_magpie_rows_become_one_document_through_a_template(tmp_path, recorded_loads):
    # Magpie-Align rows: the pair as text columns and again as a conversation list
    rows = [{"uuid": str(i), "instruction": f"Explain topic {i}.", "response": f"Topic {i} is explained." if i != 2 else None,
             "conversations": [{"from": "human", "value": f"Explain topic {i}."},
                               {"from": "gpt", "value": f"Topic {i} is explained."}], "task_category": "Information"}
            for i in range(4)]
    data = _jsonl(tmp_path / "magpie.jsonl", rows)
    _write(tmp_path / "m.yaml", "stage: corpus\nsource: {kind: hf, path: json, data_files: [" + str(data) + "],"
           " text_template: \"{instruction}\\n\\n{response}\"}\n")
    (node,) = run_smoke(tmp_path, "m.yaml")
    assert read_documents(node.artifact.path) == [f"Explain topic {i}.\n\nTopic {i} is explained." for i in (0, 1, 3)]
    assert _metrics(node)["provenance"]["text_template"] == "{instruction}\n\n{response}"
    _write(tmp_path / "bad.yaml", "stage: corpus\nsource: {kind: hf, path: json, data_files: [" + str(data) + "],"
           " text_template: \"{prompt}\\n{response}\"}\n")
    code, out = cli_errors(tmp_path, "bad.yaml")
    assert code == 2 and len(out) == 1 and "has no column 'prompt'" in out[0] and "set text_template" in out[0]
    assert len(list((tmp_path / "artifacts").rglob("DONE"))) == 1  # the good corpus only
    assert not any(p.is_dir() for p in (tmp_path / "artifacts").glob("*/.partial/*"))


# --------------------------------------------------------------------------------------------------
# kind: hf from the hub: the commit read is recorded (the hub stood in for by a row list and a fixed commit)
# --------------------------------------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_an_unpinned_hub_corpus_records_the_commit_it_read_and_says_how_to_pin_it(tmp_path, monkeypatch):
    from undo.data import hub

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("UNDO_CACHE", str(tmp_path / "cache"))
    rows = [{"text": f"Document {i} about rivers."} for i in range(8)]
    monkeypatch.setattr(hub, "_load_hf", lambda *a, **k: rows)
    asked = []
    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: asked.append(a) or SHA)
    source = "stage: corpus\nsource: {kind: hf, path: org/rivers, config_name: en"
    _write(tmp_path / "c.yaml", source + "}\nmax_documents: 5\n")
    _write(tmp_path / "again.yaml", source + ", min_chars: 10}\nmax_documents: 5\n")  # another artifact, same cache
    first, again = run_smoke(tmp_path, "c.yaml", "again.yaml")
    assert len(asked) == 1  # the second artifact is served from the shard cache, which kept the commit
    expected = {"path": "org/rivers", "config": "en", "revision_requested": None, "revision_resolved": SHA}
    assert _metrics(first)["hub"] == expected and _metrics(again)["hub"] == expected
    line = f"org/rivers: no revision pinned; read commit {SHA} (pin it with revision: {SHA})"
    assert line in (first.artifact.path / "log.txt").read_text().splitlines()
    assert "revision" not in key_view(first.cfg, {})["source"]  # recording the commit re-keys nothing
