"""Tests for undo.data.hub: loading datasets, fast failure without the hub, the resumable shard cache.

Offline and fast: datasets are local JSON files with the hub's schema, and the only socket opened is to a
closed loopback port.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from undo.data import hub
from undo.data.errors import SourceError
from undo.data.hub import cache_hf_documents, check_hub_reachable, hf_documents

# --------------------------------------------------------------------------------------------------
# hf_documents on local files with the hub's schema
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def hf_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    return tmp_path / "hf_cache"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [{"text": f"Document {i} about the water cycle.", "id": f"<urn:{i}>", "score": 3.1} for i in range(7)]


@pytest.mark.parametrize("streaming", [True, False])
def test_hf_documents_local_json(tmp_path, hf_offline, streaming):
    data = _jsonl(tmp_path / "docs.jsonl", ROWS[:3] + [{"text": "", "id": "x", "score": 0.0}] + ROWS[3:])
    docs = hf_documents("json", data_files=str(data), n_documents=5, streaming=streaming, cache_dir=hf_offline)
    assert docs == [r["text"] for r in ROWS[:5]]  # empty row skipped, order kept
    # fewer rows than asked for: everything there is
    assert hf_documents("json", data_files=str(data), n_documents=100, streaming=streaming, cache_dir=hf_offline) == [
        r["text"] for r in ROWS
    ]
    assert hf_documents("json", data_files=str(data), n_documents=0, cache_dir=hf_offline) == []


@pytest.mark.parametrize("streaming", [True, False])
def test_hf_documents_missing_field(tmp_path, hf_offline, streaming):
    data = _jsonl(tmp_path / "docs.jsonl", [{"content": "hello", "id": 1}])
    with pytest.raises(SourceError, match=r"no column 'text' \(columns: .*content") as err:
        hf_documents("json", data_files=str(data), n_documents=1, streaming=streaming, cache_dir=hf_offline)
    assert "id" in str(err.value)


def test_hf_documents_offline_hub_id_fails_fast(hf_offline):
    start = time.perf_counter()
    with pytest.raises(SourceError, match="offline") as err:
        hf_documents("HuggingFaceFW/fineweb-edu", name="sample-10BT", n_documents=10, cache_dir=hf_offline)
    assert time.perf_counter() - start < 30  # hang guard (the failure mode is a 46 s retry loop), not a speed target
    assert "data_files" in str(err.value) and "HF_HUB_OFFLINE" in str(err.value)


def test_hf_documents_offline_hub_id_non_streaming(hf_offline):
    # non-streaming lets `datasets` look in its cache first; with nothing cached it is the same error
    with pytest.raises(SourceError, match="offline"):
        hf_documents(
            "HuggingFaceFW/fineweb-edu", name="sample-10BT", n_documents=10, streaming=False, cache_dir=hf_offline
        )


def test_hf_documents_bad_local_file(tmp_path, hf_offline):
    with pytest.raises(SourceError, match="could not load dataset json"):
        hf_documents("json", data_files=str(tmp_path / "nope.jsonl"), n_documents=1, cache_dir=hf_offline)


# --------------------------------------------------------------------------------------------------
# The hub: fast failure and the resumable shard cache (exercised on local files with the hub's schema)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def online(monkeypatch, tmp_path):
    """Hub variables unset, the endpoint pointed at a closed loopback port (refused at once)."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


def test_unreachable_hub_fails_in_seconds_with_a_way_out(online, tmp_path):
    start = time.perf_counter()
    with pytest.raises(SourceError) as err:
        cache_hf_documents("HuggingFaceFW/fineweb-2", name="kor_Hang", n_documents=5, cache_dir=tmp_path)
    assert time.perf_counter() - start < 30  # hang guard (the failure mode is a 46 s retry loop), not a speed target
    message = str(err.value)
    assert "\n" not in message and "cannot reach the Hugging Face hub" in message
    assert "--scale mini" in message and "HF_HUB_OFFLINE=1" in message
    assert not (tmp_path / "hf").exists()  # nothing written


def test_hub_probe_passes_offline_mode_through(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    check_hub_reachable("x")  # offline: no probe; the offline code path decides


def test_hub_id_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match="HF_HUB_OFFLINE"):
        cache_hf_documents("HuggingFaceFW/fineweb-edu", name="sample-10BT", n_documents=5, cache_dir=tmp_path)


