"""Stage ``init``: the Unlearn-and-Distill student is pretraining's own initialiser, untrained; shipped configs."""

from pathlib import Path
from types import SimpleNamespace

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
