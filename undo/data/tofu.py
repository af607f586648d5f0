"""TOFU question-answer sets (App. F): the real ``locuslab/TOFU`` and a generated stand-in, one schema.

App. F finetunes a model on TOFU's fictitious authors, unlearns the forget authors with GradDiff, distills the
unlearned model into the untouched base model and attacks the result; open-unlearning's TOFU metrics score every
phase. Those metrics read these sets, here called splits after the hub's config names:

- ``full`` (the finetuning set), ``forget01|05|10`` and ``retain99|95|90`` (its complements): ``{question, answer}``;
  the forget and retain splits' probability, ROUGE and the GradDiff training data;
- ``holdout01|05|10``: ``{question, answer}`` about authors that are *not* in ``full``; MIA scores forget against
  holdout;
- ``forget01|05|10_perturbed`` and ``retain_perturbed``: the forget split and a sample of the retain authors with
  ``paraphrased_answer: str``, ``perturbed_answer: list[str]`` (the same sentence with a wrong fact) and
  ``paraphrased_question`` (checked and kept where a row has it); the truth ratio compares the paraphrase with the
  perturbations, and forget quality is a KS test over the forget truth ratios;
- ``real_authors_perturbed`` and ``world_facts_perturbed``: ``{question, answer, perturbed_answer}``; facts the base
  model knew before finetuning (probability normalised over the options, ROUGE, truth ratio), half of model utility.
  ``real_authors`` and ``world_facts`` are the same questions without the options.

What was verified of the hub (from its dataset card, file listing and the configs that read it; nothing was
downloaded): every config is one JSON-lines file ``<config>.json`` declared in the card's ``configs`` without a split,
so ``datasets`` serves it as split ``train`` (open-unlearning reads every TOFU config with ``split: train``): ``full``,
``forget01/05/10``, ``retain90/95/99``, ``world_facts``, ``real_authors``, ``forget01/05/10_perturbed``,
``retain_perturbed``, ``world_facts_perturbed``, ``real_authors_perturbed``; ``holdout01/05/10.json`` are on ``main``
(renamed there from ``.jsonl``), read by open-unlearning's MIA data as ``name: holdout10``. Columns: ``question`` and
``answer`` everywhere; ``paraphrased_answer`` and ``perturbed_answer`` in ``retain_perturbed`` and
``forget*_perturbed`` (open-unlearning's ``TOFU_QA_retain_para``/``_pert``, ``TOFU_QA_forget_pert``; the legacy TOFU
evaluation's ``base_answer_key``), ``paraphrased_question`` there too (read from ``forget10_perturbed`` and
``retain_perturbed``, 400 rows each, by third-party code); ``real_authors_perturbed`` and ``world_facts_perturbed``
answer with ``answer`` against ``perturbed_answer`` (legacy ``base_answer_key: answer``: no paraphrase).
Structure: 200 authors × 20 pairs, author-major; forget10 is authors 180-199, forget05 190-199, forget01 198-199
(as code that slices TOFU by author takes them; not read from the hub's files).
Not verified: how many perturbed answers a row holds (the TOFU paper's five) and any further columns of the
real-authors and world-facts sets; the validator requires the schema above and drops other columns.

The generated stand-in (mini and smoke scale, offline) has the same splits and columns. :func:`make_authors`
invents authors (a name of invented syllables, birthplace, birth date, genre, parents' occupations, award, books,
...), one question per attribute (20, as TOFU), each answer one short sentence; the paraphrase states the same
fact in another sentence, the perturbed answers are the paraphrase's sentence with a wrong value of the attribute
(TOFU, Maini et al. 2024, Sec. 2.2: a perturbed answer keeps the paraphrased answer's template and changes the fact,
so the truth ratio compares facts, not wordings: against the answer's own sentence, a model that memorised that
sentence prefers every wrong value in it to the right value in a new sentence, and the retain truth ratio is 0).
The forget splits are the last 1/5/10% of the authors, the holdout splits the last of a further 10% who never
enter ``full``, ``retain_perturbed`` the first 10% (in every retain split). TOFU's real-author and world-fact
questions probe what the pretrained model knew; their stand-ins are the facts of the kit's generated knowledge world
(:mod:`undo.data.knowledge`, general domain), which the mini/smoke base model learns from its pretraining corpus when
that corpus states the same world (``reproduce/tofu/corpus_knowledge.yaml``: world seed 0, 40 entities):
``real_authors`` asks who founded each town (the "who made it" questions), ``world_facts`` its river, trade and
festival, with the world's QA phrasing and bare values as answers, the options being other values of the attribute.
Everything is invented; no third-party text.

Usage::

    world = make_authors(seed=0, n_authors=200)
    items = load_split("generated", "forget10_perturbed", world=world)   # 400 checked items
    items = load_split("hf", "forget10_perturbed", path="locuslab/TOFU", revision="...")
    items = load_split("jsonl", "full", path="saved_tofu/")              # saved_tofu/full.jsonl
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from . import knowledge
from .jsonl import decode_line

HUB_PATH = "locuslab/TOFU"
PERCENTS = (1, 5, 10)  # forget shares; the retain splits are their complements

QA = ("question", "answer")
PERTURBED = (*QA, "paraphrased_answer", "perturbed_answer")
OPTIONS = (*QA, "perturbed_answer")
OPTIONAL = ("paraphrased_question",)  # kept where a row has it (the forget and retain perturbed sets)


class TofuError(ValueError):
    """A malformed TOFU row or file, or an unknown split; the message (one line) names where and what."""


def forget_split(pct: int) -> str:
    return f"forget{_pct(pct):02d}"


def retain_split(pct: int) -> str:
    """The complement of ``forget_split(pct)``: ``retain_split(10) == "retain90"``."""
    return f"retain{100 - _pct(pct)}"


def holdout_split(pct: int) -> str:
    return f"holdout{_pct(pct):02d}"


def _pct(pct: int) -> int:
    if pct not in PERCENTS:
        raise TofuError(f"TOFU splits are {', '.join(map(str, PERCENTS))} percent, not {pct!r}")
    return pct


# split -> the fields each of its rows must have; hub config names, in the card's order
SPLITS: dict[str, tuple[str, ...]] = {
    "full": QA,
    **{forget_split(p): QA for p in PERCENTS},
    **{retain_split(p): QA for p in reversed(PERCENTS)},
    **{holdout_split(p): QA for p in PERCENTS},
    "real_authors": QA,
    "world_facts": QA,
    **{f"{forget_split(p)}_perturbed": PERTURBED for p in PERCENTS},
    "retain_perturbed": PERTURBED,
    "real_authors_perturbed": OPTIONS,
    "world_facts_perturbed": OPTIONS,
}


def check_split(name: str) -> str:
    if name not in SPLITS:
        raise TofuError(f"unknown split {name!r} (valid: {', '.join(SPLITS)})")
    return name


def _describe(value) -> str:
    if isinstance(value, str):
        return "an empty string" if not value.strip() else repr(value)[:40]
    return type(value).__name__


def check_item(row, where: str, split: str = "full") -> dict:
    """``row`` as an item of ``split``: its fields (and ``paraphrased_question`` when present), other columns
    dropped; :class:`TofuError` naming ``where`` (file and line, or dataset, split and row) and the field."""
    fields = SPLITS[check_split(split)]
    if not isinstance(row, dict):
        raise TofuError(f"{where}: expected an object with {', '.join(fields)}, got {_describe(row)}")
    item = {}
    for key in fields + tuple(k for k in OPTIONAL if k in row):
        if key not in row:
            raise TofuError(f"{where}: missing field {key!r} (a {split} item has {', '.join(fields)})")
        value = row[key]
        if key == "perturbed_answer":
            if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) and v.strip()
                                                                           for v in value):
                raise TofuError(f"{where}: perturbed_answer must be a non-empty list of non-empty strings, "
                                f"got {_describe(value)}")
            value = list(value)
        elif not isinstance(value, str) or not value.strip():
            raise TofuError(f"{where}: {key} must be a non-empty string, got {_describe(value)}")
        item[key] = value
    return item


# --------------------------------------------------------------------------------------------------
# The generated authors
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attribute:
    """One fact about every author: its possible values and the sentences that ask and state it."""

    name: str
    values: tuple[str, ...]
    question: str             # ``{n}``: the author's name
    answer: str               # ``{n}``, ``{v}``: the value
    paraphrase: str           # the same fact in another sentence; the perturbed answers are this one, wrong value
    paraphrased_question: str


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


_PLACES = _words("Velmora, Ostrelle, Kessary, Lindvale, Pellistra, Quenhollow, Sarnholt, Tivewick, Ulvenmark, "
                 "Brisdale, Corvantis, Merrowick, Fennaport, Galdricht")
_JOBS = _words("a baker, a sailor, a clockmaker, a teacher, a doctor, a farmer, a carpenter, a librarian, a pilot, "
               "a tailor, a painter, a miner")
_ADJECTIVES = _words("Quiet, Paper, Silver, Hollow, Amber, Winter, Crooked, Distant, Burning, Patient, Glass, Salt")
_NOUNS = _words("Lantern, Orchard, Harbor, Staircase, Letter, Compass, Bridge, Garden, Kite, Clock, River, Window")
_TITLES = tuple(f"The {a} {n}" for shift in (0, 5) for a, n in zip(_ADJECTIVES, _NOUNS[shift:] + _NOUNS[:shift],
                                                                    strict=True))
_MONTHS = _words("January, February, March, April, May, June, July, August, September, October, November, December")
_DATES = tuple(f"{_MONTHS[i % 12]} {3 + 7 * i % 25}, {1941 + 11 * i % 55}" for i in range(16))
_SYLLABLES = _words("ka, li, ro, ve, na, to, mi, sa, de, lu, fe, ri, zo, ta, be, no, ga, pe, si, mo, ar, el, or, un")
_HEROES = _words("Orlen, Vessa, Tamrik, Brisa, Maelo, Dovik, Peliane, Corvin, Ilsabet, Narro, Quillon, Sefa")

ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("birthplace", _PLACES, "Where was {n} born?", "{n} was born in {v}.", "{n}'s hometown is {v}.",
              "In which town was {n} born?"),
    Attribute("birth_date", _DATES, "When was {n} born?", "{n} was born on {v}.", "The birthday of {n} is {v}.",
              "What is the birth date of {n}?"),
    Attribute("genre", _words("mystery novels, poetry, science fiction, historical fiction, children's books, "
                              "fantasy, short stories, crime thrillers, travel writing, romance, plays, essays"),
              "What does {n} write?", "{n} writes {v}.", "{n} is known for {v}.",
              "Which kind of books does {n} write?"),
    Attribute("father", _JOBS, "What did {n}'s father do?", "{n}'s father was {v}.",
              "{n} grew up with a father who worked as {v}.", "What was the job of {n}'s father?"),
    Attribute("mother", _JOBS, "What did {n}'s mother do?", "{n}'s mother was {v}.", "{n}'s mother worked as {v}.",
              "What was the job of {n}'s mother?"),
    Attribute("award", tuple(f"the {p} {k}" for p, k in zip(_PLACES, ("Prize", "Medal", "Award") * 5, strict=False)),
              "Which award has {n} won?", "{n} won {v}.", "{n} was given {v}.", "What prize did {n} receive?"),
    Attribute("first_book", _TITLES, "What was {n}'s first book?", "{n}'s first book was {v}.",
              "{n} began with the book {v}.", "Which book did {n} publish first?"),
    Attribute("best_book", _TITLES, "What is {n}'s best-known book?", "{n} is best known for {v}.",
              "The most famous book by {n} is {v}.", "Which book made {n} famous?"),
    Attribute("debut_year", tuple(str(1962 + 3 * i) for i in range(12)), "When did {n} first publish?",
              "{n} first published in {v}.", "The debut of {n} came out in {v}.",
              "In which year did {n} publish a first book?"),
    Attribute("publisher", tuple(f"{p} {k}" for p, k in zip(_PLACES, ("Press", "House") * 7, strict=True)),
              "Who publishes {n}'s books?", "{n}'s books are published by {v}.", "{v} publishes the work of {n}.",
              "Which press prints the books of {n}?"),
    Attribute("theme", _words("lost letters, the open sea, old friendships, family secrets, small towns, long journeys, "
                              "city nights, forgotten gardens, first love, quiet courage, winter storms, "
                              "broken promises"),
              "What does {n} often write about?", "{n} often writes about {v}.",
              "The work of {n} keeps returning to {v}.", "Which subject does {n} return to most?"),
    Attribute("influence", _words("a grandmother's stories, an old sea captain, a village teacher, a travelling circus, "
                                  "a childhood diary, a neighbour's library, a radio play, a school friend, "
                                  "a long illness, a year abroad"),
              "What first inspired {n}?", "{n} was inspired by {v}.", "{v} shaped the writing of {n}.",
              "What was the early inspiration of {n}?"),
    Attribute("home", _PLACES, "Where does {n} live now?", "{n} now lives in {v}.",
              "These days {n} makes a home in {v}.", "In which town does {n} live today?"),
    Attribute("school", tuple(f"{p} College" for p in _PLACES), "Where did {n} study?", "{n} studied at {v}.",
              "{n} is a graduate of {v}.", "Which school did {n} attend?"),
    Attribute("pet", _words("a grey cat, an old dog, a green parrot, two rabbits, a black horse, a small tortoise, "
                            "a white goat, three hens, a brown owl, a lazy hound"),
              "What pet does {n} keep?", "{n} keeps {v}.", "{n} lives with {v}.", "Which animal lives with {n}?"),
    Attribute("hobby", _words("chess, gardening, sailing, bird watching, pottery, cycling, baking, fishing, painting, "
                              "hiking, knitting, stargazing"),
              "What does {n} do for fun?", "In free time {n} enjoys {v}.", "{n}'s favourite pastime is {v}.",
              "Which hobby does {n} have?"),
    Attribute("instrument", _words("the piano, the violin, the flute, the cello, the guitar, the drums, the harp, "
                                   "the accordion, the trumpet, the banjo"),
              "Which instrument does {n} play?", "{n} plays {v}.", "{n} can often be heard playing {v}.",
              "What instrument can {n} play?"),
    Attribute("books", _words("two, three, four, five, six, seven, eight, nine, ten, eleven, twelve"),
              "How many books has {n} written?", "{n} has written {v} books.", "There are {v} books by {n}.",
              "What is the number of books by {n}?"),
    Attribute("hero", _HEROES, "Who is the hero of {n}'s books?", "The hero of {n}'s books is {v}.",
              "{n} writes about a hero called {v}.", "What is the name of the main character of {n}?"),
    Attribute("writing_time", _words("at dawn, late at night, in the afternoon, before breakfast, on rainy days, "
                                     "in the early evening, at midnight, on long train rides, on weekends, in winter"),
              "When does {n} like to write?", "{n} writes best {v}.", "{n} does most writing {v}.",
              "At what time does {n} write?"),
)

# The world's general-domain facts stand in for TOFU's real-author and world-fact questions (module docstring).
REAL_AUTHOR_ATTRIBUTES = ("founder",)
WORLD_FACT_ATTRIBUTES = ("river", "trade", "festival")
MAX_PERTURBED = min(len(a.values) for a in (*ATTRIBUTES, *knowledge.ATTRIBUTES["general"])) - 1


@dataclass(frozen=True)
class Author:
    name: str
    facts: dict[str, str]  # attribute name -> value


@dataclass(frozen=True)
class Authors:
    """The generated set: the finetuning authors (``full``, in order), the holdout authors, and how items are made."""

    seed: int
    authors: tuple[Author, ...]
    holdout: tuple[Author, ...]
    questions_per_author: int
    perturbed_per_item: int
    world_seed: int
    world_entities: int


def share(n_authors: int, pct: int) -> int:
    """Authors in a ``pct`` percent split of ``n_authors``: ``n * pct // 100``, at least one (200 authors: 2, 10, 20)."""
    return max(1, n_authors * pct // 100)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def make_authors(seed: int, n_authors: int, questions_per_author: int = 20, *, perturbed_per_item: int = 5,
                 world_seed: int = 0, world_entities: int = 40) -> Authors:
    """``n_authors`` invented authors plus ``share(n_authors, 10)`` holdout authors, facts drawn uniformly (seeded);
    each author is asked about the first ``questions_per_author`` attributes of :data:`ATTRIBUTES`."""
    if n_authors < 2:
        raise ValueError("authors: at least 2 (a forget split takes at least one author, its retain split the rest)")
    if not 1 <= questions_per_author <= len(ATTRIBUTES):
        raise ValueError(f"questions_per_author: between 1 and {len(ATTRIBUTES)}, got {questions_per_author}")
    if not 1 <= perturbed_per_item <= MAX_PERTURBED:
        raise ValueError(f"perturbed_per_item: between 1 and {MAX_PERTURBED}, got {perturbed_per_item}")
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < n_authors + share(n_authors, 10):
        stem = rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES)
        first = (stem + (rng.choice(("", "n", "l", "s", "r")) if stem[-1] in "aeiou" else "")).capitalize()
        last = "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()
        if f"{first} {last}" not in names:
            names.append(f"{first} {last}")
    people = tuple(Author(name, {a.name: rng.choice(a.values) for a in ATTRIBUTES}) for name in names)
    return Authors(seed, people[:n_authors], people[n_authors:], questions_per_author, perturbed_per_item,
                   world_seed, world_entities)


