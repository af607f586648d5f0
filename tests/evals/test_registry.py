"""The evaluator registry: a new evaluation is one registration, and its declared direction reaches the stop rule,
the attacker's best learning rate and the figures without any config restating it."""

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from undo import evals
from undo.config import ConfigError, build, key_view, option
from undo.evals import EvalConfig, higher_is_better, make_evaluator, register
from undo.models import save_model
from undo.stages import Context
from undo.stages import distill as distill_stage
from undo.stages import figure as figure_stage
from undo.stages import relearn as relearn_stage


@dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    """A test evaluation: a loss-like score (lower is better) read from a list the test sets."""

    offset: float = option(0.0, "added to every score")


SCORES: list[float] = []


def _build(settings: ProbeConfig, tokenizer, device, inputs):
    return lambda model: {"retain": 1.0 + settings.offset, "forget": SCORES.pop(0) + settings.offset}


@pytest.fixture
def probe():
    register("probe", config=ProbeConfig, build=_build, metrics={"retain": False, "forget": False},
             doc="a test loss (lower is better)")
    yield
    evals.REGISTRY.pop("probe")
    evals._settings_class.cache_clear()


def test_registration_declares_retain_and_forget_with_one_direction():
    with pytest.raises(ValueError, match="must declare 'forget'"):
        register("bad", config=ProbeConfig, build=_build, metrics={"retain": True})
    with pytest.raises(ValueError, match="one direction"):
        register("bad", config=ProbeConfig, build=_build, metrics={"retain": True, "forget": False})
    assert "bad" not in evals.REGISTRY
    assert higher_is_better("arithmetic") and higher_is_better("arithmetic", "mul/word")
    assert not higher_is_better("language") and not higher_is_better("language", "korean_ce")
    with pytest.raises(KeyError, match="no metric 'bleu'"):
        higher_is_better("language", "bleu")


def test_an_eval_block_is_built_from_the_registry(probe, tmp_path):
    f = tmp_path / "x.yaml"
    cfg = EvalConfig.__coerce__({"kind": "probe", "probe": {"offset": 0.5}}, file=f, key="eval")
    assert cfg.settings == ProbeConfig(offset=0.5) and cfg.higher_is_better is False
    with pytest.raises(ConfigError, match=r"x.yaml: eval.kind: unknown evaluation 'nope' \(registered: arithmetic, "):
        EvalConfig.__coerce__({"kind": "nope"}, file=f, key="eval")
    with pytest.raises(ConfigError, match="eval.probe: evaluation 'probe' needs its settings under eval.probe"):
        EvalConfig.__coerce__({"kind": "probe"}, file=f, key="eval")
    with pytest.raises(ConfigError, match="eval.probe.offst: unknown key"):
        EvalConfig.__coerce__({"kind": "probe", "probe": {"offst": 1}}, file=f, key="eval")


def test_registering_an_evaluator_does_not_re_key_existing_stages(tmp_path):
    f = tmp_path / "x.yaml"
    before = key_view(EvalConfig.__coerce__({"kind": "arithmetic"}, file=f, key="eval"), {})
    register("probe", config=ProbeConfig, build=_build, metrics={"retain": False, "forget": False})
    try:
        after = key_view(EvalConfig.__coerce__({"kind": "arithmetic"}, file=f, key="eval"), {})
    finally:
        evals.REGISTRY.pop("probe")
        evals._settings_class.cache_clear()
    assert before == after and "probe" not in after


def test_the_stop_rule_takes_its_direction_from_the_evaluation(probe, tmp_path):
    (tmp_path / "d.yaml").write_text("stage: corpus\n")
    base = {"teacher": "d.yaml", "student": "d.yaml", "data": "d.yaml", "optim": {"lr": 1e-3}, "eval_every": 10,
            "eval": {"kind": "probe", "probe": {}}}
    f = tmp_path / "distill.yaml"
    cfg = build(distill_stage.Config, {**base, "stop": {"tolerance": 0.05, "mode": "relative"}}, file=f)
    assert cfg.stop.higher_is_better is False  # a loss: the student must get below teacher * 1.05
    assert cfg.stop.reached(1.04, 1.0) and not cfg.stop.reached(1.06, 1.0)
    arith = build(distill_stage.Config, {**base, "eval": {"kind": "arithmetic"}, "stop": {"tolerance": 0.05}}, file=f)
    assert arith.stop.higher_is_better is True and arith.stop.reached(0.75, 0.8)
    with pytest.raises(ConfigError, match=r"distill.yaml: stop.higher_is_better: not a setting: the evaluation "
                                          r"declares it; remove it"):
        build(distill_stage.Config, {**base, "stop": {"higher_is_better": False}}, file=f)
    with pytest.raises(ConfigError, match="no metric 'bleu'"):
        build(distill_stage.Config, {**base, "stop": {"metric": "bleu"}}, file=f)


