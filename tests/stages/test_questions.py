"""Stage ``questions`` on hub benchmarks, offline: local parquet/JSONL files with the schema of ``cais/mmlu``
(question, subject, choices, answer; test and dev splits) and ``cais/wmdp`` (no subject), a seeded share of every
subject (App. D.2.1: 40% of MMLU), five dev shots per subject, revisions passed through; one-line errors naming the
key or the row, nothing stored on failure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from undo.config import ConfigError, key_view
from undo.evals.multiple_choice import load_items
from undo.pipeline import Graph
from undo.store import Store

from .helpers import cli_errors, run_smoke

SUBJECTS = {"anatomy": 10, "astronomy": 7, "virology": 3}


def _mmlu_rows(split: str) -> list[dict]:
    n = {"test": SUBJECTS, "dev": {s: 6 for s in SUBJECTS}}[split]
    rows = []
    for subject, count in n.items():  # cais/mmlu's column order: question, subject, choices, answer
        rows += [{"question": f"{split} {subject} question {i}?", "subject": subject,
                  "choices": [f"{subject} {i} option {c}" for c in "ABCD"], "answer": (i + len(subject)) % 4}
                 for i in range(count)]
    return rows


def _parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def mmlu(tmp_path):
    return {split: _parquet(tmp_path / f"mmlu_{split}.parquet", _mmlu_rows(split)) for split in ("test", "dev")}


def _mmlu_config(files: dict, extra: str = "") -> str:
    return (f"stage: questions\nsource: hf\npath: parquet\nconfig_name: all\nsplit: test\n"
            f"data_files: {{test: [{files['test']}], dev: [{files['dev']}]}}\n{extra}")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def test_mmlu_schema_keeps_a_seeded_share_of_every_subject_and_five_dev_shots(tmp_path, mmlu):
    (tmp_path / "mmlu.yaml").write_text(_mmlu_config(mmlu, "fraction: 0.4\nshots_split: dev\nseed: 3\n"))
    (tmp_path / "all.yaml").write_text(_mmlu_config(mmlu))
    node, every = run_smoke(tmp_path, "mmlu.yaml", "all.yaml")
    items = _rows(node.artifact.path / "items.jsonl")
    counts = {s: sum(i["subject"] == s for i in items) for s in SUBJECTS}
    assert counts == {"anatomy": 4, "astronomy": 3, "virology": 2}  # ceil(0.4 n), the harness's count
    source = _mmlu_rows("test")
    assert all(item in source for item in items)  # rows kept as they are, subject included
    assert [source.index(i) for i in items] == sorted(source.index(i) for i in items)  # in the source's order
    assert [i.question for i in load_items(node.artifact.path / "items.jsonl")] == [i["question"] for i in items]
    shots = _rows(node.artifact.path / "shots.jsonl")
    dev = _mmlu_rows("dev")
    assert shots == [r for s in SUBJECTS for r in [d for d in dev if d["subject"] == s][:5]]  # the first 5 per subject
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["items"] == 9 and metrics["items_per_subject"] == counts and metrics["revision"] is None
    assert metrics["shots"] == {"split": "dev", "per_subject": {s: 5 for s in SUBJECTS}}
    assert metrics["source"] == "hf:parquet/all (test)" and metrics["fraction"] == {"share": 0.4, "pick": "seeded"}
    assert _rows(every.artifact.path / "items.jsonl") == source
    assert not (every.artifact.path / "shots.jsonl").exists()


def test_the_share_is_seeded(tmp_path, mmlu):
    for seed in (0, 0, 1):
        (tmp_path / f"s{seed}.yaml").write_text(_mmlu_config(mmlu, f"fraction: 0.5\nseed: {seed}\n"))
    picks = {}
    for seed in (0, 1):
        (node,) = run_smoke(tmp_path, f"s{seed}.yaml")
        picks[seed] = [i["question"] for i in _rows(node.artifact.path / "items.jsonl")]
    from undo.stages.questions import subject_fraction

    again = subject_fraction(_mmlu_rows("test"), 0.5, 0)
    assert [i["question"] for i in again] == picks[0] != picks[1]


def test_the_first_pick_is_what_a_fractional_harness_limit_evaluates(tmp_path, mmlu):
    import math

    (tmp_path / "q.yaml").write_text(_mmlu_config(mmlu, "fraction: 0.4\nfraction_pick: first\n"))
    (node,) = run_smoke(tmp_path, "q.yaml")
    rows = _mmlu_rows("test")
    expected = []
    for subject in SUBJECTS:  # lm-eval: the first int(math.ceil(len(docs) * limit)) docs of each subject's task
        docs = [r for r in rows if r["subject"] == subject]
        expected += docs[:int(math.ceil(len(docs) * 0.4))]
    assert _rows(node.artifact.path / "items.jsonl") == expected
    assert key_view(node.cfg, {})["fraction_pick"] == "first"


def test_wmdp_schema_without_subjects_and_a_pinned_revision(tmp_path, monkeypatch):
    import datasets

    calls, load = [], datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or load(*a, **k))
    rows = [{"answer": i % 4, "question": f"Which microbe {i}?", "choices": [f"m{i}{c}" for c in "abcd"]}
            for i in range(9)]  # cais/wmdp's columns
    data = _jsonl(tmp_path / "wmdp_bio.jsonl", rows)
    (tmp_path / "wmdp.yaml").write_text(f"stage: questions\nsource: hf\npath: json\nconfig_name: wmdp-bio\n"
                                        f"revision: 0123abcd\ndata_files: {{test: [{data}]}}\n")
    (node,) = run_smoke(tmp_path, "wmdp.yaml")
    assert [k["revision"] for _, k in calls] == ["0123abcd"] and calls[0][0] == ("json", "wmdp-bio")
    assert _rows(node.artifact.path / "items.jsonl") == [{k: r[k] for k in ("question", "choices", "answer")}
                                                          for r in rows]
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["revision"] == "0123abcd" and metrics["items_per_subject"] == {"all": 9}
    assert "hub" not in metrics  # local files: no hub commit
    view = key_view(node.cfg, {})
    assert view["revision"] == "0123abcd" and "fraction" not in view and "shots_split" not in view


def test_existing_sources_keep_their_keys_and_summaries(tmp_path):
    (tmp_path / "k.yaml").write_text("stage: questions\nsource: knowledge\ndomains: [bio]\nentities: 4\n")
    (node,) = run_smoke(tmp_path, "k.yaml")
    view = key_view(node.cfg, {})
    for new in ("config_name", "split", "revision", "data_files", "subject_field", "fraction", "fraction_pick",
                "shots_split", "n_shots"):
        assert new not in view  # added with key_if_set: existing artifact keys are unchanged
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert set(metrics) == {"items", "answer_positions", "source"}


@pytest.mark.parametrize("extra, key, message", [
    ("fraction: 0\n", "fraction", "must be > 0, got 0.0"),
    ("fraction: 1.5\n", "fraction", "must be <= 1, got 1.5"),
    ("fraction: -0.4\n", "fraction", "must be > 0, got -0.4"),
    ("shots_split: validation\n", "data_files", "no files for split 'validation'"),
    ("n_shots: 0\n", "n_shots", "must be > 0"),
])
def test_bad_settings_are_one_line_naming_the_key(tmp_path, mmlu, extra, key, message):
    (tmp_path / "q.yaml").write_text(_mmlu_config(mmlu, extra))
    with pytest.raises(ConfigError) as err:
        Graph(Store(tmp_path / "artifacts"), "smoke").resolve(tmp_path / "q.yaml")
    assert str(err.value).startswith(f"{tmp_path / 'q.yaml'}: {key}: ") and message in str(err.value)
    code, out = cli_errors(tmp_path, "q.yaml")
    assert code == 2 and len(out) == 1 and f"q.yaml: {key}: " in out[0] and message in out[0]
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").rglob("DONE"))


def test_a_hub_benchmark_needs_its_path(tmp_path):
    (tmp_path / "q.yaml").write_text("stage: questions\nsource: hf\nconfig_name: all\n")
    with pytest.raises(ConfigError, match=re.escape("q.yaml: path: a hub benchmark needs its dataset id")):
        Graph(Store(tmp_path / "artifacts"), "smoke").resolve(tmp_path / "q.yaml")


def test_a_scale_overlay_to_the_generated_world_ignores_the_hub_options(tmp_path):
    # paper: MMLU from the hub, five dev shots; smoke: the world's general domain, the hub options merged underneath
    (tmp_path / "q.yaml").write_text("stage: questions\nsource: hf\npath: cais/mmlu\nconfig_name: all\nrevision: abc\n"
                                     "fraction: 0.4\nshots_split: dev\n"
                                     "scales: {smoke: {source: knowledge, domains: [general], entities: 4}}\n")
    (node,) = run_smoke(tmp_path, "q.yaml")
    assert len(_rows(node.artifact.path / "items.jsonl")) == 7  # the share still applies: ceil(0.4 * 16)
    assert not (node.artifact.path / "shots.jsonl").exists()
    assert "revision" not in json.loads((node.artifact.path / "metrics.json").read_text())


def test_a_bad_hub_row_is_one_line_naming_the_row_and_writes_nothing(tmp_path, mmlu):
    rows = _mmlu_rows("test")
    rows[4] = {**rows[4], "answer": 7}
    _parquet(mmlu["test"], rows)
    (tmp_path / "q.yaml").write_text(_mmlu_config(mmlu, "shots_split: dev\n"))
    code, out = cli_errors(tmp_path, "q.yaml")
    assert code == 2 and out == ["error: parquet (config all) split 'test' row 5: answer must be the index of a choice "
                                 "(0-3), got 7"]
    assert not any((tmp_path / "artifacts").rglob("DONE"))
    assert not any(p.is_dir() for p in (tmp_path / "artifacts").glob("*/.partial/*"))


def test_a_subject_without_shots_is_one_error_before_anything_is_written(tmp_path, mmlu):
    _parquet(mmlu["dev"], [r for r in _mmlu_rows("dev") if r["subject"] != "virology"])
    (tmp_path / "q.yaml").write_text(_mmlu_config(mmlu, "shots_split: dev\n"))
    code, out = cli_errors(tmp_path, "q.yaml")
    assert code == 2 and len(out) == 1 and "split 'dev': no rows for subject 'virology' (shots_split)" in out[0]
    assert not any((tmp_path / "artifacts").rglob("DONE"))
    assert not any(p.is_dir() for p in (tmp_path / "artifacts").glob("*/.partial/*"))


def test_a_subject_label_names_the_benchmark_for_its_description(tmp_path):
    """WMDP has no subject column; ``subject: biology`` labels every item, which the harness's description names."""
    from undo.evals.multiple_choice import subject_prompts

    rows = [{"answer": 1, "question": "Which microbe?", "choices": ["a", "b", "c", "d"]}]
    data = _jsonl(tmp_path / "wmdp_bio.jsonl", rows)
    (tmp_path / "wmdp.yaml").write_text(f"stage: questions\nsource: hf\npath: json\nsubject: biology\n"
                                        f"data_files: {{test: [{data}]}}\n")
    (node,) = run_smoke(tmp_path, "wmdp.yaml")
    items = load_items(node.artifact.path / "items.jsonl")
    assert items[0].subject == "biology"
    (prompt,) = subject_prompts(items, "letters", "The following are multiple choice questions (with answers) about "
                                "{subject}.\n\n", [], 0)
    assert prompt.context.startswith("The following are multiple choice questions (with answers) about biology.\n\n"
                                     "Which microbe?\nA. a")