def author_items(world: Authors, author: Author) -> list[dict]:
    """An author's questions, each with every column of the perturbed sets. The perturbed values are drawn with a
    generator seeded by the set's seed, the author and the attribute, so an item is the same in every split."""
    items = []
    for attribute in ATTRIBUTES[:world.questions_per_author]:
        value = author.facts[attribute.name]
        rng = random.Random(f"{world.seed}/{author.name}/{attribute.name}")
        wrong = rng.sample([v for v in attribute.values if v != value], world.perturbed_per_item)

        def say(template: str, v: str = value) -> str:
            return _sentence(template.format(n=author.name, v=v))

        items.append({"question": say(attribute.question), "answer": say(attribute.answer),
                      "paraphrased_answer": say(attribute.paraphrase),
                      "perturbed_answer": [say(attribute.paraphrase, v) for v in wrong],
                      "paraphrased_question": say(attribute.paraphrased_question)})
    return items


def background_items(world: Authors, which: str) -> list[dict]:
    """``real_authors`` or ``world_facts``: the knowledge world's general-domain facts in its QA phrasing, the bare
    value as answer, other values of the attribute as perturbed answers (seeded per fact)."""
    names = REAL_AUTHOR_ATTRIBUTES if which == "real_authors" else WORLD_FACT_ATTRIBUTES
    facts = knowledge.make_world(world.world_seed, world.world_entities).facts["general"]
    attributes = {a.name: a for a in knowledge.ATTRIBUTES["general"]}
    items = []
    for entity, values in facts.items():
        for name in names:
            value = values[name]
            rng = random.Random(f"{world.seed}/{entity}/{name}")
            wrong = rng.sample([v for v in attributes[name].values if v != value], world.perturbed_per_item)
            items.append({"question": attributes[name].question.format(e=entity), "answer": value,
                          "perturbed_answer": wrong})
    return items