def test_the_attack_records_the_direction_and_picks_the_lowest_loss(probe, tmp_path, tiny_model, byte_tok,
                                                                    monkeypatch):
    save_model(tiny_model, byte_tok, tmp_path / "model" / "model")
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "tokens.npy", np.random.default_rng(0).integers(3, 259, (8, 16)).astype(np.int32))
    finals = {1e-4: 2.0, 1e-3: 0.5, 1e-2: 3.0}  # the attacker's best: the lowest forget loss, at 1e-3

    def fake_relearn_one(model, initial, batches, lr, eval_fn, **kw):
        SCORES[:] = [5.0, finals[lr]]
        first, last = eval_fn(0), eval_fn(10)
        return {"step": [0, 10], "forget": [first["forget"], last["forget"]],
                "retain": [first["retain"], last["retain"]], "train_loss": [None, None]}

    monkeypatch.setattr(relearn_stage, "relearn_one", fake_relearn_one)
    (tmp_path / "m.yaml").write_text("")
    (tmp_path / "d.yaml").write_text("")
    cfg = build(relearn_stage.Config, {"model": "m.yaml", "data": "d.yaml", "lrs": list(finals), "steps": 10,
                                       "eval_every": 10, "eval": {"kind": "probe", "probe": {}},
                                       "bracket": {"tolerance": 0.0}}, file=tmp_path / "r.yaml")
    inputs = {str(cfg.model): SimpleNamespace(path=tmp_path / "model", relpath="distill/m", stage="distill")}
    inputs[str(cfg.data)] = SimpleNamespace(path=tmp_path / "data")
    work = tmp_path / "work"
    work.mkdir()
    summary = relearn_stage.run(Context(cfg=cfg, name="attack", workdir=work, inputs=inputs))
    results = json.loads((work / "results.json").read_text())
    assert results["higher_is_better"] is False
    assert summary["best_final_forget"] == 0.5
    assert results["bracketed"] is True and results["extra_lrs"] == {"up": 0, "down": 0}  # 1e-3 is inside the grid

    # the figure stage reads that direction: a panel of this evaluation is drawn with attacker_best "min"
    record = {"results": results, "summary": summary}
    options = figure_stage.with_directions({"settings": {"probe": {"measure_label": "loss"}}}, {"probe/x": [record]})
    assert options["settings"]["probe"] == {"measure_label": "loss", "higher_is_better": False}


def test_make_evaluator_builds_the_registered_callable(probe):
    SCORES[:] = [0.25]
    evaluate = make_evaluator(EvalConfig(kind="probe", probe=ProbeConfig(offset=1.0)), None, "cpu")
    assert evaluate(None) == {"retain": 2.0, "forget": 1.25}


def test_figure_directions_must_agree_within_a_setting():
    acc, ce = {"results": {"higher_is_better": True}}, {"summary": {"higher_is_better": False}}
    with pytest.raises(ValueError, match="arithmetic: the gathered results disagree on higher_is_better"):
        figure_stage.with_directions({}, {"arithmetic/a": [acc], "arithmetic/b": [ce]})
    out = figure_stage.with_directions({}, {"arithmetic/a": [acc], "language/b": [ce], "language/kl": [{}]})
    assert out == {"settings": {"arithmetic": {"higher_is_better": True}, "language": {"higher_is_better": False}}}


def test_no_shipped_config_states_a_metric_direction():
    repo = Path(__file__).resolve().parents[2]
    stated = [str(p.relative_to(repo)) for p in (repo / "reproduce").rglob("*.yaml")
              if any(word in p.read_text() for word in ("higher_is_better", "attacker_best"))]
    assert stated == []
