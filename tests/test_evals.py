"""Batched arithmetic evaluation: left padding must not change any answer."""

from undo.evals import ArithmeticEval, ArithmeticEvalConfig


def test_batch_size_does_not_change_completions(tiny_model, byte_tok):
    cfg = ArithmeticEvalConfig(n_per_metric=3, max_new_tokens=3, batch_size=256)
    big = ArithmeticEval(cfg, byte_tok).completions(tiny_model)
    small = ArithmeticEval(ArithmeticEvalConfig(n_per_metric=3, max_new_tokens=3, batch_size=5), byte_tok)
    assert small.completions(tiny_model) == big
    one = ArithmeticEval(ArithmeticEvalConfig(n_per_metric=3, max_new_tokens=3, batch_size=1), byte_tok)
    assert one.completions(tiny_model) == big


def test_metrics_and_group_means(tiny_model, byte_tok, monkeypatch):
    evaluator = ArithmeticEval(ArithmeticEvalConfig(n_per_metric=2, formats=("equation",)), byte_tok)
    answers = [p.answer_text if p.operation in ("add", "mul") else "x" for p in evaluator.problems]
    monkeypatch.setattr(evaluator, "completions", lambda model: answers)
    m = evaluator(tiny_model)
    assert m["add/equation"] == 1.0 and m["sub/equation"] == 0.0
    assert m["retain"] == 0.5 and m["forget"] == 0.5


def test_token_ce_is_token_weighted_and_batch_invariant(tiny_model):
    import math

    import numpy as np
    import torch
    import torch.nn.functional as F

    from undo.evals import token_ce

    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 300, size=(7, 12)).astype(np.int32)
    tokens[5, 8:] = 0  # a padded row: its pad targets must not count
    with torch.no_grad():
        logits = tiny_model(input_ids=torch.from_numpy(tokens.astype(np.int64))).logits
    targets = torch.from_numpy(tokens[:, 1:].astype(np.int64))
    ce = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    keep = (targets.reshape(-1) != 0).float()
    expected = float((ce * keep).sum() / keep.sum())  # one mean over all counted tokens, not a mean of batch means
    for bs in (1, 3, 16):
        assert math.isclose(token_ce(tiny_model, tokens, batch_size=bs), expected, rel_tol=1e-5)


def test_language_eval_metrics_and_direction(tiny_model):
    import numpy as np
    import pytest

    from undo.evals import LanguageEval, LanguageEvalConfig, token_ce

    cfg = LanguageEvalConfig(retain="en.yaml", forget="ko.yaml", batch_size=4)
    rng = np.random.default_rng(1)
    en, ko = rng.integers(3, 150, size=(6, 10)), rng.integers(150, 300, size=(5, 10))
    evaluate = LanguageEval(cfg, en, ko)
    tiny_model.train()
    m = evaluate(tiny_model)
    assert tiny_model.training  # restored
    assert m["retain"] == m["english_ce"] == token_ce(tiny_model, en, 4)
    assert m["forget"] == m["korean_ce"] == token_ce(tiny_model, ko, 4)
    assert LanguageEval.higher_is_better is False and ArithmeticEval.higher_is_better is True
    capped = LanguageEval(LanguageEvalConfig(retain="a", forget="b", max_sequences=2), en, ko)
    assert len(capped.sets["retain"]) == 2
    with pytest.raises(ValueError, match="no windows"):
        LanguageEval(cfg, en[:0], ko)


def test_stop_rule_for_cross_entropy():
    import pytest

    from undo.config import ConfigError, build
    from undo.stages.common import EvalConfig, StopRule
    from undo.stages.distill import Config as DistillConfig

    rule = StopRule(tolerance=0.05, mode="relative", higher_is_better=False)
    assert rule.reached(4.20, 4.0) and rule.reached(3.5, 4.0)  # within 5% above the teacher's CE, or better
    assert not rule.reached(4.21, 4.0)
    assert StopRule(tolerance=0.05).reached(0.75, 0.8) and not StopRule(tolerance=0.05).reached(0.74, 0.8)
    lang = {"kind": "language", "language": {"retain": "d.yaml", "forget": "d.yaml"}}
    assert EvalConfig(kind="language").higher_is_better is False
    base = {"teacher": "d.yaml", "student": "d.yaml", "data": "d.yaml", "optim": {"lr": 1e-3}, "eval_every": 10}
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "d.yaml").write_text("stage: corpus\n")
        f = Path(tmp) / "x.yaml"
        with pytest.raises(ConfigError, match=r"stop.higher_is_better: the language evaluation measures cross-entropy"):
            build(DistillConfig, {**base, "eval": lang, "stop": {"mode": "relative"}}, file=f)
        cfg = build(DistillConfig, {**base, "eval": lang, "stop": {"mode": "relative", "higher_is_better": False}},
                    file=f)
        assert cfg.stop.reached(1.04, 1.0)
        with pytest.raises(ConfigError, match="language: kind 'language' needs"):
            build(DistillConfig, {**base, "eval": {"kind": "language"}}, file=f)