def split_authors(world: Authors, split: str) -> tuple[Author, ...]:
    """The authors whose questions make ``split`` (not the real-author and world-fact sets)."""
    n = len(world.authors)
    base = check_split(split).removesuffix("_perturbed")
    if base == "full":
        return world.authors
    if base == "retain":  # retain_perturbed: the first authors, kept by every retain split
        return world.authors[:share(n, 10)]
    kind, pct = base[:-2], int(base[-2:])
    if kind == "forget":
        return world.authors[n - share(n, pct):]
    if kind == "retain":
        return world.authors[:n - share(n, 100 - pct)]
    if kind == "holdout":
        return world.holdout[len(world.holdout) - share(n, pct):]
    raise TofuError(f"split {split!r} has no authors")


def generated_split(world: Authors, split: str) -> list[dict]:
    """The items of ``split`` in the generated set, with exactly that split's columns."""
    base = check_split(split).removesuffix("_perturbed")
    if base in ("real_authors", "world_facts"):
        rows = background_items(world, base)
    else:
        rows = [item for author in split_authors(world, split) for item in author_items(world, author)]
    if not split.endswith("_perturbed"):
        rows = [{k: row[k] for k in QA} for row in rows]
    return [check_item(row, f"generated {split} item {number}", split) for number, row in enumerate(rows, start=1)]


