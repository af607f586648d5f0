"""The paper-scale WMDP path on CPU (Section 6): the shipped paper configs, run for a couple of steps with a down-scaled
Gemma-2 (26 layers, as gemma-2-2b, so RMU's layers 10-15 exist) and local files in the hub datasets' schemas, so a GPU
run does not die on a code path nobody ran: the published model through the init stage, the hub corpora and
benchmarks (MMLU's 40% per subject and five dev shots, the harness's letter prompt), the gated bio forget corpus and
the QA sets as local JSONL, Table 11's mix with a Magpie template, MaxEnt/RMU/SAM unlearning with the WMDP
weighting, UNDO's shrinkage and distillation, and three of Table 12's adversaries (long and shrink-perturbed).
The reported numbers (unlearning and distillation, App. D.2.1) come from lm-evaluation-harness itself, offline on
the questions stages' items; the attacks score with the kit's fast multiple-choice scorer."""

import functools
import json
import math
import random
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from undo.cli import cli
from undo.models import ModelConfig, build_model, save_model
from undo.tokenizer import byte_tokenizer

WORDS = "cell virus host protein gene spread sample lab network server exploit packet shell port river town".split()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def _jsonl(path: Path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _edit(config: Path, **updates) -> None:
    """Set paper-level keys of a config file (dotted keys for nested mappings)."""
    data = yaml.safe_load(config.read_text())
    for dotted, value in updates.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def _mc(rng: random.Random, n: int, subject: str | None = None) -> list[dict]:
    rows = []
    for _ in range(n):
        row = {"question": _text(rng, 6).rstrip(".") + "?", "choices": [_text(rng, 2) for _ in range(4)],
               "answer": rng.randrange(4)}
        if subject:
            row["subject"] = subject
        rows.append(row)
    return rows


@pytest.fixture
def paper_workspace(smoke_workspace, monkeypatch):
    root, rng = smoke_workspace, random.Random(0)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    local = root / "local"
    local.mkdir()
    # the "published" model: gemma-2-2b's depth and head layout, a byte tokenizer, tiny widths
    tok = byte_tokenizer()
    model = build_model(ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=26, num_attention_heads=2,
                                    num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
                                    max_position_embeddings=1024, sliding_window=1024), len(tok), seed=0)
    save_model(model, tok, local / "gemma")
    wmdp = root / "reproduce" / "wmdp"
    _edit(wmdp / "base_model.yaml", **{"pretrained.name_or_path": str(local / "gemma"), "pretrained.revision": None})
    _edit(wmdp / "tokenizer.yaml", name_or_path=str(local / "gemma"))

    def corpus(name: str, n: int = 30, words: int = 60) -> str:
        return _jsonl(local / f"{name}.jsonl", [{"text": _text(rng, words), "title": "t"} for _ in range(n)])

    def qa(name: str) -> str:
        return _jsonl(local / f"{name}.jsonl", [{"question": _text(rng, 5), "answer": _text(rng, 8)} for _ in range(30)])

    hub = {"kind": "hf", "path": "json", "config_name": None, "text_field": "text"}
    for domain in ("bio", "cyber"):
        d = wmdp / domain
        if domain == "bio":
            _edit(d / "corpus_forget.yaml", **{"source.path": corpus("bio_forget")})   # the gated corpus, local JSONL
        else:
            _edit(d / "corpus_forget.yaml", source={**hub, "data_files": [corpus("cyber_forget")]})
        _edit(d / "corpus_retain.yaml", source={**hub, "data_files": [corpus(f"{domain}_retain")]})
        _edit(d / "corpus_forget_qa.yaml", **{"source.path": qa(f"{domain}_forget_qa")})
        _edit(d / "corpus_retain_qa.yaml", **{"source.path": qa(f"{domain}_retain_qa")})
        _edit(d / "questions_wmdp.yaml", path="json", config_name=None,
              data_files={"test": [_jsonl(local / f"wmdp_{domain}.jsonl", _mc(rng, 12))]})
    _edit(wmdp / "corpus_wiki_qa.yaml", **{"source.path": qa("wiki_qa")})
    _edit(wmdp / "corpus_wikitext.yaml", source={**hub, "data_files": [corpus("wikitext")]})
    _edit(wmdp / "corpus_fineweb_edu.yaml", source={**hub, "data_files": [corpus("fineweb", 20, 300)]})
    _edit(wmdp / "corpus_wikipedia.yaml", source={**hub, "data_files": [corpus("wikipedia", 20, 300)]})
    magpie = _jsonl(local / "magpie.jsonl", [{"instruction": _text(rng, 20), "response": _text(rng, 80),
                                              "conversations": []} for _ in range(20)])
    _edit(wmdp / "corpus_magpie.yaml", **{"source.path": "json", "source.data_files": [magpie], "sweep": None})
    aux = yaml.safe_load((wmdp / "data_aux.yaml").read_text())
    aux["parts"] = [p for p in aux["parts"] if "magpie" not in p["corpus"]] + [{"corpus": "corpus_magpie.yaml",
                                                                                 "weight": 0.29}]
    (wmdp / "data_aux.yaml").write_text(yaml.safe_dump(aux, sort_keys=False))
    subjects = ("virology", "high_school_biology")
    _edit(wmdp / "questions_mmlu.yaml", path="json", config_name=None, data_files={
        "test": [_jsonl(local / "mmlu_test.jsonl", [r for s in subjects for r in _mc(rng, 5, s)])],
        "dev": [_jsonl(local / "mmlu_dev.jsonl", [r for s in subjects for r in _mc(rng, 5, s)])]})
    # two steps of everything, one seed, small batches; the paper's sequence lengths and model depth stay
    # evaluated before and after (each evaluation is two lm-eval runs)
    _edit(wmdp / "unlearning.yaml", **{"optim.batch_size": 2, "optim.max_steps": 2, "eval_every": 2,
                                       "sweep": {"seed": [42]}})
    _edit(wmdp / "distill_undo.yaml", **{"optim.batch_size": 1, "optim.grad_accum": 2, "optim.max_steps": 2,
                                         "optim.warmup_steps": 0, "eval_every": 2})
    _edit(wmdp / "relearn.yaml", steps=2, eval_steps=[1, 2], lrs=[1.0e-5], batch_size=2)
    return root


