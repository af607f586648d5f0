"""Stage ``tokenizer``: a pretrained tokenizer pinned by ``revision`` (hub ids only), offline."""

from __future__ import annotations

import json

from click.testing import CliRunner

from undo.cli import cli
from undo.config import key_view
from undo.pipeline import Graph, run_nodes
from undo.store import Store


def _cli(tmp_path, config):
    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "artifacts"), "run", str(tmp_path / config),
                                      "--scale", "smoke"])
    return result.exit_code, [line for line in result.output.splitlines() if line.strip() and not line.startswith(("[", " "))
                              and "stage instances" not in line]


def test_a_revision_reaches_the_hub_load_and_the_key_only_when_set(tmp_path, monkeypatch, byte_tok):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # served from the Hugging Face cache (here: a stand-in)
    calls = []
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", lambda name, **kw: calls.append((name, kw)) or byte_tok)
    (tmp_path / "plain.yaml").write_text("stage: tokenizer\nkind: pretrained\nname_or_path: google/gemma-2-2b\n")
    (tmp_path / "pinned.yaml").write_text("stage: tokenizer\nkind: pretrained\nname_or_path: google/gemma-2-2b\n"
                                          "revision: 0123abcd\n")
    plain, pinned = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / "plain.yaml",
                                                                        tmp_path / "pinned.yaml"])
    run_nodes([plain, pinned], device="cpu", scale="smoke", echo=lambda *_: None)
    assert calls == [("google/gemma-2-2b", {}), ("google/gemma-2-2b", {"revision": "0123abcd"})]
    assert "revision" not in key_view(plain.cfg, {}) and key_view(pinned.cfg, {})["revision"] == "0123abcd"
    assert json.loads((pinned.artifact.path / "metrics.json").read_text())["revision"] == "0123abcd"
    assert "revision" not in json.loads((plain.artifact.path / "metrics.json").read_text())
    assert (pinned.artifact.path / "tokenizer" / "tokenizer.json").is_file()


def test_a_revision_of_a_local_tokenizer_is_one_line_and_stores_nothing(tmp_path, byte_tok):
    byte_tok.save_pretrained(tmp_path / "tok")
    (tmp_path / "t.yaml").write_text(f"stage: tokenizer\nkind: pretrained\nname_or_path: {tmp_path / 'tok'}\n"
                                     "revision: abc\n")
    code, out = _cli(tmp_path, "t.yaml")
    assert code == 2 and len(out) == 1 and "a revision (abc) pins a hub id like 'org/name', not a local path" in out[0]
    assert not any((tmp_path / "artifacts").rglob("DONE"))
    assert not any(p.is_dir() for p in (tmp_path / "artifacts").glob("*/.partial/*"))


def test_a_scale_overlay_to_a_local_tokenizer_ignores_the_revision(tmp_path):
    # paper: gemma-2-2b's tokenizer pinned; smoke: raw bytes, the paper's revision merged underneath
    (tmp_path / "t.yaml").write_text("stage: tokenizer\nkind: pretrained\nname_or_path: google/gemma-2-2b\n"
                                     "revision: 0123abcd\nscales: {smoke: {kind: bytes}}\n")
    (node,) = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / "t.yaml"])
    run_nodes([node], device="cpu", scale="smoke", echo=lambda *_: None)
    assert json.loads((node.artifact.path / "metrics.json").read_text()) == {"vocab_size": 259, "kind": "bytes"}


SHA = "0123456789abcdef0123456789abcdef01234567"


def test_a_hub_tokenizer_records_the_commit_it_read(tmp_path, monkeypatch, byte_tok):
    from transformers import AutoTokenizer

    from undo.data import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "check_hub_reachable", lambda *a, **k: None)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", lambda name, **kw: byte_tok)
    asked = []
    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: asked.append((a, k)) or SHA)
    (tmp_path / "t.yaml").write_text("stage: tokenizer\nkind: pretrained\nname_or_path: google/gemma-2-2b\n")
    (node,) = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / "t.yaml"])
    run_nodes([node], device="cpu", scale="smoke", echo=lambda *_: None)
    assert asked == [(("google/gemma-2-2b", None), {"repo_type": "model"})]
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["hub"]["revision_resolved"] == SHA and metrics["hub"]["revision_requested"] is None
    assert f"(pin it with revision: {SHA})" in (node.artifact.path / "log.txt").read_text()