def _rows(path: Path, n: int) -> Path:
    rows = [{"text": f"문서 {i}: 짧은 한국어 문장입니다." if i % 7 else "", "id": f"<urn:{i}>", "language": "kor"}
            for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_shard_cache_serves_second_run_without_loading(tmp_path, monkeypatch):
    data = _rows(tmp_path / "rows.jsonl", 40)
    cache = cache_hf_documents("json", data_files=str(data), n_documents=25, cache_dir=tmp_path / "c",
                               shard_documents=10)
    docs = list(cache.documents_iter())
    expected = [json.loads(line)["text"] for line in data.read_text().splitlines() if json.loads(line)["text"]][:25]
    assert docs == expected and cache.documents == 25 and len(cache.shards) == 3

    def no_load(*a, **k):
        raise AssertionError("a complete cache must not touch the dataset")

    monkeypatch.setattr(hub, "_load_hf", no_load)
    again = cache_hf_documents("json", data_files=str(data), n_documents=25, cache_dir=tmp_path / "c",
                               shard_documents=10)
    assert list(again.documents_iter()) == docs


def test_shard_cache_resumes_an_interrupted_download(tmp_path, monkeypatch):
    data = _rows(tmp_path / "rows.jsonl", 60)
    full = list(cache_hf_documents("json", data_files=str(data), n_documents=45, cache_dir=tmp_path / "ref",
                                   shard_documents=10).documents_iter())

    real_texts = hub._texts

    def dying(ds, where, field):  # the connection drops after 23 rows
        for i, text in enumerate(real_texts(ds, where, field)):
            if i == 23:
                raise ConnectionError("connection reset")
            yield text

    monkeypatch.setattr(hub, "_texts", dying)
    with pytest.raises(ConnectionError):
        cache_hf_documents("json", data_files=str(data), n_documents=45, cache_dir=tmp_path / "c", shard_documents=10)
    (directory,) = (tmp_path / "c" / "hf").iterdir()
    progress = json.loads((directory / "progress.json").read_text())
    assert progress["documents"] == 10 and not progress["complete"]  # the second shard never completed

    monkeypatch.setattr(hub, "_texts", real_texts)
    skipped = []
    real_load = hub._load_hf

    def load(*a, **k):
        ds = real_load(*a, **k)
        orig = ds.skip
        ds.skip = lambda n: skipped.append(n) or orig(n)
        return ds

    monkeypatch.setattr(hub, "_load_hf", load)
    resumed = cache_hf_documents("json", data_files=str(data), n_documents=45, cache_dir=tmp_path / "c",
                                 shard_documents=10)
    assert skipped == [progress["rows"]] and list(resumed.documents_iter()) == full


def test_shard_cache_rejects_a_non_text_column(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": 3}\n{"text": 4}\n')
    with pytest.raises(SourceError, match="not text"):
        cache_hf_documents("json", data_files=str(path), n_documents=2, cache_dir=tmp_path / "c")


# --------------------------------------------------------------------------------------------------
# Revisions, templates and whole rows
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def load_calls(monkeypatch):
    """(args, kwargs) of every ``datasets.load_dataset`` call; the real loader still runs."""
    import datasets

    calls, load = [], datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or load(*a, **k))
    return calls


def test_revision_reaches_load_dataset(tmp_path, hf_offline, load_calls):
    data = _jsonl(tmp_path / "docs.jsonl", ROWS)
    assert hf_documents("json", data_files=str(data), n_documents=2, revision="0123abcd") == [r["text"] for r in ROWS[:2]]
    hf_documents("json", data_files=str(data), n_documents=2)
    assert [k["revision"] for _, k in load_calls] == ["0123abcd", None]


def test_the_cache_keys_revision_and_template_only_when_given(tmp_path, load_calls):
    import hashlib

    data = _rows(tmp_path / "rows.jsonl", 12)
    plain = cache_hf_documents("json", data_files=str(data), n_documents=5, cache_dir=tmp_path / "c")
    legacy = {"path": "json", "name": None, "split": "train", "text_field": "text", "data_files": [str(data)],
              "n_documents": 5, "shard_documents": 100_000}  # the spec before revisions existed: its cache stays valid
    assert plain.directory.name.endswith(hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:16])
    pinned = cache_hf_documents("json", data_files=str(data), n_documents=5, cache_dir=tmp_path / "c", revision="v1")
    assert pinned.directory != plain.directory and load_calls[-1][1]["revision"] == "v1"
    assert json.loads((pinned.directory / "progress.json").read_text())["spec"]["revision"] == "v1"


def test_a_template_joins_text_columns_and_skips_rows_missing_one(tmp_path, hf_offline):
    rows = [{"instruction": "Say hi.", "response": "Hi."}, {"instruction": "Say bye.", "response": None},
            {"instruction": "Count.", "response": "  "}, {"instruction": "Name a river.", "response": "The Nile."}]
    data = _jsonl(tmp_path / "magpie.jsonl", rows)
    docs = hf_documents("json", data_files=str(data), n_documents=10, text_template="User: {instruction}\n{response}")
    assert docs == ["User: Say hi.\nHi.", "User: Name a river.\nThe Nile."]
    with pytest.raises(SourceError, match=r"no column 'reply' .* set text_template"):
        hf_documents("json", data_files=str(data), n_documents=1, text_template="{instruction} {reply}")
    bad = _jsonl(tmp_path / "bad.jsonl", [{"instruction": "x", "response": 3}])
    with pytest.raises(SourceError, match="holds int, not text"):
        hf_documents("json", data_files=str(bad), n_documents=1, text_template="{instruction} {response}")


@pytest.mark.parametrize("template, message", [
    ("plain text", "reads no column"), ("{a!r}", "must name a column"), ("{a:>9}", "must name a column"),
    ("{0}", "must name a column"), ("{}", "must name a column"), ("{a", "malformed template"),
])
def test_template_fields_refuses_what_is_not_a_column(template, message):
    with pytest.raises(ValueError, match=f"^text_template: .*{message}"):
        hub.template_fields(template)
    assert hub.template_fields("{instruction}\n\n{response}{instruction}") == ("instruction", "response")


def test_hf_rows_gives_whole_rows_of_a_split(tmp_path, hf_offline, load_calls):
    test = _jsonl(tmp_path / "test.jsonl", [{"question": "q1", "choices": ["a", "b"], "answer": 1}])
    dev = _jsonl(tmp_path / "dev.jsonl", [{"question": "q0", "choices": ["c", "d"], "answer": 0}])
    files = {"test": [str(test)], "dev": [str(dev)]}
    assert list(hub.hf_rows("json", split="dev", data_files=files, revision="r1")) == [
        {"question": "q0", "choices": ["c", "d"], "answer": 0}]
    assert load_calls[-1][1]["revision"] == "r1" and load_calls[-1][1]["streaming"]  # local files: streamed