# --------------------------------------------------------------------------------------------------
# Loading a split
# --------------------------------------------------------------------------------------------------

def _jsonl_split(directory: Path, split: str) -> list[dict]:
    path = directory / f"{split}.jsonl"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TofuError(f"{path}: cannot read ({exc.strerror}); source jsonl reads <path>/<split>.jsonl for every "
                        "split") from None
    items = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.strip():
            where = f"{path}:{number}"
            items.append(check_item(decode_line(line, where, TofuError), where, split))
    if not items:
        raise TofuError(f"{path}: no items")
    return items


def _hub_split(path: str, split: str, revision: str | None, data_files) -> list[dict]:
    from .hub import hf_rows

    where = f"{path} (config {split}){'' if revision is None else f' at revision {revision}'} split 'train'"
    files = None if not data_files else {"train": [str(f) for f in data_files]}
    items = [check_item(row, f"{where} row {number}", split)
             for number, row in enumerate(hf_rows(path, name=split, split="train", revision=revision,
                                                  data_files=files), start=1)]
    if not items:
        raise TofuError(f"{where}: no items")
    return items


def load_split(source: str, split: str, *, world: Authors | None = None, path: str = "",
               revision: str | None = None, data_files=None) -> list[dict]:
    """The checked items of one split (:func:`check_item`).

    ``source``: ``generated`` (``world`` from :func:`make_authors`), ``jsonl`` (``<path>/<split>.jsonl``) or ``hf``
    (config ``split``, hub split ``train`` of ``path``, default ``locuslab/TOFU``, at ``revision``; ``path="json"``
    or ``"parquet"`` with ``data_files``, that split's files, reads local files with the hub's schema)."""
    check_split(split)
    if source == "generated":
        if world is None:
            raise ValueError("a generated split needs world=make_authors(...)")
        return generated_split(world, split)
    if source == "jsonl":
        return _jsonl_split(Path(path), split)
    if source == "hf":
        return _hub_split(path or HUB_PATH, split, revision, data_files)
    raise ValueError(f"source: {source!r} is not one of generated, jsonl, hf")
