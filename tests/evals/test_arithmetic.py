"""Arithmetic evaluation: left padding must not change any answer; group means."""

from undo.evals.arithmetic import ArithmeticEval, ArithmeticEvalConfig


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
