"""Stage ``unlearn`` with every registered method on tiny artifacts, and the shipped unlearn configs."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from undo.config import Ref, build, load_raw
from undo.models import PAD_ID, save_model
from undo.stages import Context
from undo.stages import unlearn as stage
from undo.train import OptimConfig
from undo.unlearn import REGISTRY

REPO = Path(__file__).resolve().parents[2]
DOWN_PROJ = ["model.layers.0.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight"]

METHODS = {
    "graddiff": {"retain_weight": 15.0},
    "maxent": {"retain_weight": 0.3, "retain_loss": "kl", "weighting": "convex"},
    "rmu": {"layer": 1, "trainable_layers": [0, 1], "steering_coeff": 6.0, "retain_weight": 200.0},
    "sam": {"base": "graddiff", "base_options": {"retain_weight": 15.0}, "rho": 0.01},
    "repnoise": {},
    "undial": {"beta": 5.0},
}


def test_every_registered_method_is_exercised():
    assert set(METHODS) == set(REGISTRY)


@pytest.fixture
def upstream(tmp_path, tiny_model, byte_tok):
    """A model artifact and forget/retain dataset artifacts, as the pipeline would hand them over."""
    save_model(tiny_model, byte_tok, tmp_path / "model" / "model")
    rng = np.random.default_rng(0)
    for name in ("forget", "retain"):
        tokens = rng.integers(3, 259, size=(12, 16)).astype(np.int32)
        tokens[::3, 12:] = PAD_ID  # some padded windows, so the masks travel through the stage
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "tokens.npy", tokens)
    return tmp_path


def run_stage(root: Path, method: str, options: dict, grad_accum: int = 1):
    cfg = stage.Config(model=Ref("m.yaml"), forget=Ref("f.yaml"), retain=Ref("r.yaml"), method=method, options=options,
                       optim=OptimConfig(lr=1e-3, schedule="constant", batch_size=2, grad_accum=grad_accum, max_steps=2))
    cfg.validate()
    workdir = root / "work" / method
    workdir.mkdir(parents=True)
    inputs = {"m.yaml": SimpleNamespace(path=root / "model"), "f.yaml": SimpleNamespace(path=root / "forget"),
              "r.yaml": SimpleNamespace(path=root / "retain")}
    return stage.run(Context(cfg=cfg, name=f"unlearn-{method}", workdir=workdir, inputs=inputs)), workdir


@pytest.mark.parametrize("method", sorted(METHODS))
def test_stage_runs_each_method(upstream, method, tiny_model):
    summary, workdir = run_stage(upstream, method, METHODS[method], grad_accum=2 if method == "sam" else 1)
    assert summary["steps"] == 2
    assert json.loads((workdir / "metrics.json").read_text())["steps"] == 2
    history = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(row["train/loss"]) for row in history)

    from transformers import AutoModelForCausalLM
    trained = AutoModelForCausalLM.from_pretrained(workdir / "model").state_dict()
    changed = {n for n, p in tiny_model.state_dict().items() if not torch.equal(p, trained[n])}
    if method == "rmu":
        assert summary["trainable_tensors"] == DOWN_PROJ
        assert changed == set(DOWN_PROJ)
    else:
        assert summary["trainable_tensors"] == "all"
        assert summary["trainable_parameters"] == sum(p.numel() for p in tiny_model.parameters())
        assert "model.embed_tokens.weight" in changed


@pytest.mark.parametrize("setting", ["arithmetic", "language"])
@pytest.mark.parametrize("name", ["unlearn_maxent.yaml", "unlearn_graddiff.yaml", "unlearn_rmu.yaml"])
@pytest.mark.parametrize("scale", ["paper", "mini", "smoke"])
def test_shipped_configs_build(setting, name, scale):
    raw = load_raw(REPO / "reproduce" / "synthetic" / setting / name, scale=scale)
    data = {k: v for k, v in raw.data.items() if k not in ("stage", "name")}
    cfg = build(stage.Config, data, file=raw.path)
    method = REGISTRY[cfg.method]
    build(method.Config, cfg.options, file=raw.path)
    if cfg.method == "rmu" and scale != "paper":
        assert max(cfg.options["trainable_layers"]) < 2  # the mini/smoke models have 2 blocks
