"""Stages ``pretrain`` (the oracle trained on until it matches the reference's retain) and ``distill`` (the step
cap from another model's training length, and the ``capped`` flag of a student that reaches it unmatched)."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from undo.config import Ref, build, load_raw
from undo.evals import EvalConfig
from undo.models import ModelConfig, save_model
from undo.stages import Context, distill, pretrain
from undo.stages.common import StopRule
from undo.train import OptimConfig

REPO = Path(__file__).resolve().parents[2]
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=64,
                   sliding_window=64)


class ScriptedEval:
    """An evaluator whose retain rises by ``rate`` per call: the n-th evaluation scores ``start + n * rate``."""

    higher_is_better = True

    def __init__(self, start=0.5, rate=0.1, target=0.9):
        self.calls, self.start, self.rate, self.target = 0, start, rate, target

    def __call__(self, model):
        if getattr(model, "_is_reference", False):
            return {"retain": self.target, "forget": 0.9}
        self.calls += 1
        return {"retain": self.start + (self.calls - 1) * self.rate, "forget": 0.0}


@pytest.fixture
def data(tmp_path, byte_tok, tiny_model):
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "tokens.npy", np.random.default_rng(0).integers(3, 259, (32, 16)).astype(np.int32))
    byte_tok.save_pretrained(tmp_path / "data" / "tokenizer")
    save_model(tiny_model, byte_tok, tmp_path / "reference" / "model")
    return tmp_path


def run_pretrain(root: Path, monkeypatch, match, evaluator):
    monkeypatch.setattr(pretrain, "make_evaluator", lambda *a, **k: evaluator)
    real_load = pretrain.load_model

    def load(path, device):  # mark the reference so the scripted evaluation returns its fixed target
        model = real_load(path, device)
        model._is_reference = True
        return model

    monkeypatch.setattr(pretrain, "load_model", load)
    cfg = pretrain.Config(data=Ref("d.yaml"), model=TINY, seed=0, eval=EvalConfig(), match=match,
                          optim=OptimConfig(lr=1e-3, min_lr=1e-4, batch_size=4, max_steps=10, checkpoint_every=100))
    cfg.validate()
    workdir = root / "pretrain"
    workdir.mkdir()
    inputs = {"d.yaml": SimpleNamespace(path=root / "data"), "ref.yaml": SimpleNamespace(path=root / "reference")}
    return pretrain.run(Context(cfg=cfg, name="oracle", workdir=workdir, inputs=inputs))


def test_the_oracle_trains_on_until_it_matches_the_reference(data, monkeypatch):
    match = pretrain.MatchRule(model=Ref("ref.yaml"), rule=StopRule(tolerance=0.05), every=5, max_steps=40)
    # evaluations at steps 10, 15, 20, ...: retain 0.5, 0.6, 0.7, 0.8, 0.9 -> within 0.05 of 0.9 at step 30
    out = run_pretrain(data, monkeypatch, match, ScriptedEval())
    assert out["steps"] == 30 and out["match"]["matched"] is True and out["match"]["scheduled_steps"] == 10


def test_an_oracle_that_never_matches_stops_at_the_cap_and_says_so(data, monkeypatch):
    match = pretrain.MatchRule(model=Ref("ref.yaml"), rule=StopRule(tolerance=0.05), every=5, max_steps=20)
    out = run_pretrain(data, monkeypatch, match, ScriptedEval(rate=0.0))
    assert out["steps"] == 20 and out["match"]["matched"] is False


def test_without_match_the_schedule_length_is_the_training_length(data, monkeypatch):
    out = run_pretrain(data, monkeypatch, None, ScriptedEval())
    assert out["steps"] == 10 and "match" not in out


def test_match_refuses_a_cap_below_the_schedule_and_takes_its_direction_from_the_evaluation(tmp_path):
    base = dict(data=Ref("d.yaml"), model=TINY, eval=EvalConfig(), optim=OptimConfig(lr=1e-3, max_steps=10))
    with pytest.raises(ValueError, match="max_steps"):
        pretrain.Config(**base, match=pretrain.MatchRule(model=Ref("r"), max_steps=5)).validate()
    (tmp_path / "d.yaml").write_text("")
    raw = {"data": "d.yaml", "model": {"hidden_size": 8},
           "optim": {"lr": 1e-3, "max_steps": 10}, "match": {"model": "d.yaml", "max_steps": 20}}
    lang = {"kind": "language", "language": {"retain": "d.yaml", "forget": "d.yaml"}}
    assert build(pretrain.Config, {**raw, "eval": lang}, file=tmp_path / "p.yaml").match.rule.higher_is_better is False
    assert build(pretrain.Config, {**raw, "eval": {"kind": "arithmetic"}},
                 file=tmp_path / "p.yaml").match.rule.higher_is_better is True


def test_distillation_is_capped_at_another_models_steps_and_flags_an_unmet_stop_rule(data, monkeypatch):
    (data / "oracle").mkdir()
    (data / "oracle" / "metrics.json").write_text(json.dumps({"steps": 12}))
    evaluator = ScriptedEval(start=0.5, rate=0.0)
    teacher_first = iter([{"retain": 0.9, "forget": 0.0}])

    def scripted(model):  # the teacher's retain first, then a student that never gets there
        return next(teacher_first, None) or evaluator(model)

    scripted.higher_is_better = True
    monkeypatch.setattr(distill, "make_evaluator", lambda *a, **k: scripted)
    cfg = distill.Config(teacher=Ref("t.yaml"), student=Ref("s.yaml"), data=Ref("d.yaml"), max_steps_from=Ref("o.yaml"),
                         optim=OptimConfig(lr=1e-3, batch_size=4, max_steps=1000, checkpoint_every=100),
                         eval=EvalConfig(), eval_every=4, stop=StopRule(tolerance=0.05))
    cfg.validate()
    workdir = data / "distill"
    workdir.mkdir()
    inputs = {"t.yaml": SimpleNamespace(path=data / "reference"), "s.yaml": SimpleNamespace(path=data / "reference"),
              "d.yaml": SimpleNamespace(path=data / "data"),
              "o.yaml": SimpleNamespace(path=data / "oracle", relpath="pretrain/oracle")}
    out = distill.run(Context(cfg=cfg, name="student", workdir=workdir, inputs=inputs))
    assert out["max_steps"] == 12 and out["steps"] == 12  # the student's retain never rises to the teacher's
    assert out["stop_reached"] is False and out["capped"] is True


@pytest.mark.parametrize("setting", ["arithmetic", "language"])
def test_mini_students_are_capped_at_their_own_oracles_length(setting):
    raw = load_raw(REPO / "reproduce" / "synthetic" / setting / "distill_undo.yaml", "mini")
    raw.data.pop("stage"), raw.data.pop("name", None)
    cfg = build(distill.Config, raw.data, file=raw.path)
    assert Path(cfg.max_steps_from).name == "pretrain_oracle.yaml"
    oracle = load_raw(REPO / "reproduce" / "synthetic" / setting / "pretrain_oracle.yaml", "mini").data
    assert Path(oracle["match"]["model"]).name == "pretrain_reference.yaml"


def test_finetuning_starts_from_the_given_model_and_trains_only_on_answer_tokens(data):
    """``start`` (App. F: finetune a base model on TOFU): the run begins at the start model's weights, keeps its
    tokenizer, and a prompt/answer dataset's loss mask decides what is learned: with every answer token masked out
    of the gradient (an all-zero mask), nothing moves."""
    from undo.models import load_model

    root = data
    start = load_model(root / "reference" / "model")
    tokens = np.load(root / "data" / "tokens.npy")

    def finetune(mask, name):
        np.save(root / "data" / "loss_mask.npy", mask)
        cfg = pretrain.Config(data=Ref("d.yaml"), start=Ref("ref.yaml"), seed=0,
                              optim=OptimConfig(lr=1e-2, min_lr=1e-3, batch_size=4, max_steps=4, checkpoint_every=100))
        cfg.validate()
        (root / name).mkdir()
        inputs = {"d.yaml": SimpleNamespace(path=root / "data"), "ref.yaml": SimpleNamespace(path=root / "reference")}
        out = pretrain.run(Context(cfg=cfg, name=name, workdir=root / name, inputs=inputs))
        return out, load_model(root / name / "model")

    answers = np.zeros(tokens.shape, dtype=np.uint8)
    answers[:, 8:] = 1
    _, trained = finetune(answers, "answers")
    _, untouched = finetune(np.zeros(tokens.shape, dtype=np.uint8), "nothing")
    pairs = list(zip(start.state_dict().items(), trained.state_dict().values(), untouched.state_dict().values(),
                     strict=True))
    assert any(not np.allclose(a.numpy(), b.numpy()) for (_, a), b, _ in pairs)
    assert all(np.array_equal(a.numpy(), c.numpy()) for (_, a), _, c in pairs)
    with pytest.raises(ValueError, match="either model .* or start"):
        pretrain.Config(data=Ref("d.yaml"), model=TINY, start=Ref("ref.yaml"), optim=OptimConfig(lr=1e-3)).validate()
    with pytest.raises(ValueError, match="either model .* or start"):
        pretrain.Config(data=Ref("d.yaml"), optim=OptimConfig(lr=1e-3)).validate()
