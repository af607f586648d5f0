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


# --------------------------------------------------------------------------------------------------
# hub_revision: the commit a hub read came from (recorded in artifacts)
# --------------------------------------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


def _no_lookup(*args, **kwargs):
    raise AssertionError("the hub was asked for a commit")


def test_an_unpinned_read_records_the_commit_the_hub_names(online, monkeypatch):
    asked = []
    monkeypatch.setattr(hub, "hub_commit", lambda path, revision, repo_type: asked.append((path, revision, repo_type))
                        or SHA)
    record = hub.hub_revision("cais/wmdp", name="wmdp-bio")
    assert asked == [("cais/wmdp", None, "dataset")]
    assert record == {"path": "cais/wmdp", "config": "wmdp-bio", "revision_requested": None, "revision_resolved": SHA}
    assert hub.revision_note(record) == f"cais/wmdp: no revision pinned; read commit {SHA} (pin it with revision: {SHA})"
    branch = hub.hub_revision("google/gemma-2-2b", revision="main", repo_type="model")
    assert asked[-1] == ("google/gemma-2-2b", "main", "model") and branch["revision_resolved"] == SHA
    assert hub.revision_note(branch) is None  # pinned (by a branch): nothing to suggest


def test_no_lookup_offline_for_a_full_commit_or_for_local_files(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "hub_commit", _no_lookup)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = hub.hub_revision("cais/mmlu", name="all")
    assert offline["revision_resolved"] is None and "offline (HF_HUB_OFFLINE" in offline["reason"]
    assert hub.revision_note(offline).startswith("cais/mmlu: no revision pinned; commit not recorded (offline")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # a dataset read from the datasets cache: no lookup either
    assert hub.hub_revision("cais/mmlu")["revision_resolved"] is None
    assert hub.hub_revision("cais/mmlu", revision=SHA)["revision_resolved"] == SHA  # a commit names itself
    assert hub.hub_revision("org/model", read=SHA, repo_type="model")["revision_resolved"] == SHA
    assert hub.hub_revision("json") is None
    (tmp_path / "models" / "m").mkdir(parents=True)
    assert hub.hub_revision(str(tmp_path / "models" / "m"), repo_type="model") is None


def test_a_failed_lookup_is_recorded_not_raised(online, monkeypatch):
    def refused(*args, **kwargs):
        raise ConnectionError("connection refused\nmore detail")

    monkeypatch.setattr(hub, "hub_commit", refused)
    record = hub.hub_revision("cais/wmdp", revision="main")
    assert record["revision_resolved"] is None and record["reason"] == "lookup failed: ConnectionError: connection refused"


def test_the_lookup_authenticates_with_hf_token(online, monkeypatch):
    import huggingface_hub

    seen = []

    class Api:
        def __init__(self, token=None):
            seen.append(token)

        def dataset_info(self, path, revision=None, timeout=None):
            seen.append(("dataset", path, revision))
            return type("Info", (), {"sha": SHA})()

        def model_info(self, path, revision=None, timeout=None):
            seen.append(("model", path, revision))
            return type("Info", (), {"sha": SHA})()

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    assert hub.hub_commit("cais/wmdp") == SHA and hub.hub_commit("google/gemma-2-2b", "main", repo_type="model") == SHA
    assert seen == ["hf_test", ("dataset", "cais/wmdp", None), "hf_test", ("model", "google/gemma-2-2b", "main")]


def _hub_rows(monkeypatch, loads: list) -> None:
    """``_load_hf`` serving plain rows for a hub id (what a streamed hub dataset yields), loads recorded."""
    def load(path, name, split, *, streaming, data_files, cache_dir, revision=None):
        loads.append(revision)
        return [{"text": f"Row {i} of {path}."} for i in range(12)]

    monkeypatch.setattr(hub, "_load_hf", load)


def test_the_shard_cache_keeps_the_commit_for_cache_hits_and_resumes_at_it(online, monkeypatch, tmp_path):
    loads, asked = [], []
    _hub_rows(monkeypatch, loads)
    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: asked.append(a) or SHA)
    cache = cache_hf_documents("org/data", n_documents=5, cache_dir=tmp_path, shard_documents=2)
    assert cache.hub["revision_resolved"] == SHA and loads == [None] and len(asked) == 1
    (directory,) = (tmp_path / "hf").iterdir()
    assert json.loads((directory / "progress.json").read_text())["spec"].keys() == {
        "path", "name", "split", "text_field", "data_files", "n_documents", "shard_documents"}  # key unchanged
    monkeypatch.setattr(hub, "hub_commit", _no_lookup)
    assert cache_hf_documents("org/data", n_documents=5, cache_dir=tmp_path, shard_documents=2).hub == cache.hub
    # an interrupted selection reads on at its recorded commit
    progress = json.loads((directory / "progress.json").read_text())
    progress.update(complete=False, rows=2, documents=2, shards=progress["shards"][:1])
    (directory / "progress.json").write_text(json.dumps(progress))
    resumed = _skippable(monkeypatch, loads)
    again = cache_hf_documents("org/data", n_documents=5, cache_dir=tmp_path, shard_documents=2)
    assert loads[-1] == SHA and again.hub == cache.hub and resumed == [2]
    # a cache filled before commits were recorded claims none
    del progress["hub"]
    progress["complete"] = True
    (directory / "progress.json").write_text(json.dumps(progress))
    old = cache_hf_documents("org/data", n_documents=5, cache_dir=tmp_path, shard_documents=2).hub
    assert old["revision_resolved"] is None and "cached before" in old["reason"]


def _skippable(monkeypatch, loads: list) -> list:
    """Rows as a resumable stream (``skip``), the skipped row counts recorded."""
    skipped = []

    class Rows(list):
        def skip(self, n):
            skipped.append(n)
            return Rows(self[n:])

    def load(path, name, split, *, streaming, data_files, cache_dir, revision=None):
        loads.append(revision)
        return Rows({"text": f"Row {i} of {path}."} for i in range(12))

    monkeypatch.setattr(hub, "_load_hf", load)
    return skipped


def test_local_files_in_the_shard_cache_record_no_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "hub_commit", _no_lookup)
    data = _rows(tmp_path / "rows.jsonl", 12)
    assert cache_hf_documents("json", data_files=str(data), n_documents=3, cache_dir=tmp_path / "c").hub is None


def test_a_modified_cached_shard_is_named_and_never_used(tmp_path, monkeypatch):
    data = _rows(tmp_path / "rows.jsonl", 40)
    first = cache_hf_documents("json", data_files=str(data), n_documents=25, cache_dir=tmp_path / "c",
                               shard_documents=10)
    progress = json.loads((first.directory / "progress.json").read_text())
    assert set(progress["sha256"]) == set(progress["shards"])
    tampered = first.shards[1]
    tampered.write_text(tampered.read_text().replace("문서", "xx", 1), encoding="utf-8")
    with pytest.raises(SourceError, match=rf"{tampered}: the cached shard differs .*delete {first.directory}"):
        cache_hf_documents("json", data_files=str(data), n_documents=25, cache_dir=tmp_path / "c", shard_documents=10)
