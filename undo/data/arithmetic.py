"""Synthetic arithmetic data for the arithmetic setting (paper Appendix A).

Retain = addition/subtraction, forget = multiplication/division. Every problem is either an
equation ("12 * 7 = 84") or a templated word problem whose answer is followed by " <object>.".

Semantics follow Appendix A and the authors' generator (``generate_arithmetic.py``), re-implemented:

* add/sub operands are integers in [1, 50]; subtraction is ordered so that a >= b (never negative);
* mul/div operands are integers in [1, 20]; division is built as (a*b) / b, so it is always exact;
* division answers are written as Python floats ("20 / 4 = 5.0") by default, because the paper's
  models were trained and evaluated on that text; ``division_answers="int"`` writes "5" instead.

Choices that differ from the reference code:

* the word-problem templates and filler lists are our own and smaller (15 templates per operation:
  10 "train" and 5 "heldout", versus 20 + 10 ``_val`` there; ~40 names/objects, 10 containers,
  places and groups versus several hundred names and objects);
* like the reference, nouns stay plural even for a count of 1 ("1 apples");
* the generator takes an explicit seed and uses its own ``random.Random``; the reference used seed 99
  for training files and seed 42 (with held-out templates) for the evaluation prompts;
* optionally (``pairs="eval"`` / ``"attack"``), problems are drawn from one half of a seeded split of
  each operation's operand pairs (:func:`eval_pairs`), so that a relearning attack can train on
  multiplication/division facts disjoint from the evaluated ones. Recovery on the evaluated facts
  then measures latent knowledge rather than memorisation of the test set. The paper's attack data
  and evaluation problems come from the same operand ranges (App. A), so they overlap.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

OPERATIONS: tuple[str, ...] = ("add", "sub", "mul", "div")
FORMATS: tuple[str, ...] = ("equation", "word_problem")
TEMPLATE_POOLS: tuple[str, ...] = ("train", "heldout")
DIVISION_ANSWERS: tuple[str, ...] = ("float", "int")
SYMBOLS: dict[str, str] = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
PAIR_PARTS: tuple[str, ...] = ("all", "eval", "attack")

NAMES = (
    "Mia Liam Emma Noah Ava Ethan Zoe Lucas Chloe Omar Priya Mateo Hana Kofi Lena Diego Sara Jonas Nina Ravi "
    "Grace Felix Aisha Leo Ruby Tariq Ines Owen Maya Hugo Yuki Caleb Amara Sven Rosa Eli Nadia Theo Lucia Dev"
).split()
OBJECTS = (
    "apples marbles pencils stickers books coins cookies shells stamps buttons cards crayons oranges lemons plums "
    "candles beads feathers rocks toys balloons cupcakes muffins carrots tomatoes eggs ribbons magnets erasers "
    "spoons cups plates socks hats blocks puzzles kites flowers acorns pebbles"
).split()
CONTAINERS = tuple(
    (c, c + ("es" if c.endswith("x") else "s")) for c in "box bag basket crate jar bin bucket tray tin sack".split()
)
PLACES = tuple(
    "the " + p for p in "market park library school farm beach fair museum bakery garden".split()
)
GROUPS = "students friends campers scouts neighbors players volunteers cousins classmates teammates".split()

# Placeholders: {n1} {n2} names, {obj} plural object, {c1}/{cs} container singular/plural, {place}, {grp},
# {a} {b} operands. For sub, a >= b; for div, {a} is the dividend and {b} the divisor. Each template is
# the prompt: it ends with the words that precede the answer, and the text goes on with " {obj}.".
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "add": (
            "{n1} has {a} {obj} and {n2} has {b} {obj}. How many {obj} do they have altogether? Together they have ",
            "{n1} picked {a} {obj} in the morning and {b} more in the afternoon. In total {n1} picked ",
            "A {c1} holds {a} {obj}. {n1} adds {b} more {obj} to it. Now the {c1} holds ",
            "At {place}, {n1} bought {a} {obj} and later bought {b} more. Altogether {n1} bought ",
            "One group of {grp} collected {a} {obj} and another collected {b} {obj}. The two groups collected ",
            "{n1} found {a} {obj} at {place}. {n2} gave {n1} {b} more. How many {obj} does {n1} have now? {n1} has ",
            "The first {c1} has {a} {obj} and the second has {b} {obj}. Both {cs} together contain ",
            "{n1} counted {a} {obj} on Monday and {b} {obj} on Tuesday. Over the two days {n1} counted ",
            "{n1} started with {a} {obj}. After a trip to {place}, {n1} had {b} extra {obj}. {n1} now owns ",
            "The {grp} at {place} had {a} {obj}, and a donation added {b} more. The {grp} now have ",
        ),
        "sub": (
            "{n1} had {a} {obj} and gave {b} of them to {n2}. How many {obj} does {n1} have left? {n1} has ",
            "A {c1} held {a} {obj}. {n1} took out {b}. How many {obj} remain in the {c1}? The {c1} has ",
            "At {place} there were {a} {obj}, and {b} were sold. The number of {obj} still there is ",
            "{n1} owns {a} {obj} and {n2} owns {b}. How many more {obj} does {n1} own? The difference is ",
            "The {grp} needed {a} {obj} but only had {b}. How many {obj} are still missing? They are missing ",
            "{n1} packed {a} {obj} for a trip to {place}, but {b} were left behind. {n1} arrived with ",
            "Out of {a} {obj} in the {c1}, {b} were broken. The number of unbroken {obj} is ",
            "{n1} wants {a} {obj} and already has {b}. To reach the goal {n1} still needs ",
            "There were {a} {obj} on the table. The {grp} took {b} of them. On the table there are now ",
            "{n1} lost {b} of {a} {obj} at {place}. How many {obj} does {n1} still have? {n1} still has ",
        ),
        "mul": (
            "{n1} has {a} {cs} with {b} {obj} in each. How many {obj} does {n1} have in total? {n1} has ",
            "Each of the {a} {grp} brought {b} {obj} to {place}. Altogether the {grp} brought ",
            "A shelf has {a} rows, and each row holds {b} {obj}. The shelf holds ",
            "{n1} buys {b} {obj} every day for {a} days. After {a} days {n1} has bought ",
            "There are {a} {cs} at {place}, each containing {b} {obj}. The {cs} contain ",
            "{n1} gave {b} {obj} to each of {a} friends. In total {n1} gave away ",
            "A pack has {b} {obj}. {n1} bought {a} packs. The packs contain ",
            "{n1} arranged {obj} in {a} rows of {b}. The number of {obj} in the rows is ",
            "Every {c1} at {place} holds {b} {obj}, and there are {a} {cs}. Altogether there are ",
            "{a} {grp} each made {b} {obj} for a fair. The {grp} made ",
        ),
        "div": (
            "{n1} shares {a} {obj} equally among {b} friends. How many {obj} does each friend get? Each friend gets ",
            "{a} {obj} are packed evenly into {b} {cs}. How many {obj} go in each {c1}? Each {c1} gets ",
            "The {grp} split {a} {obj} into {b} equal piles. Each pile has ",
            "{n1} has {a} {obj} to give to {b} {grp}, the same amount to each. Each of the {grp} receives ",
            "At {place}, {a} {obj} were shared by {b} families equally. Every family got ",
            "{n1} used {a} {obj} over {b} days, the same number each day. Per day {n1} used ",
            "A total of {a} {obj} fill {b} {cs} equally. One {c1} contains ",
            "{n1} and friends, {b} people in all, divided {a} {obj} evenly. Each person took ",
            "{a} {obj} are arranged in {b} equal rows. Every row has ",
            "{n1} split {a} {obj} fairly between {b} {cs} at {place}. Each {c1} now has ",
        ),
    },
    "heldout": {
        "add": (
            "{n1} and {n2} pooled their {obj}: {a} from {n1} and {b} from {n2}. The pool holds ",
            "If a shelf at {place} shows {a} {obj} and a worker stocks {b} more, the shelf will show ",
            "{n1} earned {a} {obj} last week and {b} {obj} this week. Summed up, {n1} earned ",
            "Sum up {a} {obj} from {n1} and {b} {obj} from {n2}. The sum is ",
            "A {c1} of {obj} was filled with {a}, then topped up with {b} more. It is now filled with ",
        ),
        "sub": (
            "Subtract {b} {obj} from a pile of {a} {obj}. The pile then contains ",
            "{n1} lent {b} {obj} to {n2} from a stack of {a}. The stack is down to ",
            "Before the sale, {place} stocked {a} {obj}; {b} were returned to the supplier. The stock left is ",
            "{n1} had a collection of {a} {obj} and traded away {b}. The collection shrank to ",
            "A {c1} started with {a} {obj}, and {n1} removed {b} while cleaning. The {c1} ended with ",
        ),
        "mul": (
            "{n1} stacked {a} layers of {obj}, with {b} {obj} in every layer. The stack has ",
            "A train has {a} cars and each car carries {b} {obj}. The whole train carries ",
            "For {a} weeks, {n1} saved {b} {obj} per week. By the end {n1} had saved ",
            "{n1} ordered {a} {cs} of {obj} from {place}; every {c1} had {b}. The order came to ",
            "At a party, {a} {grp} each got {b} {obj}. The {grp} received ",
        ),
        "div": (
            "Divide {a} {obj} into {b} groups of equal size. Each group has ",
            "{n1} hands out {a} {obj} to {b} {grp}, giving each the same amount. Every one of them gets ",
            "A crew of {b} {grp} unloaded {a} {obj} from a truck, sharing the work evenly. Each one unloaded ",
            "Over {b} trips to {place}, {n1} carried {a} {obj}, the same load every trip. Each trip carried ",
            "{a} {obj} were spread evenly across {b} {cs} by {n2}. Inside each {c1} there are ",
        ),
    },
}

_STOP_TOKENS = ("<bos>", "<eos>", "<pad>")


@dataclass(frozen=True)
class Problem:
    """One arithmetic problem; ``text`` is the training document, ``prompt`` the evaluation input."""

    operation: str  # one of OPERATIONS
    format: str  # one of FORMATS
    prompt: str  # ends with a single space, right before the answer
    answer: float
    answer_text: str  # the answer as written in training text, e.g. "19" or "5.0"
    text: str  # prompt + answer_text + suffix ("" for equations, " <object>." for word problems)


def pair_key(operation: str, left: int, right: int) -> tuple[int, int]:
    """The fact a problem states, independent of how it is written: (a, b) for a + b, a - b (a >= b) and
    a * b; (quotient, divisor) for a division (a*b) / b."""
    if operation == "div":
        return left // right, right
    return left, right


def operand_pairs(operation: str, add_sub_max: int, mul_div_max: int) -> list[tuple[int, int]]:
    """Every fact of ``operation`` in the operand ranges, as :func:`pair_key` keys, in a fixed order."""
    if operation in ("add", "sub"):
        top = add_sub_max
        return [(a, b) for a in range(1, top + 1) for b in range(1, top + 1) if operation == "add" or a >= b]
    return [(a, b) for a in range(1, mul_div_max + 1) for b in range(1, mul_div_max + 1)]


def eval_pairs(operation: str, add_sub_max: int, mul_div_max: int, *, heldout_fraction: float = 0.5,
               split_seed: int = 0) -> frozenset[tuple[int, int]]:
    """The evaluation half of ``operation``'s facts: a seeded ``heldout_fraction`` of :func:`operand_pairs`.
    The rest is the attack half. The split depends only on its arguments."""
    pairs = operand_pairs(operation, add_sub_max, mul_div_max)
    random.Random(f"pairs/{split_seed}/{operation}/{add_sub_max}/{mul_div_max}").shuffle(pairs)
    return frozenset(pairs[: round(heldout_fraction * len(pairs))])


def _operands(operation: str, rng: random.Random, add_sub_max: int, mul_div_max: int,
              allowed: frozenset | None = None, excluded: frozenset | None = None) -> tuple[int, int, int]:
    """Return (left operand, right operand, integer result), redrawn until the fact is in ``allowed`` and
    not in ``excluded`` (when given)."""
    while True:
        left, right, result = _draw_operands(operation, rng, add_sub_max, mul_div_max)
        key = pair_key(operation, left, right)
        if (allowed is None or key in allowed) and (excluded is None or key not in excluded):
            return left, right, result


def _from_key(operation: str, key: tuple[int, int]) -> tuple[int, int, int]:
    a, b = key
    return {"add": (a, b, a + b), "sub": (a, b, a - b), "mul": (a, b, a * b), "div": (a * b, b, a)}[operation]


def _draw_operands(operation: str, rng: random.Random, add_sub_max: int, mul_div_max: int) -> tuple[int, int, int]:
    if operation in ("add", "sub"):
        a, b = rng.randint(1, add_sub_max), rng.randint(1, add_sub_max)
        if operation == "add":
            return a, b, a + b
        a, b = max(a, b), min(a, b)
        return a, b, a - b
    a, b = rng.randint(1, mul_div_max), rng.randint(1, mul_div_max)
    if operation == "mul":
        return a, b, a * b
    return a * b, b, a  # dividend, divisor, quotient


def _make_problem(operation: str, fmt: str, rng: random.Random, pool: dict[str, tuple[str, ...]],
                  add_sub_max: int, mul_div_max: int, division_answers: str,
                  operands: tuple[int, int, int] | None = None, split: dict | None = None) -> Problem:
    if operands is not None:
        a, b, result = operands
    else:
        a, b, result = _operands(operation, rng, add_sub_max, mul_div_max, **(split or {}).get(operation, {}))
    if operation == "div" and division_answers == "float":
        answer_text = str(float(result))
    else:
        answer_text = str(result)
    if fmt == "equation":
        prompt, suffix = f"{a} {SYMBOLS[operation]} {b} = ", ""
    else:
        n1, n2 = rng.sample(NAMES, 2)
        c1, cs = rng.choice(CONTAINERS)
        obj = rng.choice(OBJECTS)
        prompt = rng.choice(pool[operation]).format(
            a=a, b=b, n1=n1, n2=n2, obj=obj, c1=c1, cs=cs, place=rng.choice(PLACES), grp=rng.choice(GROUPS)
        )
        suffix = f" {obj}."
    return Problem(operation, fmt, prompt, float(result), answer_text, prompt + answer_text + suffix)


def generate_problems(operations: Iterable[str], formats: Iterable[str], n: int, *, seed: int,
                      templates: str = "train", add_sub_max: int = 50, mul_div_max: int = 20,
                      division_answers: str = "float", pairs: str = "all", heldout_fraction: float = 0.5,
                      split_seed: int = 0, distinct: bool = False) -> list[Problem]:
    """Generate ``n`` problems spread as evenly as possible over ``operations`` x ``formats``.

    Cells are filled round robin (so counts differ by at most one), then the list is shuffled.
    The output depends only on the arguments: a private ``random.Random(seed)`` is used.
    ``pairs`` restricts the facts to the evaluation or the attack half of :func:`eval_pairs`.
    ``distinct``: each cell states distinct facts (in a seeded order, cycling only when the cell asks for
    more problems than there are facts), as an evaluation set should; otherwise facts are drawn at random.
    """
    operations = (operations,) if isinstance(operations, str) else tuple(operations)
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    for op in operations:
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}; expected one of {OPERATIONS}")
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if templates not in TEMPLATE_POOLS:
        raise ValueError(f"unknown templates {templates!r}; expected one of {TEMPLATE_POOLS}")
    if division_answers not in DIVISION_ANSWERS:
        raise ValueError(f"unknown division_answers {division_answers!r}; expected one of {DIVISION_ANSWERS}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if add_sub_max < 1 or mul_div_max < 1:
        raise ValueError(f"operand maxima must be >= 1, got add_sub_max={add_sub_max}, mul_div_max={mul_div_max}")
    if n > 0 and not (operations and formats):
        raise ValueError("operations and formats must be non-empty when n > 0")
    if pairs not in PAIR_PARTS:
        raise ValueError(f"unknown pairs {pairs!r}; expected one of {PAIR_PARTS}")
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction!r}")

    rng = random.Random(seed)
    cells = [(op, fmt) for op in operations for fmt in formats]
    pool = TEMPLATES[templates]
    split: dict[str, dict] = {}
    facts: dict[str, list[tuple[int, int]]] = {}
    for op in operations:
        half = (eval_pairs(op, add_sub_max, mul_div_max, heldout_fraction=heldout_fraction, split_seed=split_seed)
                if pairs != "all" else None)
        split[op] = {"allowed": half} if pairs == "eval" else {"excluded": half} if pairs == "attack" else {}
        if distinct:
            facts[op] = [k for k in operand_pairs(op, add_sub_max, mul_div_max)
                         if half is None or (k in half) == (pairs == "eval")]
            random.Random(f"{seed}/facts/{op}").shuffle(facts[op])
    problems = []
    for i in range(n):
        op, fmt = cells[i % len(cells)]
        operands = None
        if distinct:
            order = facts[op]
            operands = _from_key(op, order[(i // len(cells)) % len(order)])
        problems.append(_make_problem(op, fmt, rng, pool, add_sub_max, mul_div_max, division_answers, operands,
                                      split))
    rng.shuffle(problems)
    return problems


def parse_answer(completion: str) -> float | None:
    """Read the number a model wrote after a prompt: the first whitespace-separated piece, cut at any
    ``<bos>``/``<eos>``/``<pad>`` marker, with a trailing '.' or ',' removed. None when there is none."""
    pieces = completion.strip().split()
    if not pieces:
        return None
    piece = pieces[0]
    for token in _STOP_TOKENS:
        piece = piece.split(token, 1)[0]
    piece = piece.rstrip(".,")
    try:
        value = float(piece)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def is_correct(completion: str, answer: float, tol: float = 1e-6) -> bool:
    """True when the parsed completion is within ``tol`` of ``answer`` (unparseable counts as wrong)."""
    value = parse_answer(completion)
    return value is not None and abs(value - answer) <= tol
