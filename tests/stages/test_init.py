"""Stage ``init``: the Unlearn-and-Distill student is pretraining's own initialiser, untrained; shipped configs; a
published pretrained model (Section 6) stored as a built model is, pinned by revision, gated models refused early."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from undo.config import Ref, build, load_raw
from undo.models import ModelConfig, build_model, load_model
from undo.stages import Context, pretrain
from undo.stages import init as stage

REPO = Path(__file__).resolve().parents[2]
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=64,
                   sliding_window=64)


def test_init_saves_the_pretraining_initialisation(tmp_path, byte_tok):
    byte_tok.save_pretrained(tmp_path / "data" / "tokenizer")
    cfg = stage.Config(data=Ref("d.yaml"), model=TINY, seed=7)
    (tmp_path / "work").mkdir()
    ctx = Context(cfg=cfg, name="init", workdir=tmp_path / "work", inputs={"d.yaml": SimpleNamespace(path=tmp_path / "data")})
    summary = stage.run(ctx)
    assert summary["steps"] == 0 and summary["eval"] == {} and summary["parameters"] > 0
    saved = load_model(tmp_path / "work" / "model")
    fresh = build_model(TINY, len(byte_tok), seed=7)  # what pretrain.run builds before its first step
    for (name, a), (_, b) in zip(saved.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    other = build_model(TINY, len(byte_tok), seed=8)
    assert not torch.equal(other.model.embed_tokens.weight, saved.model.embed_tokens.weight)


def test_shipped_init_configs_match_pretraining_architecture():
    for setting in ("arithmetic", "language"):
        for scale in ("paper", "mini", "smoke"):
            raw = load_raw(REPO / "reproduce" / "synthetic" / setting / "init.yaml", scale)
            raw.data.pop("stage"), raw.data.pop("name", None)
            cfg = build(stage.Config, raw.data, file=raw.path)
            ref = load_raw(REPO / "reproduce" / "synthetic" / setting / "pretrain_reference.yaml", scale)
            ref.data.pop("stage"), ref.data.pop("name", None)
            pre = build(pretrain.Config, ref.data, file=ref.path)
            assert cfg.model == pre.model and cfg.data == pre.data, (setting, scale)


def test_unlearn_and_distill_runs_as_many_steps_as_pretraining():
    from undo.stages import distill

    for setting, methods in (("arithmetic", ("graddiff", "maxent", "rmu")), ("language", ("maxent",))):
        for scale in ("paper", "mini", "smoke"):
            ref = load_raw(REPO / "reproduce" / "synthetic" / setting / "pretrain_reference.yaml", scale).data["optim"]
            raw = load_raw(REPO / "reproduce" / "synthetic" / setting / "distill_random.yaml", scale)
            assert raw.sweeps[0]["teacher"] == ["select_graddiff.yaml", "select_maxent.yaml", "select_rmu.yaml"]
            for method in methods:  # one instance per teacher: the model its sweep chose
                data = {**raw.data, "teacher": f"select_{method}.yaml"}
                data.pop("stage")
                cfg = build(distill.Config, data, file=raw.path)
                assert Path(cfg.student).name == "init.yaml" and cfg.stop is None
                assert cfg.optim.max_steps == ref["max_steps"], (setting, method, scale)


# --------------------------------------------------------------------------------------------------
# pretrained: a published model as the stage's output (Section 6: google/gemma-2-2b)
# --------------------------------------------------------------------------------------------------

GATED = "google/gemma-2-2b: gated model: accept its licence on huggingface.co and set HF_TOKEN (see README, 'Paper scale')"


def _cli(tmp_path, config):
    from click.testing import CliRunner

    from undo.cli import cli

    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "artifacts"), "run", str(tmp_path / config),
                                      "--scale", "smoke"])
    return result.exit_code, [line for line in result.output.splitlines() if line.strip() and not line.startswith(("[", " "))
                              and "stage instances" not in line]


def _nothing_stored(tmp_path) -> bool:
    store = tmp_path / "artifacts"
    return not any(store.rglob("DONE")) and not any(p.is_dir() for p in store.glob("*/.partial/*"))


def _published(tmp_path, byte_tok) -> Path:
    """A tiny Gemma-2 and its tokenizer saved as a published model is (save_pretrained)."""
    from undo.models import save_model

    model = build_model(TINY, len(byte_tok), seed=11)
    save_model(model, byte_tok, tmp_path / "published")
    return tmp_path / "published"


def test_pretrained_from_a_local_directory_is_stored_like_a_built_model(tmp_path, byte_tok):
    import json

    from undo.config import key_view
    from undo.pipeline import Graph, run_nodes
    from undo.stages.common import artifact_tokenizer
    from undo.store import Store

    published = _published(tmp_path, byte_tok)
    (tmp_path / "base.yaml").write_text(f"stage: init\npretrained: {{name_or_path: {published}}}\n")
    (node,) = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / "base.yaml"])
    run_nodes([node], device="cpu", scale="smoke", echo=lambda *_: None)
    saved = load_model(node.artifact.path / "model")  # what every downstream stage does
    original = build_model(TINY, len(byte_tok), seed=11)
    for (name, a), (_, b) in zip(saved.state_dict().items(), original.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert saved.config._attn_implementation == "eager" and saved.dtype == torch.float32
    tok = artifact_tokenizer(node.artifact.path)
    assert tok("Question: x")["input_ids"] == byte_tok("Question: x")["input_ids"]
    metrics = json.loads((node.artifact.path / "metrics.json").read_text())
    assert metrics["steps"] == 0 and metrics["parameters"] == sum(p.numel() for p in original.parameters())
    assert metrics["pretrained"]["name_or_path"] == str(published) and metrics["pretrained"]["revision"] is None
    assert "hub" not in metrics  # a local directory has no hub commit
    assert key_view(node.cfg, {})["pretrained"] == {"name_or_path": str(published), "revision": None}


def test_a_random_init_keeps_its_key(tmp_path):
    from undo.config import key_view

    cfg = stage.Config(data=Ref("d.yaml"), model=TINY, seed=7)
    assert list(key_view(cfg, {"d.yaml": "k"})) == ["data", "model", "seed", "eval"]  # no pretrained: not re-keyed


@pytest.mark.parametrize("config, key, message", [
    ("seed: 1\n", "data", "a random init needs the dataset whose tokenizer fixes its vocabulary (or set pretrained)"),
    ("data: d.yaml\n", "model", "a random init needs its architecture (or set pretrained)"),
    ("pretrained: {name_or_path: google/gemma-2-2b}\nmodel: {hidden_size: 32}\n", "model",
     "a pretrained model brings its own architecture; remove model"),
    ("pretrained: {name_or_path: google/gemma-2-2b}\ndata: d.yaml\n", "data",
     "a pretrained model brings its own tokenizer; remove data"),
    ("pretrained: {revision: abc}\n", "pretrained.name_or_path", "required key is missing"),
])
def test_init_settings_are_one_line_naming_the_key(tmp_path, config, key, message):
    from undo.config import ConfigError
    from undo.pipeline import Graph
    from undo.store import Store

    (tmp_path / "d.yaml").write_text("stage: tokenizer\nkind: bytes\n")
    (tmp_path / "i.yaml").write_text("stage: init\n" + config)
    with pytest.raises(ConfigError) as err:
        Graph(Store(tmp_path / "artifacts"), "smoke").resolve(tmp_path / "i.yaml")
    assert str(err.value) == f"{tmp_path / 'i.yaml'}: {key}: {message}"


@pytest.fixture
def no_download(monkeypatch):
    """Loading from the hub fails the test: the checks must come first."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def forbidden(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", forbidden)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", forbidden)


