"""Text sources for the language setting: wheels, plain UTF-8 text, the hub shard cache, fast hub failure.

Offline and fast: archives are built in tmp_path, pip is faked, and the only socket opened is to a closed
loopback port.
"""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from undo.data import sources
from undo.data.sources import (
    KONLPY_WHEEL,
    SourceError,
    cache_hf_documents,
    check_hub_reachable,
    fetch_pypi_archive,
    plain_text_documents,
    sha256_file,
)


def _zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# A bill as pdftotext writes it: every line followed by a blank line, words cut at the margin
# ("보살핌이 필요" / "한 나이"), page numbers and rules of dashes.
WRAPPED = (
    "지방공무원법 일부개정법률안\n\n"
    "초등학교 저학년의 경우에도 부모의 따뜻한 사랑과 보살핌이 필요\n\n"
    "한 나이이나, 현재 공무원이 자녀를 양육하기 위하여 육아휴직을 할 \n\n"
    "수 있는 자녀의 나이는 만 6세 이하로 되어 있음.\n\n"
    "- 1 -\n\n\x0c"
    "----------------------------\n\n"
    "부      칙\n\n"
    "이 법은 공포한 날부터 시행한다.\n"
)


def test_plain_text_rejoins_wrapped_lines_and_drops_layout(tmp_path):
    wheel = _zip(tmp_path / "k.whl", {"konlpy/data/corpus/kobill/1.txt": WRAPPED.encode()})
    (doc,) = plain_text_documents(wheel, KONLPY_WHEEL["member_glob"], min_chars=10, max_chars=1000)
    assert "보살핌이 필요한 나이이나" in doc  # cut mid-word: joined without a space
    assert "육아휴직을 할 수 있는" in doc  # wrapped at a space: joined with one
    assert "- 1 -" not in doc and "---" not in doc and "\x0c" not in doc
    assert doc.startswith("지방공무원법 일부개정법률안\n\n초등학교")  # short title line ends its paragraph
    assert "부 칙\n\n이 법은" in doc


def test_plain_text_chunks_within_bounds_and_is_deterministic(tmp_path):
    from conftest import korean_text

    wheel = _zip(tmp_path / "k.whl", {f"konlpy/data/corpus/kobill/{i}.txt": korean_text(40, i) for i in range(3)})
    docs = plain_text_documents(wheel, KONLPY_WHEEL["member_glob"], min_chars=30, max_chars=90)
    assert len(docs) > 20 and all(30 <= len(d) <= 90 for d in docs)
    assert docs == plain_text_documents(wheel, KONLPY_WHEEL["member_glob"], min_chars=30, max_chars=90)


def test_plain_text_bad_inputs(tmp_path):
    latin1 = _zip(tmp_path / "a.whl", {"konlpy/data/corpus/x/bad.txt": "caf\xe9 ".encode("latin-1") * 50})
    with pytest.raises(SourceError, match=r"a.whl:konlpy/data/corpus/x/bad.txt is not UTF-8 text \(byte 3"):
        plain_text_documents(latin1, KONLPY_WHEEL["member_glob"])
    empty = _zip(tmp_path / "e.whl", {"konlpy/data/corpus/x/empty.txt": b"", "konlpy/data/corpus/x/rule.txt": b"----\n"})
    with pytest.raises(SourceError, match="hold no document .*empty corpus"):
        plain_text_documents(empty, KONLPY_WHEEL["member_glob"], min_chars=1)
    with pytest.raises(SourceError, match="no member"):
        plain_text_documents(empty, "*.md")


def test_wheel_served_from_cache_without_network(tmp_path, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("pip must not run when the cache holds the verified wheel")

    monkeypatch.setattr(sources.subprocess, "run", forbidden)
    wheel = _zip(tmp_path / "pypi.whl", {"konlpy/data/corpus/a.txt": "가나다"})
    (tmp_path / "pypi").mkdir()
    cached = tmp_path / "pypi" / "konlpy-0.6.0-py2.py3-none-any.whl"
    wheel.rename(cached)
    assert fetch_pypi_archive("konlpy", "0.6.0", sha256_file(cached), tmp_path, dist="wheel") == cached
    # the same file is not taken for an sdist, nor for another version
    with pytest.raises(AssertionError):
        fetch_pypi_archive("konlpy", "0.6.0", sha256_file(cached), tmp_path, dist="sdist")
    with pytest.raises(AssertionError):
        fetch_pypi_archive("konlpy", "0.5.2", sha256_file(cached), tmp_path, dist="wheel")


def test_wheel_download_uses_only_binary_and_verifies(tmp_path, monkeypatch):
    payload = b"wheel bytes"
    calls = []

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        (Path(cmd[cmd.index("--dest") + 1]) / "konlpy-0.6.0-py2.py3-none-any.whl").write_bytes(payload)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(sources.subprocess, "run", fake_pip)
    import hashlib

    path = fetch_pypi_archive("konlpy", "0.6.0", hashlib.sha256(payload).hexdigest(), tmp_path, dist="wheel")
    assert path.read_bytes() == payload and len(calls) == 1
    assert calls[0][calls[0].index("--only-binary") + 1] == ":all:" and "--no-deps" in calls[0]
    with pytest.raises(SourceError, match="checksum mismatch"):
        fetch_pypi_archive("konlpy", "0.6.1", "0" * 64, tmp_path, dist="wheel")


def test_konlpy_constant():
    assert KONLPY_WHEEL["dist"] == "wheel" and len(KONLPY_WHEEL["sha256"]) == 64 and KONLPY_WHEEL["license"]


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

    monkeypatch.setattr(sources, "_load_hf", no_load)
    again = cache_hf_documents("json", data_files=str(data), n_documents=25, cache_dir=tmp_path / "c",
                               shard_documents=10)
    assert list(again.documents_iter()) == docs


def test_shard_cache_resumes_an_interrupted_download(tmp_path, monkeypatch):
    data = _rows(tmp_path / "rows.jsonl", 60)
    full = list(cache_hf_documents("json", data_files=str(data), n_documents=45, cache_dir=tmp_path / "ref",
                                   shard_documents=10).documents_iter())

    real_texts = sources._texts

    def dying(ds, where, field):  # the connection drops after 23 rows
        for i, text in enumerate(real_texts(ds, where, field)):
            if i == 23:
                raise ConnectionError("connection reset")
            yield text

    monkeypatch.setattr(sources, "_texts", dying)
    with pytest.raises(ConnectionError):
        cache_hf_documents("json", data_files=str(data), n_documents=45, cache_dir=tmp_path / "c", shard_documents=10)
    (directory,) = (tmp_path / "c" / "hf").iterdir()
    progress = json.loads((directory / "progress.json").read_text())
    assert progress["documents"] == 10 and not progress["complete"]  # the second shard never completed

    monkeypatch.setattr(sources, "_texts", real_texts)
    skipped = []
    real_load = sources._load_hf

    def load(*a, **k):
        ds = real_load(*a, **k)
        orig = ds.skip
        ds.skip = lambda n: skipped.append(n) or orig(n)
        return ds

    monkeypatch.setattr(sources, "_load_hf", load)
    resumed = cache_hf_documents("json", data_files=str(data), n_documents=45, cache_dir=tmp_path / "c",
                                 shard_documents=10)
    assert skipped == [progress["rows"]] and list(resumed.documents_iter()) == full


def test_shard_cache_rejects_a_non_text_column(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": 3}\n{"text": 4}\n')
    with pytest.raises(SourceError, match="not text"):
        cache_hf_documents("json", data_files=str(path), n_documents=2, cache_dir=tmp_path / "c")