@pytest.fixture
def scorers(monkeypatch):
    """Which scorer ran: the harness's task lists passed to lm_eval.simple_evaluate, and calls of the kit's scorer."""
    import lm_eval

    from undo.evals.multiple_choice import MultipleChoiceEval

    seen = {"harness": [], "kit": 0}
    evaluate, kit_call = lm_eval.simple_evaluate, MultipleChoiceEval.__call__

    def harness(*args, **kwargs):
        seen["harness"].append(tuple(kwargs["tasks"]))
        return evaluate(*args, **kwargs)

    @functools.wraps(kit_call)  # keeps the signature the relearn stage inspects (its `roles`)
    def kit(self, *args, **kwargs):
        seen["kit"] += 1
        return kit_call(self, *args, **kwargs)

    monkeypatch.setattr(lm_eval, "simple_evaluate", harness)
    monkeypatch.setattr(MultipleChoiceEval, "__call__", kit)
    return seen


def _check_reported_numbers_are_the_harness(store: Path, scorers: dict) -> None:
    """Unlearning and distillation evaluated through lm-eval (MMLU five-shot on the first 40% of every subject, the
    domain's WMDP zero-shot), and the stored numbers are what the harness gives the released model."""
    import yaml as _yaml

    from undo.evals.harness import HarnessEval, HarnessEvalConfig
    from undo.models import load_model

    assert set(scorers["harness"]) == {("mmlu",), ("wmdp",)} and scorers["kit"] > 0  # the attacks: the kit's scorer
    for stage in ("unlearn", "distill", "relearn"):
        for cfg_file in (store / stage).glob("*/config.yaml"):
            kind = _yaml.safe_load(cfg_file.read_text())["config"]["eval"]["kind"]
            assert kind == ("multiple_choice" if stage == "relearn" else "harness"), cfg_file
    questions = {p.name.split("-")[1]: p for p in (store / "questions").glob("bio-questions_*")}
    harness = HarnessEval(HarnessEvalConfig(retain_task="mmlu", forget_task="wmdp", retain_limit=1.0, batch_size=16),
                          byte_tokenizer(), "cpu", {"retain": questions["questions_mmlu"],
                                                    "forget": questions["questions_wmdp"]})
    for stage in ("unlearn", "distill"):
        artifact = next(p for p in (store / stage).glob("bio-*") if (p / "DONE").exists())
        reported = json.loads((artifact / "metrics.json").read_text())["eval"]
        results = harness.results(load_model(artifact / "model", "cpu"), log_samples=True)
        assert {leaf: len(s) for leaf, s in results["retain"].samples.items()} == {
            "mmlu_virology": 2, "mmlu_high_school_biology": 2}  # five-shot, 40% of five items per subject
        assert results["retain"].num_fewshot == {"mmlu_virology": 5, "mmlu_high_school_biology": 5}
        assert {leaf: len(s) for leaf, s in results["forget"].samples.items()} == {"wmdp_biology": 12}
        assert reported["retain"] == reported["mmlu_acc"] == pytest.approx(results["retain"].accuracy["mmlu"])
        assert reported["forget"] == reported["wmdp_acc"] == pytest.approx(results["forget"].accuracy["wmdp"])


@pytest.mark.slow
def test_the_paper_scale_wmdp_path_runs_on_cpu(paper_workspace, scorers):
    targets = ["reproduce/wmdp/bio/relearn.yaml[model=distill_undo,teacher=select_maxent,adversary=sp_wiki_qa_long]",
               "reproduce/wmdp/bio/relearn.yaml[model=select_rmu,adversary=forget_retain_qa_long]",
               "reproduce/wmdp/bio/relearn.yaml[model=unlearn_sam,adversary=sp_forget_retain]"]
    result = CliRunner().invoke(cli, ["--artifacts-dir", "artifacts", "--device", "cpu", "run", *targets,
                                      "--scale", "paper"])
    assert result.exit_code == 0, result.output[-3000:]
    store = paper_workspace / "artifacts"
    attacks = [json.loads(p.read_text()) for p in (store / "relearn").glob("*/results.json")]
    assert sorted(a["adversary"] for a in attacks) == ["forget_retain_qa_long", "sp_forget_retain", "sp_wiki_qa_long"]
    for attack in attacks:
        curve = attack["curves"]["1e-05"]
        assert curve["step"] == [0, 1, 2] and all(0.0 <= v <= 1.0 for v in curve["forget"] + curve["retain"][:1])
        # retain_at: start (relearn.yaml): MMLU is scored before the attack only, the later points are not scored
        assert all(math.isnan(v) or 0.0 <= v <= 1.0 for v in curve["retain"][1:])
    mmlu = json.loads(next((store / "questions").glob("*questions_mmlu*/metrics.json")).read_text())
    assert mmlu["items"] == 4  # 40% of five items per subject, rounded up per subject (two subjects)
    base = json.loads(next((store / "init").glob("*/metrics.json")).read_text())
    assert base.get("parameters", 0) > 0
    _check_reported_numbers_are_the_harness(store, scorers)
