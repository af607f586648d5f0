"""Stage ``relearn``: the learning-rate grid is extended until it brackets the attacker's best rate, or the stage
refuses (or, with ``on_edge: flag``, records that it could not); diverged rates score NaN; lineage is recorded."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from undo.attacks import relearn as attacks
from undo.config import Ref
from undo.evals import EvalConfig
from undo.evals.arithmetic import ArithmeticEvalConfig
from undo.models import save_model
from undo.stages import Context
from undo.stages import relearn as stage

STEPS = [0, 5, 10]


def curve(final):
    return {"step": STEPS, "forget": [0.0, final / 2, final], "retain": [0.9, 0.8, 0.7], "train_loss": [None] * 3}


@pytest.fixture
def upstream(tmp_path, tiny_model, byte_tok):
    save_model(tiny_model, byte_tok, tmp_path / "model" / "model")
    (tmp_path / "model" / "metrics.json").write_text(json.dumps({"steps": 40, "max_steps": 40, "stop_reached": False}))
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "tokens.npy", np.random.default_rng(0).integers(3, 259, (8, 16)).astype(np.int32))
    return tmp_path


def run_stage(root: Path, monkeypatch, strength, lrs=(1e-4, 3e-4, 1e-3), bracket=None, name="attack"):
    """Run the stage with the attack itself replaced: the curve at rate lr ends at ``strength(lr)``."""
    calls = []

    def fake_relearn_one(model, initial, batches, lr, **kw):
        calls.append(lr)
        return curve(strength(lr))

    monkeypatch.setattr(stage, "relearn_one", fake_relearn_one)
    cfg = stage.Config(model=Ref("m.yaml"), data=Ref("d.yaml"), lrs=lrs, steps=10, eval_every=5,
                       eval=EvalConfig(arithmetic=ArithmeticEvalConfig(n_per_metric=2, add_sub_max=5, mul_div_max=5,
                                                                       formats=("equation",))),
                       bracket=bracket)
    cfg.validate()
    workdir = root / name
    workdir.mkdir(exist_ok=True)  # a test may have left an interrupted run there
    inputs = {"m.yaml": SimpleNamespace(path=root / "model", relpath="pretrain/m", stage="distill"),
              "d.yaml": SimpleNamespace(path=root / "data")}
    stage.run(Context(cfg=cfg, name=name, workdir=workdir, inputs=inputs))
    return json.loads((workdir / "results.json").read_text()), calls


def peaked(at):
    """Attack strength peaking at rate ``at``: accuracy 0.9 there, falling off by decade."""
    return lambda lr: max(0.0, 0.9 - 0.3 * abs(math.log10(lr / at)))


def test_interior_best_rate_needs_no_extension(upstream, monkeypatch):
    res, calls = run_stage(upstream, monkeypatch, peaked(3e-4), bracket=stage.BracketRule())
    assert calls == [1e-4, 3e-4, 1e-3] and res["extra_lrs"] == {"up": 0, "down": 0} and res["bracketed"] is True
    assert res["lrs"] == ["0.0001", "0.0003", "0.001"]


def test_best_rate_at_the_top_edge_extends_the_grid_until_bracketed(upstream, monkeypatch):
    res, calls = run_stage(upstream, monkeypatch, peaked(8e-3), bracket=stage.BracketRule(factor=3.0, max_extra=3))
    assert calls == [1e-4, 3e-4, 1e-3, 3e-3, 9e-3, 0.027]  # 9e-3 is best; 0.027 shows it is interior
    assert res["extra_lrs"] == {"up": 3, "down": 0} and res["bracketed"] is True
    assert set(res["curves"]) == {attacks.lr_key(lr) for lr in calls}


def test_best_rate_at_the_bottom_edge_extends_downwards(upstream, monkeypatch):
    res, calls = run_stage(upstream, monkeypatch, peaked(4e-5), bracket=stage.BracketRule(max_extra=2))
    # 3.3e-5 is the best and now the lowest: one more rate below shows it is interior
    assert calls[3:] == pytest.approx([1e-4 / 3, 1e-4 / 9], rel=1e-5) and res["extra_lrs"]["down"] == 2
    assert res["bracketed"] is True


def test_still_at_an_edge_after_the_extra_rates_fails_or_is_flagged(upstream, monkeypatch):
    always_higher = lambda lr: min(1.0, lr * 100)  # noqa: E731 - a stronger attack at every higher rate
    with pytest.raises(RuntimeError, match="still the grid's highest"):
        run_stage(upstream, monkeypatch, always_higher, bracket=stage.BracketRule(max_extra=1))
    res, calls = run_stage(upstream, monkeypatch, always_higher, name="flagged",
                           bracket=stage.BracketRule(max_extra=1, on_edge="flag"))
    assert len(calls) == 4 and res["bracketed"] is False


def test_an_edge_within_the_tolerance_of_its_neighbour_is_a_flat_top(upstream, monkeypatch):
    flat = lambda lr: 0.9 if lr >= 3e-4 else 0.5  # noqa: E731
    res, calls = run_stage(upstream, monkeypatch, lambda lr: flat(lr) + (0.005 if lr == 1e-3 else 0.0),
                           bracket=stage.BracketRule(tolerance=0.01))
    assert len(calls) == 3 and res["bracketed"] is True
    res, calls = run_stage(upstream, monkeypatch, lambda lr: flat(lr) + (0.02 if lr == 1e-3 else 0.0), name="b",
                           bracket=stage.BracketRule(tolerance=0.01, max_extra=1, on_edge="flag"))
    assert len(calls) == 4  # beats its neighbour by more than the tolerance: one more rate


def test_lineage_and_no_bracket(upstream, monkeypatch):
    res, calls = run_stage(upstream, monkeypatch, peaked(1e-2))  # no bracket rule: the grid as configured
    assert len(calls) == 3 and res["bracketed"] is None
    assert (res["model_steps"], res["model_max_steps"], res["model_stop_reached"]) == (40, 40, False)


def test_edge_rule_and_strength_directly():
    lower_is_stronger = {1e-4: {"forget": [3.0, 2.5]}, 1e-3: {"forget": [3.0, 2.0]}}  # cross-entropy: lowered
    assert attacks.edge_to_extend(lower_is_stronger, "forget", False, 0.0) == "up"
    raised_most_by_the_lowest = {1e-4: {"forget": [0.1, 0.5]}, 1e-3: {"forget": [0.1, 0.2]}}  # accuracy: raised
    assert attacks.edge_to_extend(raised_most_by_the_lowest, "forget", True, 0.0) == "down"
    # an unlearning that removed nothing: every update only lowers the accuracy, the lowest rate least. A lower rate
    # cannot elicit more than the unattacked model's own value (step 0), so the grid is bracketed from below
    nothing_removed = {1e-5: {"forget": [0.99, 0.99]}, 1e-4: {"forget": [0.99, 0.74]}, 1e-3: {"forget": [0.99, 0.36]}}
    assert attacks.edge_to_extend(nothing_removed, "forget", True, 0.01) is None
    assert attacks.edge_to_extend(lower_is_stronger, "forget", True, 0.0) is None  # the same with falling values
    barely = {1e-5: {"forget": [0.90, 0.95]}, 1e-4: {"forget": [0.90, 0.80]}}  # +0.05 over the unattacked model
    assert attacks.edge_to_extend(barely, "forget", True, 0.01) == "down"
    assert attacks.edge_to_extend(barely, "forget", True, 0.06) is None
    diverged = {1e-4: {"forget": [0.0, 0.5]}, 1e-3: {"forget": [0.0, math.nan]}, 1e-5: {"forget": [0.0, 0.2]}}
    assert attacks.attack_strength(diverged[1e-3], "forget", True) == (-math.inf, -math.inf)
    assert attacks.edge_to_extend(diverged, "forget", True, 0.0) is None  # the diverged top rate is the weakest


def test_a_diverging_rate_scores_nan_after_it_diverges(tiny_model, monkeypatch):
    from undo.train import Batches, TrainingDiverged

    def diverging_train(model, loss_fn, batch_fn, cfg, *, history, eval_fn, **kw):
        for step in (0, 2):  # two evaluations, then the loss is no longer finite
            history.append({"step": step, "eval/forget": 0.1 * step, "eval/retain": 0.9})
        raise TrainingDiverged("t", math.nan, 3, 10.0)

    monkeypatch.setattr(attacks, "train", diverging_train)
    batches = Batches(np.random.default_rng(0).integers(3, 200, (8, 16)), 2, 0)
    c = attacks.relearn_one(tiny_model, attacks.snapshot(tiny_model), batches, 10.0, steps=6, warmup_steps=0,
                            weight_decay=0.0, grad_clip=None, eval_fn=lambda step: {}, eval_every=2, seed=0, device="cpu",
                            desc="t")
    assert c["step"] == [0, 2, 4, 6] and c["diverged"] is True
    assert c["forget"][:2] == [0.0, 0.2] and all(math.isnan(v) for v in c["forget"][2:] + c["retain"][2:])


def test_sparse_evaluation_steps_and_shrink_perturb_before_the_attack(upstream, tiny_model, monkeypatch):
    """App. E: evaluations at chosen steps only; App. D.2.5: the model is shrunk (alpha 0.05, beta 0) before the
    attack, so step 0 already measures the perturbed model."""
    seen = {}

    def fake_relearn_one(model, initial, batches, lr, **kw):
        seen.setdefault("embed", initial["model.embed_tokens.weight"].clone())
        seen["eval_at"], seen["eval_every"] = kw["eval_at"], kw["eval_every"]
        return curve(0.5)

    monkeypatch.setattr(stage, "relearn_one", fake_relearn_one)
    cfg = stage.Config(model=Ref("m.yaml"), data=Ref("d.yaml"), lrs=(1e-3,), steps=10, eval_steps=(2, 5, 10),
                       shrink_alpha=0.05, adversary="sp_forget_retain",
                       eval=EvalConfig(arithmetic=ArithmeticEvalConfig(n_per_metric=2, add_sub_max=5, mul_div_max=5,
                                                                       formats=("equation",))))
    cfg.validate()
    (upstream / "attack").mkdir()
    inputs = {"m.yaml": SimpleNamespace(path=upstream / "model", relpath="pretrain/m", stage="distill"),
              "d.yaml": SimpleNamespace(path=upstream / "data")}
    stage.run(Context(cfg=cfg, name="attack", workdir=upstream / "attack", inputs=inputs))
    assert seen["eval_at"] == (2, 5, 10) and seen["eval_every"] == 0
    assert torch.equal(seen["embed"], 0.95 * tiny_model.model.embed_tokens.weight.detach())
    assert json.loads((upstream / "attack" / "results.json").read_text())["adversary"] == "sp_forget_retain"


def _sparse_attack(upstream, monkeypatch, evaluate, retain_at):
    monkeypatch.setattr(stage, "make_evaluator", lambda *args, **kwargs: evaluate)
    cfg = stage.Config(model=Ref("m.yaml"), data=Ref("d.yaml"), lrs=(1e-3,), steps=4, batch_size=2, eval_steps=(2, 4),
                       retain_at=retain_at, eval=EvalConfig(arithmetic=ArithmeticEvalConfig()))
    (upstream / "attack").mkdir()
    inputs = {"m.yaml": SimpleNamespace(path=upstream / "model", relpath="pretrain/m", stage="distill"),
              "d.yaml": SimpleNamespace(path=upstream / "data")}
    stage.run(Context(cfg=cfg, name="attack", workdir=upstream / "attack", inputs=inputs))
    return json.loads((upstream / "attack" / "results.json").read_text())["curves"]["0.001"]


def test_retain_at_start_scores_the_retain_benchmark_before_the_attack_only(upstream, monkeypatch):
    """The WMDP attacks' figures read retain of the released model (step 0), so later evaluations score forget only
    and record retain as NaN; retain_at: every scores both at every evaluation."""
    calls = []

    def evaluate(model, roles=("retain", "forget")):
        calls.append(roles)
        return {"retain": 0.5 if "retain" in roles else math.nan, "forget": 0.25}

    curve_ = _sparse_attack(upstream, monkeypatch, evaluate, "start")
    assert calls == [("retain", "forget"), ("forget",), ("forget",)]
    assert curve_["step"] == [0, 2, 4] and curve_["forget"] == [0.25] * 3
    assert curve_["retain"][0] == 0.5 and all(math.isnan(v) for v in curve_["retain"][1:])
    calls.clear()
    (upstream / "attack").rename(upstream / "first")
    assert _sparse_attack(upstream, monkeypatch, evaluate, "every")["retain"] == [0.5] * 3
    assert calls == [("retain", "forget")] * 3


def test_retain_at_start_needs_an_evaluator_that_scores_forget_alone(upstream, monkeypatch):
    with pytest.raises(ValueError, match="retain_at"):
        _sparse_attack(upstream, monkeypatch, lambda model: {"retain": 0.5, "forget": 0.25}, "start")


def test_eval_steps_beyond_the_attack_are_refused():
    with pytest.raises(ValueError, match="eval_steps"):
        stage.Config(model=Ref("m.yaml"), data=Ref("d.yaml"), lrs=(1e-3,), steps=10, eval_steps=(5, 20),
                     eval=EvalConfig(arithmetic=ArithmeticEvalConfig())).validate()


def test_relearn_one_evaluates_at_the_listed_steps_only(tiny_model):
    from undo.train import Batches

    tokens = np.random.default_rng(0).integers(3, 259, (8, 16)).astype(np.int64)
    curve_ = attacks.relearn_one(tiny_model, attacks.snapshot(tiny_model), Batches(tokens, 2, 0), 1e-3, steps=6,
                                 warmup_steps=0, weight_decay=0.0, grad_clip=1.0, eval_fn=lambda step: {"forget": 0.0},
                                 eval_every=0, eval_at=(2, 5), seed=0, device="cpu", desc="t")
    assert curve_["step"] == [0, 2, 5, 6]
    assert all(v is not None for v in curve_["train_loss"][1:])


def test_an_unknown_adversary_is_one_line_naming_the_file_and_key(tmp_path):
    from undo.config import ConfigError, build

    for name in ("m.yaml", "d.yaml"):
        (tmp_path / name).write_text("stage: dataset\n")
    data = {"model": "m.yaml", "data": "d.yaml", "lrs": [1e-3], "adversary": "forget_retian",
            "eval": {"kind": "arithmetic", "arithmetic": {}}}
    with pytest.raises(ConfigError, match=r"relearn.yaml: adversary: unknown adversary 'forget_retian'"):
        build(stage.Config, data, file=tmp_path / "relearn.yaml")


def test_a_damaged_curve_of_an_interrupted_run_is_attacked_again(upstream, monkeypatch):
    workdir = upstream / "attack" / "curves"
    workdir.mkdir(parents=True)
    (workdir / f"lr_{stage.lr_key(3e-4)}.json").write_text('{"step": [0, 5')  # cut short
    (workdir / f"lr_{stage.lr_key(1e-4)}.json").write_text(json.dumps(curve(0.4)))
    res, calls = run_stage(upstream, monkeypatch, peaked(3e-4))
    assert calls == [3e-4, 1e-3]  # the damaged rate again, the finished one reused
    assert res["curves"][stage.lr_key(3e-4)]["forget"][-1] == pytest.approx(0.9)


def test_a_really_diverging_rate_is_recorded_and_the_sweep_goes_on(upstream, monkeypatch):
    """A learning rate of 1e30 makes the weights infinite after its first step: the attack records that rate as
    diverged (NaN from its first non-finite evaluation on) and still attacks the rates after it; the summary's best
    rate is among those that did not diverge."""
    cfg = stage.Config(model=Ref("m.yaml"), data=Ref("d.yaml"), lrs=(1e-3, 1e30, 3e-3), steps=4, eval_every=2,
                       batch_size=2, eval=EvalConfig(arithmetic=ArithmeticEvalConfig(
                           n_per_metric=2, add_sub_max=5, mul_div_max=5, formats=("equation",))))
    workdir = upstream / "real"
    workdir.mkdir()
    inputs = {"m.yaml": SimpleNamespace(path=upstream / "model", relpath="pretrain/m", stage="distill"),
              "d.yaml": SimpleNamespace(path=upstream / "data")}
    summary = stage.run(Context(cfg=cfg, name="real", workdir=workdir, inputs=inputs))
    results = json.loads((workdir / "results.json").read_text())
    assert results["lrs"] == ["0.001", "0.003", "1e+30"]
    diverged = results["curves"]["1e+30"]
    assert diverged["diverged"] is True and diverged["step"] == [0, 2, 4]
    assert math.isnan(diverged["forget"][-1]) and not math.isnan(diverged["forget"][0])
    assert [results["curves"][k]["diverged"] for k in ("0.001", "0.003")] == [False, False]
    assert not math.isnan(summary["best_final_forget"])


SMALL_LORA = stage.LoraAdversary(rank=2, alpha=4.0)


def _lora_attack(upstream, monkeypatch, name, lora=SMALL_LORA):
    """A real attack (no fake) of the tiny model at two rates; the evaluator scores the model's CE on the relearning
    data (forget) and the sum of its output head's weights (retain: frozen under LoRA)."""
    probe = torch.from_numpy(np.load(upstream / "data" / "tokens.npy").astype(np.int64))

    def evaluate(model):
        from undo.accel import lm_cross_entropy

        return {"forget": float(lm_cross_entropy(model, probe)), "retain": float(model.lm_head.weight.sum())}

    monkeypatch.setattr(stage, "make_evaluator", lambda *args, **kwargs: evaluate)
    cfg = stage.Config(model=Ref("m.yaml"), data=Ref("d.yaml"), lrs=(1e-2, 3e-2), steps=6, batch_size=2, eval_every=2,
                       lora=lora, checkpoint_every=2, eval=EvalConfig(arithmetic=ArithmeticEvalConfig()))
    cfg.validate()
    (upstream / name).mkdir(exist_ok=True)
    inputs = {"m.yaml": SimpleNamespace(path=upstream / "model", relpath="pretrain/m", stage="distill"),
              "d.yaml": SimpleNamespace(path=upstream / "data")}
    stage.run(Context(cfg=cfg, name=name, workdir=upstream / name, inputs=inputs))
    return json.loads((upstream / name / "results.json").read_text())


