"""The generated knowledge world (undo.data.knowledge): the offline stand-in for Section 6's WMDP data."""

from __future__ import annotations

import json

import pytest

from undo.data.knowledge import ATTRIBUTES, DOMAINS, choice_items, documents, make_world, qa_pairs
from undo.evals.multiple_choice import build_prompts, load_items


def test_a_world_is_a_pure_function_of_its_seed_with_every_fact_filled():
    a, b, c = make_world(0, 12), make_world(0, 12), make_world(1, 12)
    assert a == b and a.facts != c.facts
    names = [e for d in DOMAINS for e in a.entities(d)]
    assert len(names) == len(set(names)) == 36  # unique across domains
    for domain in DOMAINS:
        for values in a.facts[domain].values():
            assert set(values) == {attr.name for attr in ATTRIBUTES[domain]}
            for attr in ATTRIBUTES[domain]:
                assert values[attr.name] in attr.values
    for bad in (0, 10_000):
        with pytest.raises(ValueError, match="entities_per_domain"):
            make_world(0, bad)


def test_documents_state_every_fact_of_one_entity_and_never_the_heldout_phrasing():
    world = make_world(3, 10)
    for domain in DOMAINS:
        docs = documents(world, domain, seed=4, per_entity=2)
        assert len(docs) == 20 and docs == documents(world, domain, seed=4, per_entity=2)
        entities = world.entities(domain)
        for doc in docs:
            (entity,) = [e for e in entities if e in doc]
            for value in world.facts[domain][entity].values():
                assert value.lower() in doc.lower()  # a sentence may start with the value
        heldout = [attr.heldout_question.split("{e}")[0].strip() for attr in ATTRIBUTES[domain]]
        assert not any(h and h in doc for h in heldout for doc in docs)


def test_qa_pairs_ask_for_each_fact():
    world = make_world(5, 4)
    qa = qa_pairs(world, "cyber")
    assert len(qa) == 4 * len(ATTRIBUTES["cyber"])
    entity = world.entities("cyber")[0]
    assert {"question": f"Who wrote {entity}?", "answer": world.facts["cyber"][entity]["author"]} in qa


def test_choice_items_have_same_type_distractors_and_load_in_the_scorer(tmp_path):
    world = make_world(7, 6)
    items = choice_items(world, "bio", seed=8)
    assert len(items) == 6 * len(ATTRIBUTES["bio"]) and items == choice_items(world, "bio", seed=8)
    answers = set()
    for item, (entity, name) in zip(items, [(e, a.name) for e in world.entities("bio") for a in ATTRIBUTES["bio"]],
                                    strict=True):
        attribute = next(a for a in ATTRIBUTES["bio"] if a.name == name)
        assert entity in item["question"] and len(set(item["choices"])) == 4
        assert set(item["choices"]) <= set(attribute.values)
        assert item["choices"][item["answer"]] == world.facts["bio"][entity][name]
        answers.add(item["answer"])
    assert len(answers) > 1  # the true value is not always in one position
    path = tmp_path / "bio.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    prompts = build_prompts(load_items(path), "continuation")
    assert prompts[0].continuations == tuple(f" {c}" for c in items[0]["choices"])
    with pytest.raises(ValueError, match="n_choices"):
        choice_items(world, "bio", seed=8, n_choices=9)


def test_the_corpus_stage_writes_knowledge_prose_and_qa(tmp_path):
    from undo.pipeline import Graph, run_nodes
    from undo.store import Store

    (tmp_path / "prose.yaml").write_text("stage: corpus\nsource: {kind: knowledge, domains: [bio, cyber], entities: 5,"
                                         " per_entity: 2}\nseed: 3\n")
    (tmp_path / "qa.yaml").write_text("stage: corpus\nsource: {kind: knowledge, domains: [general], entities: 5, "
                                      "form: qa}\n")
    (tmp_path / "bad.yaml").write_text("stage: corpus\nsource: {kind: knowledge, domains: [chemistry]}\n")
    graph = Graph(Store(tmp_path / "artifacts"), "smoke")
    nodes = graph.plan([tmp_path / "prose.yaml", tmp_path / "qa.yaml"])
    run_nodes(nodes, device="cpu", scale="smoke", echo=lambda *_: None)
    world = make_world(0, 5)
    prose = [json.loads(line)["text"] for line in (nodes[0].artifact.path / "documents.jsonl").open()]
    assert prose == documents(world, "bio", seed=3, per_entity=2) + documents(world, "cyber", seed=3, per_entity=2)
    qa = [json.loads(line)["text"] for line in (nodes[1].artifact.path / "documents.jsonl").open()]
    first = qa_pairs(world, "general")[0]
    assert qa[0] == f"Question: {first['question']}\nAnswer: {first['answer']}" and len(qa) == 5 * 4
    from undo.config import ConfigError
    with pytest.raises(ConfigError, match=r"bad.yaml: source.domains: unknown domain 'chemistry'"):
        graph.resolve(tmp_path / "bad.yaml")
