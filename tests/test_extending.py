"""The README's "Extending the kit" recipes, followed once each: a new unlearning method, a new attack stage and a
new figure, each defined in this test module and run through the same code paths as the kit's own. (The fourth
recipe, a new evaluation, is followed in tests/evals/test_registry.py.)"""

import json
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest

from undo import stages, unlearn
from undo.config import Ref, option
from undo.losses import cross_entropy
from undo.models import save_model
from undo.pipeline import Graph, run_nodes
from undo.stages import Context
from undo.stages import unlearn as unlearn_stage
from undo.store import Store, write_json_atomic
from undo.train import OptimConfig
from undo.unlearn.common import ForgetRetainMethod

# -- recipe 1: an unlearning method is one class registered by name ---------------------------------------------

@dataclass(frozen=True, kw_only=True)
class AscentConfig:
    retain_weight: float = option(0.5, "weight of the retain CE", ge=0)


class Ascent(ForgetRetainMethod):
    """Gradient ascent on forget plus a retain CE (GradDiff with another default), as a user would add it."""

    Config = AscentConfig

    def __init__(self, cfg: AscentConfig):
        self.cfg = cfg

    def forget_loss(self, model, forget):
        ce = cross_entropy(forget.forward(model).logits, forget.input_ids, forget.targets)
        return -ce, {"forget_ce": ce.item()}

    def retain_loss(self, model, retain):
        ce = cross_entropy(retain.forward(model).logits, retain.input_ids, retain.targets)
        return self.cfg.retain_weight * ce, {"retain_ce": ce.item()}


@pytest.fixture
def ascent():
    unlearn.register("ascent")(Ascent)
    yield
    unlearn.REGISTRY.pop("ascent")


def test_a_new_unlearning_method_runs_in_the_unlearn_stage(ascent, tmp_path, tiny_model, byte_tok):
    save_model(tiny_model, byte_tok, tmp_path / "model" / "model")
    rng = np.random.default_rng(0)
    for name in ("forget", "retain"):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "tokens.npy", rng.integers(3, 259, size=(8, 16)).astype(np.int32))
    cfg = unlearn_stage.Config(model=Ref("m.yaml"), forget=Ref("f.yaml"), retain=Ref("r.yaml"), method="ascent",
                               options={"retain_weight": 0.25},
                               optim=OptimConfig(lr=1e-3, schedule="constant", batch_size=2, max_steps=2))
    cfg.validate()
    work = tmp_path / "work"
    work.mkdir()
    inputs = {"m.yaml": types.SimpleNamespace(path=tmp_path / "model"),
              "f.yaml": types.SimpleNamespace(path=tmp_path / "forget"),
              "r.yaml": types.SimpleNamespace(path=tmp_path / "retain")}
    unlearn_stage.run(Context(cfg=cfg, name="ascent", workdir=work, inputs=inputs))
    assert (work / "model" / "model.safetensors").is_file()
    with pytest.raises(ValueError, match="options.retain_weight: must be >= 0"):
        unlearn_stage.Config(model=Ref("m.yaml"), forget=Ref("f.yaml"), retain=Ref("r.yaml"), method="ascent",
                             options={"retain_weight": -1.0}, optim=OptimConfig(lr=1e-3)).validate()


# -- recipe 2: an attack (any new stage) is one module with NAME, CODE_VERSION, Config and run ------------------

def _attack_module():
    mod = types.ModuleType("noise_attack")

    @dataclass(frozen=True, kw_only=True)
    class Config:
        scale: float = option(doc="how hard the attack hits", gt=0)
        seed: int = option(0, "attack seed")

    def run(ctx: Context) -> dict:
        value = float(np.random.default_rng(ctx.cfg.seed).normal() * ctx.cfg.scale)
        write_json_atomic(ctx.workdir / "results.json", {"damage": value, "higher_is_better": True})
        return {"damage": value}

    mod.NAME, mod.CODE_VERSION, mod.Config, mod.run = "noise_attack", 1, Config, run
    return mod


def test_a_new_attack_stage_runs_in_a_graph_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(stages, "STAGES", dict(stages.STAGES))  # leave the kit's registry as it was
    stages.register(_attack_module())
    (tmp_path / "attack.yaml").write_text("stage: noise_attack\nscale: 2.0\nsweep: {seed: [0, 1]}\n")
    store = Store(tmp_path / "artifacts")
    nodes = Graph(store, "smoke").plan([tmp_path / "attack.yaml"])
    assert [n.name for n in nodes] == [f"{tmp_path.name}-attack-seed0", f"{tmp_path.name}-attack-seed1"]
    run_nodes(nodes, device="cpu", scale="smoke", echo=lambda *_: None)
    done = [json.loads((n.artifact.path / "results.json").read_text()) for n in nodes]
    assert all(n.artifact.done for n in nodes) and done[0] != done[1]
    again = Graph(store, "smoke").plan([tmp_path / "attack.yaml"])
    assert [n.key for n in again] == [n.key for n in nodes] and all(n.artifact.done for n in again)
    with pytest.raises(ValueError, match="has no run"):
        stages.register(types.SimpleNamespace(NAME="x", CODE_VERSION=1, Config=object))


# -- recipe 3: a figure is one module with draw(results, out_base), named by a figure config --------------------

FIGURE_MODULE = '''
from pathlib import Path


def draw(results, out_base):
    damages = [r["results"]["damage"] for r in results["series"]["toy/attack"]]
    path = Path(str(out_base) + ".md")
    path.write_text(f"{results['options']['title']}: {len(damages)} attacks\\n")
    return [path]
'''


def test_a_new_figure_module_is_named_by_its_config(tmp_path, monkeypatch):
    monkeypatch.setattr(stages, "STAGES", dict(stages.STAGES))
    stages.register(_attack_module())
    (tmp_path / "toyfig_module.py").write_text(FIGURE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("UNDO_FIGURES", str(tmp_path / "figures"))
    (tmp_path / "attack.yaml").write_text("stage: noise_attack\nscale: 1.0\nsweep: {seed: [0, 1, 2]}\n")
    (tmp_path / "toyfig.yaml").write_text("stage: figure\nscript: toyfig_module\noutput: toy\n"
                                          "series: {toy/attack: attack.yaml}\noptions: {title: Toy}\n")
    nodes = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / "toyfig.yaml"])
    run_nodes(nodes, device="cpu", scale="smoke", echo=lambda *_: None)
    out = tmp_path / "figures" / "smoke"
    assert (out / "toy.md").read_text() == "Toy: 3 attacks\n"
    results = json.loads((out / "toy.json").read_text())
    assert results["options"]["settings"]["toy"]["higher_is_better"] is True  # the direction its results state
    sys.modules.pop("toyfig_module", None)
