"""Stage ``tofu`` through the pipeline at smoke scale, offline: the generated set, a scale overlay from the hub to it,
local files with the hub's schema, a saved jsonl copy, the hub's commit recorded; a bad split name or a bad line
is one line, exit code 2, and nothing stored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from undo.config import ConfigError
from undo.data.tofu import generated_split, make_authors
from undo.pipeline import Graph
from undo.store import Store

from .helpers import cli_errors, no_artifacts, run_smoke

SMALL = "authors: 20\nquestions_per_author: 4\nperturbed_per_item: 3\nworld_entities: 4\n"
DEFAULT = ("full", "forget10", "retain90", "holdout10", "forget10_perturbed", "retain_perturbed",
           "real_authors_perturbed", "world_facts_perturbed")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def small():
    return make_authors(0, 20, 4, perturbed_per_item=3, world_entities=4)


def test_the_generated_set_writes_every_split_the_metrics_need(tmp_path, small):
    (tmp_path / "tofu.yaml").write_text("stage: tofu\nsource: generated\n" + SMALL)
    (node,) = run_smoke(tmp_path, "tofu.yaml")
    for split in DEFAULT:
        assert _rows(node.artifact.path / f"{split}.jsonl") == generated_split(small, split)
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["items"] == {"full": 80, "forget10": 8, "retain90": 72, "holdout10": 8, "forget10_perturbed": 8,
                                "retain_perturbed": 8, "real_authors_perturbed": 4, "world_facts_perturbed": 12}
    assert metrics["source"] == "generated" and metrics["generated"]["holdout_authors"] == 2
    assert "hub" not in metrics and "revision" not in metrics


def test_a_scale_overlay_from_the_hub_to_the_generated_set(tmp_path, small):
    # paper: the hub, pinned; smoke: the generated set, the hub options merged underneath and ignored
    (tmp_path / "tofu.yaml").write_text("stage: tofu\nsource: hf\nrevision: abc\nsplits: [forget05, retain95]\n"
                                        "scales: {smoke: {source: generated, " + SMALL.strip().replace("\n", ", ")
                                        + "}}\n")
    (node,) = run_smoke(tmp_path, "tofu.yaml")
    assert sorted(p.name for p in node.artifact.path.glob("*.jsonl")) == ["forget05.jsonl", "retain95.jsonl"]
    assert _rows(node.artifact.path / "retain95.jsonl") == generated_split(small, "retain95")


def test_local_files_with_the_hub_schema_and_a_saved_jsonl_copy(tmp_path, small):
    files = {s: _jsonl(tmp_path / f"{s}.json", [{**r, "extra": 1} for r in generated_split(small, s)])
             for s in ("forget10", "world_facts_perturbed")}
    (tmp_path / "hub.yaml").write_text("stage: tofu\nsource: hf\npath: json\nrevision: 0123abcd\n"
                                       "splits: [forget10, world_facts_perturbed]\ndata_files: {"
                                       + ", ".join(f"{s}: [{f}]" for s, f in files.items()) + "}\n")
    saved = tmp_path / "saved"
    saved.mkdir()
    _jsonl(saved / "holdout01.jsonl", generated_split(small, "holdout01"))
    (tmp_path / "saved.yaml").write_text(f"stage: tofu\nsource: jsonl\npath: {saved}\nsplits: [holdout01]\n")
    hub, local = run_smoke(tmp_path, "hub.yaml", "saved.yaml")
    for split in files:
        assert _rows(hub.artifact.path / f"{split}.jsonl") == generated_split(small, split)
    metrics = json.loads((hub.artifact.path / "metrics.json").read_text())
    assert metrics["source"] == "hf:json" and metrics["revision"] == "0123abcd" and "hub" not in metrics
    assert _rows(local.artifact.path / "holdout01.jsonl") == generated_split(small, "holdout01")
    assert json.loads((local.artifact.path / "metrics.json").read_text())["source"] == "jsonl:saved"


@pytest.mark.parametrize("extra, key, message", [
    ("splits: [full, forget11]\n", "splits", "unknown split 'forget11' (valid: full, forget01, forget05, forget10"),
    ("splits: []\n", "splits", "name at least one split"),
    ("splits: [full, full]\n", "splits", "full named twice"),
    ("questions_per_author: 21\n", "questions_per_author", "must be <= 20"),
    ("perturbed_per_item: 0\n", "perturbed_per_item", "must be >= 1"),
])
def test_a_bad_setting_is_one_line_naming_the_key(tmp_path, extra, key, message):
    (tmp_path / "tofu.yaml").write_text("stage: tofu\nsource: generated\n" + extra)
    with pytest.raises(ConfigError) as err:
        Graph(Store(tmp_path / "artifacts"), "smoke").resolve(tmp_path / "tofu.yaml")
    assert str(err.value).startswith(f"{tmp_path / 'tofu.yaml'}: {key}: ") and message in str(err.value)
    code, out = cli_errors(tmp_path, "tofu.yaml")
    assert code == 2 and len(out) == 1 and f"tofu.yaml: {key}: " in out[0] and message in out[0]
    assert no_artifacts(tmp_path)


def test_hub_files_must_cover_every_split(tmp_path):
    (tmp_path / "tofu.yaml").write_text("stage: tofu\nsource: hf\npath: json\nsplits: [full, forget10]\n"
                                        "data_files: {full: [a.json]}\n")
    with pytest.raises(ConfigError, match=re.escape("tofu.yaml: data_files: no files for split 'forget10'")):
        Graph(Store(tmp_path / "artifacts"), "smoke").resolve(tmp_path / "tofu.yaml")


def test_a_bad_jsonl_line_is_one_line_and_nothing_is_stored(tmp_path, small):
    saved = tmp_path / "saved"
    saved.mkdir()
    _jsonl(saved / "full.jsonl", generated_split(small, "full"))
    rows = generated_split(small, "forget10_perturbed")
    rows[2] = {k: v for k, v in rows[2].items() if k != "paraphrased_answer"}
    _jsonl(saved / "forget10_perturbed.jsonl", rows)
    (tmp_path / "tofu.yaml").write_text(f"stage: tofu\nsource: jsonl\npath: {saved}\n"
                                        "splits: [full, forget10_perturbed]\n")
    code, out = cli_errors(tmp_path, "tofu.yaml")
    assert code == 2 and out == [f"error: {saved / 'forget10_perturbed.jsonl'}:3: missing field 'paraphrased_answer' "
                                 "(a forget10_perturbed item has question, answer, paraphrased_answer, "
                                 "perturbed_answer)"]
    assert no_artifacts(tmp_path)
    (saved / "forget10_perturbed.jsonl").write_text("{not json\n")
    code, out = cli_errors(tmp_path, "tofu.yaml")
    assert code == 2 and len(out) == 1 and "forget10_perturbed.jsonl:1: not JSON (" in out[0]
    assert no_artifacts(tmp_path)


SHA = "0123456789abcdef0123456789abcdef01234567"


def test_the_hub_commit_read_is_recorded(tmp_path, monkeypatch, small):
    from undo.data import hub

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    loads = []
    monkeypatch.setattr(hub, "_load_hf", lambda path, name, split, **k: loads.append((path, name, split, k["revision"]))
                        or generated_split(small, name))
    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: SHA)
    (tmp_path / "tofu.yaml").write_text("stage: tofu\nsource: hf\nsplits: [forget01, retain99]\n")
    (node,) = run_smoke(tmp_path, "tofu.yaml")
    assert loads == [("locuslab/TOFU", "forget01", "train", None), ("locuslab/TOFU", "retain99", "train", None)]
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["source"] == "hf:locuslab/TOFU" and metrics["items"] == {"forget01": 4, "retain99": 76}
    assert metrics["hub"] == {"path": "locuslab/TOFU", "config": None, "revision_requested": None,
                              "revision_resolved": SHA}
    assert f"read commit {SHA}" in (node.artifact.path / "log.txt").read_text()