# --------------------------------------------------------------------------------------------------
# the commit a hub benchmark was read from (the hub stood in for by a row list and a fixed commit)
# --------------------------------------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"
WMDP_ROWS = [{"answer": i % 4, "question": f"Which microbe {i}?", "choices": [f"m{i}{c}" for c in "abcd"]}
             for i in range(6)]


@pytest.fixture
def hub_rows(monkeypatch):
    """``cais/wmdp``'s rows served for the hub id without a download; the revisions asked for, in order."""
    from undo.data import hub

    loads = []

    def load(path, name, split, **kwargs):
        loads.append(kwargs["revision"])
        return WMDP_ROWS

    monkeypatch.setattr(hub, "_load_hf", load)
    return loads


def test_a_hub_benchmark_pinned_to_a_branch_records_the_commit_it_named(tmp_path, monkeypatch, hub_rows):
    from undo.data import hub

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    asked = []
    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: asked.append((a, k)) or SHA)
    (tmp_path / "q.yaml").write_text("stage: questions\nsource: hf\npath: cais/wmdp\nconfig_name: wmdp-bio\n"
                                     "revision: main\n")
    (node,) = run_smoke(tmp_path, "q.yaml")
    assert hub_rows == ["main"] and asked == [(("cais/wmdp", "main"), {"repo_type": "dataset"})]
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["hub"] == {"path": "cais/wmdp", "config": "wmdp-bio", "revision_requested": "main",
                              "revision_resolved": SHA}
    assert "no revision pinned" not in (node.artifact.path / "log.txt").read_text()


def test_offline_a_hub_benchmark_records_no_commit_and_asks_no_one(tmp_path, monkeypatch, hub_rows):
    from undo.data import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read from the datasets cache (here: a stand-in)
    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: pytest.fail("the hub was asked for a commit offline"))
    (tmp_path / "q.yaml").write_text("stage: questions\nsource: hf\npath: cais/wmdp\nconfig_name: wmdp-bio\n")
    (node,) = run_smoke(tmp_path, "q.yaml")
    record = json.loads((node.artifact.path / "metrics.json").read_text())["hub"]
    assert record["revision_requested"] is None and record["revision_resolved"] is None
    assert record["reason"].startswith("offline (HF_HUB_OFFLINE")
    assert any(line.startswith("cais/wmdp: no revision pinned; commit not recorded (offline")
               for line in (node.artifact.path / "log.txt").read_text().splitlines())