def test_a_lora_attack_trains_adapters_only_and_records_its_adversary(upstream, monkeypatch):
    res = _lora_attack(upstream, monkeypatch, "lora")
    attack = res["attack"]
    assert attack["kind"] == "lora" and attack["rank"] == 2 and "q_proj" in attack["target_modules"]
    assert 0 < attack["trainable_parameters"] < attack["parameters"] / 5
    for curve_ in res["curves"].values():
        assert curve_["step"] == [0, 2, 4, 6] and curve_["forget"][-1] < curve_["forget"][0]  # the attack relearns
        assert len(set(curve_["retain"])) == 1  # the frozen head never moves
    full = _lora_attack(upstream, monkeypatch, "full", lora=None)
    assert "attack" not in full  # a full-finetune attack's results are as before the LoRA adversary existed
    assert full["curves"]["0.01"]["forget"][0] == res["curves"]["0.01"]["forget"][0]  # same model before the attack
    assert len(set(full["curves"]["0.01"]["retain"])) > 1
    assert not list((upstream / "lora" / "curves").glob("lr_*/"))  # per-rate checkpoints removed when done


def test_an_interrupted_lora_attack_resumes_mid_rate_to_the_uninterrupted_curves(upstream, monkeypatch):
    import undo.train as train_mod

    straight = _lora_attack(upstream, monkeypatch, "straight")
    real_save, saves = train_mod._save_checkpoint, []

    def save_then_die(path, model, *args, **kwargs):
        real_save(path, model, *args, **kwargs)
        saves.append(path)
        if len(saves) == 3:  # the second rate's first checkpoint (step 2): killed there
            raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _lora_attack(upstream, monkeypatch, "resumed")
    state = torch.load(saves[-1] / "state.pt", weights_only=False)
    assert state["step"] == 2 and all(".lora_" in k for k in state["model"])  # the adapters only, not the base
    monkeypatch.setattr(train_mod, "_save_checkpoint", real_save)
    messages = []
    monkeypatch.setattr(train_mod, "log", messages.append)
    resumed = _lora_attack(upstream, monkeypatch, "resumed")
    assert any("resuming from step 2" in m for m in messages)
    assert resumed["curves"] == straight["curves"] and resumed["attack"] == straight["attack"]


def test_lora_target_modules_must_name_a_module(tmp_path):
    from undo.config import ConfigError, build

    for name in ("m.yaml", "d.yaml"):
        (tmp_path / name).write_text("stage: dataset\n")
    data = {"model": "m.yaml", "data": "d.yaml", "lrs": [1e-3], "lora": {"rank": 8, "target_modules": []},
            "eval": {"kind": "arithmetic", "arithmetic": {}}}
    with pytest.raises(ConfigError, match=r"relearn.yaml: lora.target_modules: at least one module name"):
        build(stage.Config, data, file=tmp_path / "relearn.yaml")