@pytest.fixture
def online_without_token(monkeypatch, no_download):
    import huggingface_hub

    for var in ("HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)  # no cached login either
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a hub probe would be refused at once


def test_a_gated_model_without_a_token_fails_in_seconds_before_any_download(tmp_path, online_without_token,
                                                                             monkeypatch):
    import time

    from undo.data import hub

    monkeypatch.setattr(hub, "check_hub_reachable", lambda *a, **k: pytest.fail("the token is checked first"))
    (tmp_path / "base.yaml").write_text("stage: init\npretrained: {name_or_path: google/gemma-2-2b, revision: abc}\n")
    start = time.perf_counter()
    code, out = _cli(tmp_path, "base.yaml")
    assert time.perf_counter() - start < 30  # hang guard, not a speed target
    assert code == 2 and out == [f"error: {GATED}"]
    assert _nothing_stored(tmp_path)


def test_with_a_token_the_next_check_is_the_hub(tmp_path, online_without_token, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    (tmp_path / "base.yaml").write_text("stage: init\npretrained: {name_or_path: google/gemma-2-2b}\n")
    code, out = _cli(tmp_path, "base.yaml")
    assert code == 2 and len(out) == 1 and "model google/gemma-2-2b: cannot reach the Hugging Face hub" in out[0]
    assert _nothing_stored(tmp_path)
    (tmp_path / "open.yaml").write_text("stage: init\npretrained: {name_or_path: org/open-model, gated: false}\n")
    monkeypatch.delenv("HF_TOKEN")
    code, out = _cli(tmp_path, "open.yaml")  # not gated: no token needed, the hub probe answers
    assert code == 2 and len(out) == 1 and "cannot reach the Hugging Face hub" in out[0]


def test_offline_a_hub_model_loads_from_the_cache_at_its_revision(tmp_path, byte_tok, monkeypatch):
    import huggingface_hub
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the cache answers: no token needed
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    calls = []

    def model(name, **kwargs):
        calls.append(("model", name, kwargs))
        return build_model(TINY, len(byte_tok), seed=5)

    def tokenizer(name, **kwargs):
        calls.append(("tokenizer", name, kwargs))
        return byte_tok

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", model)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", tokenizer)
    from undo.data import hub

    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: pytest.fail("the hub was asked for a commit offline"))
    (tmp_path / "base.yaml").write_text("stage: init\npretrained: {name_or_path: google/gemma-2-2b, revision: 0123abcd}\n")
    code, out = _cli(tmp_path, "base.yaml")
    assert code == 0 and out == []
    (metrics,) = (tmp_path / "artifacts").rglob("metrics.json")
    record = json.loads(metrics.read_text())["hub"]  # the stand-in model names no commit, and none is looked up
    assert record["revision_requested"] == "0123abcd" and record["revision_resolved"] is None
    assert record["reason"].startswith("offline (HF_HUB_OFFLINE set)")
    assert calls == [("model", "google/gemma-2-2b", {"revision": "0123abcd", "attn_implementation": "eager",
                                                     "dtype": torch.float32}),
                     ("tokenizer", "google/gemma-2-2b", {"revision": "0123abcd"})]
    (done,) = (tmp_path / "artifacts").rglob("DONE")
    saved = load_model(done.parent / "model")
    assert torch.equal(saved.model.embed_tokens.weight, build_model(TINY, len(byte_tok), seed=5).model.embed_tokens.weight)


