import re
import string
from collections import Counter

import pytest

from undo.data.arithmetic import (
    FORMATS,
    OPERATIONS,
    TEMPLATES,
    Problem,
    generate_problems,
    is_correct,
    parse_answer,
)

EQUATION = re.compile(r"^(\d+) ([-+*/]) (\d+) = $")


def _operands(p: Problem) -> tuple[int, int]:
    m = EQUATION.match(p.prompt)
    assert m, p.prompt
    return int(m.group(1)), int(m.group(3))


def _template_regex(template: str) -> re.Pattern:
    """Regex matching any rendering of ``template`` (fields become wildcards)."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(".+?")
    return re.compile("^" + "".join(parts) + "$")


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = generate_problems(OPERATIONS, FORMATS, 80, seed=3)
    assert a == generate_problems(OPERATIONS, FORMATS, 80, seed=3)
    assert a != generate_problems(OPERATIONS, FORMATS, 80, seed=4)


def test_balanced_over_operations_and_formats():
    problems = generate_problems(OPERATIONS, FORMATS, 803, seed=0)
    counts = Counter((p.operation, p.format) for p in problems)
    assert set(counts) == {(o, f) for o in OPERATIONS for f in FORMATS}
    assert sum(counts.values()) == 803
    assert max(counts.values()) - min(counts.values()) <= 1
    round_robin = [(o, f) for o in OPERATIONS for f in FORMATS] * 101
    assert [(p.operation, p.format) for p in problems] != round_robin[:803]  # shuffled


def test_subset_and_empty():
    problems = generate_problems(["mul", "div"], ["equation"], 10, seed=1)
    assert Counter(p.operation for p in problems) == {"mul": 5, "div": 5}
    assert {p.format for p in problems} == {"equation"}
    assert generate_problems(OPERATIONS, FORMATS, 0, seed=1) == []


def test_equation_operand_ranges_and_answers():
    for p in generate_problems(OPERATIONS, ["equation"], 2000, seed=7):
        a, b = _operands(p)
        assert p.text == p.prompt + p.answer_text
        if p.operation == "add":
            assert 1 <= a <= 50 and 1 <= b <= 50 and p.answer == a + b
        elif p.operation == "sub":
            assert 1 <= b <= a <= 50 and p.answer == a - b >= 0
        elif p.operation == "mul":
            assert 1 <= a <= 20 and 1 <= b <= 20 and p.answer == a * b
        else:
            quotient = a // b
            assert a % b == 0 and 1 <= b <= 20 and 1 <= quotient <= 20 and p.answer == quotient
        assert float(p.answer_text) == p.answer


def test_custom_operand_maxima():
    problems = generate_problems(OPERATIONS, ["equation"], 400, seed=2, add_sub_max=5, mul_div_max=3)
    for p in problems:
        a, b = _operands(p)
        if p.operation in ("add", "sub"):
            assert max(a, b) <= 5
        elif p.operation == "mul":
            assert max(a, b) <= 3
        else:
            assert b <= 3 and a // b <= 3


def test_division_answer_formatting():
    floats = generate_problems(["div"], FORMATS, 50, seed=5)
    ints = generate_problems(["div"], FORMATS, 50, seed=5, division_answers="int")
    for pf, pi in zip(floats, ints, strict=True):
        assert pf.prompt == pi.prompt and pf.answer == pi.answer
        assert pf.answer_text == f"{int(pf.answer)}.0"
        assert pi.answer_text == str(int(pi.answer))
    eq = next(p for p in floats if p.format == "equation")
    a, b = _operands(eq)
    assert eq.text == f"{a} / {b} = {a // b}.0"
    # other operations are always integers
    for p in generate_problems(["add", "sub", "mul"], FORMATS, 60, seed=5):
        assert p.answer_text.isdigit()


def test_word_problem_structure():
    for pool in ("train", "heldout"):
        for p in generate_problems(OPERATIONS, ["word_problem"], 400, seed=11, templates=pool):
            assert p.prompt.endswith(" ") and not p.prompt.endswith("  ")
            assert p.text.startswith(p.prompt + p.answer_text + " ")
            suffix = p.text[len(p.prompt + p.answer_text):]
            assert re.fullmatch(r" [a-z]+\.", suffix), suffix
            assert suffix[1:-1] in p.prompt  # the object counted is the one named in the problem
            assert p.text.isascii() and "{" not in p.text and "}" not in p.text
            assert 50 <= len(p.text) <= 170, p.text


def test_template_pools_are_disjoint_and_sized():
    for op in OPERATIONS:
        train, heldout = TEMPLATES["train"][op], TEMPLATES["heldout"][op]
        assert len(set(train)) == len(train) >= 10
        assert len(set(heldout)) == len(heldout) >= 5
        assert not set(train) & set(heldout)
        assert all(t.endswith(" ") for t in train + heldout)


def test_rendered_heldout_prompts_match_no_train_template():
    train_res = {op: [_template_regex(t) for t in TEMPLATES["train"][op]] for op in OPERATIONS}
    heldout_res = {op: [_template_regex(t) for t in TEMPLATES["heldout"][op]] for op in OPERATIONS}
    for pool, same, other in (("heldout", heldout_res, train_res), ("train", train_res, heldout_res)):
        for p in generate_problems(OPERATIONS, ["word_problem"], 200, seed=9, templates=pool):
            assert any(r.match(p.prompt) for r in same[p.operation])
            assert not any(r.match(p.prompt) for rs in other.values() for r in rs)


def test_parse_answer():
    assert parse_answer("84") == 84.0
    assert parse_answer(" 84 apples.") == 84.0
    assert parse_answer("5.0<bos>") == 5.0
    assert parse_answer("5.0<eos><pad>") == 5.0
    assert parse_answer("21.") == 21.0
    assert parse_answer("7, then") == 7.0
    assert parse_answer("abc") is None
    assert parse_answer("") is None
    assert parse_answer("   ") is None
    assert parse_answer("<bos>5") is None
    assert parse_answer("nan") is None


def test_is_correct():
    assert is_correct("5", 5.0)
    assert is_correct("5.0 apples.", 5)
    assert is_correct("84<bos>", 84.0)
    assert not is_correct("6", 5.0)
    assert not is_correct("abc", 5.0)
    assert not is_correct("5.01", 5.0)
    assert is_correct("5.01", 5.0, tol=0.1)


def test_round_trip_answers_are_correct():
    for p in generate_problems(OPERATIONS, FORMATS, 200, seed=13):
        assert is_correct(p.text[len(p.prompt):], p.answer)


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"operations": ["pow"]}, "pow"),
        ({"formats": ["essay"]}, "essay"),
        ({"templates": "test"}, "test"),
        ({"division_answers": "fraction"}, "fraction"),
        ({"n": -1}, "-1"),
    ],
)
def test_bad_arguments_raise(kwargs, bad):
    args = {"operations": OPERATIONS, "formats": FORMATS, "n": 4, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=re.escape(bad)):
        generate_problems(**args)


# The fact split that keeps the relearning attack off the evaluated problems ----------------------------------------

from undo.data.arithmetic import eval_pairs, operand_pairs, pair_key  # noqa: E402


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_fact_split_halves_each_operation_deterministically(op):
    facts = set(operand_pairs(op, 10, 10))
    half = eval_pairs(op, 10, 10)
    assert half <= facts and len(half) == round(len(facts) / 2)
    assert half == eval_pairs(op, 10, 10) and half != eval_pairs(op, 10, 10, split_seed=1)


def test_attack_problems_never_state_an_evaluated_fact():
    kw = dict(add_sub_max=10, mul_div_max=10)
    attack = generate_problems(["mul", "div"], ["equation", "word_problem"], 2000, seed=99, pairs="attack", **kw)
    evaluated = generate_problems(["mul", "div"], ["equation"], 200, seed=42, pairs="eval", distinct=True, **kw)
    key = lambda p: (p.operation, pair_key(p.operation, *map(int, p.prompt.split()[0:3:2])))  # noqa: E731
    assert not {key(p) for p in attack if p.format == "equation"} & {key(p) for p in evaluated}
    # every evaluated fact appears, each the same number of times (100 problems over 50 facts per operation)
    per_op = {op: [key(p) for p in evaluated if p.operation == op] for op in ("mul", "div")}
    for op, keys in per_op.items():
        assert {k[1] for k in keys} == eval_pairs(op, 10, 10) and len(keys) == 100
        assert len(set(keys)) == 50 and all(keys.count(k) == 2 for k in set(keys))


def test_all_pairs_keeps_the_original_problems():
    kw = dict(add_sub_max=20, mul_div_max=10, seed=3)
    assert generate_problems(["add", "mul"], ["equation"], 50, **kw) == \
        generate_problems(["add", "mul"], ["equation"], 50, pairs="all", **kw)
    with pytest.raises(ValueError, match="pairs"):
        generate_problems(["add"], ["equation"], 5, pairs="train", **kw)


@pytest.mark.parametrize("scale", ["mini", "smoke"])
def test_shipped_relearning_data_is_disjoint_from_the_shipped_evaluation(scale):
    """At mini and smoke the arithmetic attack corpus and the evaluation read the two halves of one split."""
    from pathlib import Path

    from undo.config import build, load_raw
    from undo.evals.arithmetic import ArithmeticEval
    from undo.stages import corpus, dataset, relearn

    repo = Path(__file__).resolve().parents[2] / "reproduce" / "synthetic" / "arithmetic"
    raw = load_raw(repo / "relearn.yaml", scale)
    raw.data.pop("stage"), raw.data.pop("name", None)
    raw.data["model"] = "select_maxent.yaml"  # one of the models the file's sweep lists
    attack_cfg = build(relearn.Config, raw.data, file=raw.path)
    ev = attack_cfg.eval.arithmetic
    data = load_raw(Path(attack_cfg.data), scale).data
    data.pop("stage"), data.pop("name", None)
    ds = build(dataset.Config, data, file=attack_cfg.data)
    forget_parts = []
    for part in ds.parts:
        c = load_raw(Path(part.corpus), scale).data
        c.pop("stage"), c.pop("name", None)
        cc = build(corpus.Config, c, file=part.corpus)
        if cc.source.kind == "arithmetic":
            forget_parts.append(cc)
    assert forget_parts and all(set(c.source.operations) == {"mul", "div"} for c in forget_parts)
    evaluated = {p.prompt for p in ArithmeticEval(ev, _DigitTokenizer()).problems if p.operation in ("mul", "div")}
    for cc in forget_parts:
        s = cc.source
        assert (s.pairs, s.heldout_fraction, s.pair_split_seed) == ("attack", ev.heldout_fraction, ev.split_seed)
        assert (s.add_sub_max, s.mul_div_max) == (ev.add_sub_max, ev.mul_div_max)
        texts = generate_problems(s.operations, ["equation"], 3000, seed=cc.seed, pairs=s.pairs,
                                  heldout_fraction=s.heldout_fraction, split_seed=s.pair_split_seed,
                                  add_sub_max=s.add_sub_max, mul_div_max=s.mul_div_max)
        assert not {p.prompt for p in texts} & evaluated


class _DigitTokenizer:
    """Just enough of a tokenizer for ArithmeticEval to build its prompts."""

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[ord(c) for c in t] for t in texts]}