def test_a_name_that_is_neither_a_directory_nor_a_hub_id_is_one_line(tmp_path, no_download):
    (tmp_path / "base.yaml").write_text("stage: init\npretrained: {name_or_path: ./no/such/model}\n")
    code, out = _cli(tmp_path, "base.yaml")
    assert code == 2 and out == ["error: ./no/such/model: no such model directory, and not a hub id like 'org/name'"]
    assert _nothing_stored(tmp_path)


def test_a_local_directory_has_no_revision(tmp_path, byte_tok):
    published = _published(tmp_path, byte_tok)
    (tmp_path / "base.yaml").write_text(f"stage: init\npretrained: {{name_or_path: {published}, revision: abc}}\n")
    code, out = _cli(tmp_path, "base.yaml")
    assert code == 2 and out == [f"error: {published}: a local directory has no revisions; remove revision or give a "
                                 "hub id"]
    assert _nothing_stored(tmp_path)


SHA = "0123456789abcdef0123456789abcdef01234567"


def test_an_unpinned_hub_model_records_the_commit_transformers_read(tmp_path, byte_tok, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from undo.data import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setattr(hub, "check_hub_reachable", lambda *a, **k: None)

    def model(name, **kwargs):
        built = build_model(TINY, len(byte_tok), seed=5)
        built.config._commit_hash = SHA  # what transformers sets from the files it read
        return built

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", model)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", lambda name, **kwargs: byte_tok)
    monkeypatch.setattr(hub, "hub_commit", lambda *a, **k: pytest.fail("the loaded commit needs no lookup"))
    (tmp_path / "base.yaml").write_text("stage: init\npretrained: {name_or_path: google/gemma-2-2b}\n")
    code, out = _cli(tmp_path, "base.yaml")
    assert code == 0 and out == []
    (done,) = (tmp_path / "artifacts").rglob("DONE")
    metrics = json.loads((done.parent / "metrics.json").read_text())
    assert metrics["hub"] == {"path": "google/gemma-2-2b", "config": None, "revision_requested": None,
                              "revision_resolved": SHA}
    assert (f"google/gemma-2-2b: no revision pinned; read commit {SHA} (pin it with revision: {SHA})"
            in (done.parent / "log.txt").read_text().splitlines())
