"""End to end at smoke scale: `undo run reproduce/fig7.yaml --scale smoke`, then `undo report`."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from undo.cli import cli

REPO = Path(__file__).resolve().parents[1]
KEEP = ("maxent", "sam", "undo", "data_filtering")


@pytest.fixture
def workspace(smoke_workspace):
    # Arithmetic only, four of the eight methods: MaxEnt (UNDO's teacher), SAM (a robust baseline, for the second
    # claim), UNDO at two retain thresholds and Data Filtering, and the LoRA adversary on MaxEnt, UNDO's strictest
    # student and Data Filtering. The others are the same relearn stage on another
    # unlearned model (test_fig7_full_graph_resolves checks their graph); language is the same figure code.
    path = smoke_workspace / "reproduce" / "fig7.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["series"] = {k: v for k, v in cfg["series"].items() if k.startswith("arithmetic/") and k.split("/")[1] in KEEP}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return smoke_workspace


@pytest.mark.slow
def test_fig7_smoke_end_to_end_then_report(workspace):
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig7.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    out = workspace / "figures" / "smoke"
    for ext in ("png", "pdf", "json", "md"):
        assert (out / f"fig7.{ext}").stat().st_size > 0, ext
    results = json.loads((out / "fig7.json").read_text())
    lora = ("maxent", "undo", "data_filtering")
    assert set(results["series"]) == {f"arithmetic/{m}" for m in KEEP} | {f"arithmetic/{m}/lora" for m in lora}
    undo = results["series"]["arithmetic/undo"]
    assert sorted((i["tags"]["seed"], i["tags"]["tolerance"]) for i in undo) == [(0, 0.05), (0, 0.33), (1, 0.05), (1, 0.33)]
    assert {i["tags"]["alpha"] for i in undo} == {0.6}
    # the looser threshold stops distillation no later than the tighter one
    steps = {(i["tags"]["seed"], i["tags"]["tolerance"]): i["results"]["model_steps"] for i in undo}
    assert all(steps[(s, 0.33)] <= steps[(s, 0.05)] for s in (0, 1))
    curves = results["series"]["arithmetic/sam"][0]["results"]["curves"]
    assert all(c["step"] == [0, 5, 10] for c in curves.values())  # smoke: moderate 5, extensive 10
    md = (out / "fig7.md").read_text()
    assert "| model | retain | forget @0 | forget @5 | forget @10 |" in md and "| UNDO τ=0.33 |" in md
    # the LoRA adversary: adapters only, on the same models (their retain before the attack is the same), UNDO's
    # strictest student only; its own table next to full finetuning's forget
    for method in lora:
        for inst in results["series"][f"arithmetic/{method}/lora"]:
            attack = inst["results"]["attack"]
            assert attack["kind"] == "lora" and attack["rank"] == 8 and "gate_proj" in attack["target_modules"]
            assert 0 < attack["trainable_parameters"] < attack["parameters"]
            twin = next(i for i in results["series"][f"arithmetic/{method}"]
                        if i["results"]["model"] == inst["results"]["model"])
            first = lambda i: next(iter(i["results"]["curves"].values()))  # noqa: E731
            assert first(inst)["retain"][0] == first(twin)["retain"][0]
    assert len(results["series"]["arithmetic/undo/lora"]) == 2  # one per seed: tau = 0.05 only
    assert "LoRA r=8 adversary (alpha 16" in md and "| full finetuning: forget @10 |" in md

    report = CliRunner().invoke(cli, ["report", "--scale", "smoke"])
    assert report.exit_code == 0, report.output
    claims = (out / "claims.md").read_text()
    assert "| UNDO is on the retain/forget Pareto frontier after the extensive attack | fig7 | arithmetic |" in claims
    assert "| SAM and RepNoise end the extensive attack less robust than UNDO | fig7 | arithmetic |" in claims


def test_fig7_full_graph_resolves():
    """Eight methods in both settings at every scale, attacked by the same relearning configs as Figures 4 and 5;
    UNDO at α=0.6 per threshold, one per pipeline seed; its strictest student is Figure 5's α=0.6 student."""
    from undo.pipeline import Graph
    from undo.store import Store

    for scale in ("paper", "mini", "smoke"):
        graph = Graph(Store(Path("/nonexistent-artifacts")), scale)
        nodes = graph.plan([REPO / "reproduce" / "fig7.yaml"])
        models = {"graddiff": "select_graddiff", "maxent": "select_maxent", "rmu": "select_rmu", "sam": "unlearn_sam",
                  "repnoise": "unlearn_repnoise", "undial": "select_undial", "oracle": "pretrain_oracle"}
        for prefix in ("arithmetic", "language"):
            attacks = [n for n in nodes if n.stage == "relearn" and n.name.startswith(f"{prefix}-")]
            for method, model in models.items():  # the model each attack's config lists, as its tag
                assert any(n.tags["model"] == model for n in attacks), (scale, prefix, method)
            lora = [n for n in attacks if n.cfg.lora is not None]
            assert {n.tags["model"] for n in lora} == {"select_maxent", "distill_undo_thresholds", "pretrain_oracle"}
            assert all(n.cfg.lora.rank == 8 and n.cfg.lora.target_modules is None for n in lora), scale
            attacks = [n for n in attacks if n.cfg.lora is None]
            full = {n.tags["model"]: n.cfg for n in attacks}
            for n in lora:  # the full finetune attack's data, steps and evaluations; ten times its learning rates
                twin = full[n.tags["model"]]
                assert (n.cfg.data, n.cfg.steps, n.cfg.eval_every, n.cfg.eval) == \
                    (twin.data, twin.steps, twin.eval_every, twin.eval), scale
                assert [round(lr / 10, 12) for lr in n.cfg.lrs] == [round(lr, 12) for lr in twin.lrs], scale
            undo = [n for n in attacks if n.tags["model"] == "distill_undo_thresholds"]
            assert len(undo) >= 2 and {n.tags["alpha"] for n in undo} == {0.6}, scale
            per_seed = {}
            for n in undo:
                per_seed.setdefault(n.tags.get("seed"), []).append(n.tags["tolerance"])
            assert all(len(set(t)) == len(t) >= 2 for t in per_seed.values())
            relearn = next(n for n in attacks if n.tags["model"] == "select_maxent")
            moderate = 5 if scale == "smoke" else 40  # fig7.yaml's options.moderate_step
            assert moderate < relearn.cfg.steps and moderate % relearn.cfg.eval_every == 0, scale
        if scale == "paper":
            assert {n.cfg.steps for n in nodes if n.stage == "relearn"} == {500}
    # the strictest Figure 7 student (tolerance 0.05) is Figure 5's alpha = 0.6 student: the same artifact
    graph = Graph(Store(Path("/nonexistent-artifacts")), "mini")
    for setting in ("language", "arithmetic"):
        fig5 = {n.artifact.dirname for n in graph.resolve(REPO / "reproduce" / "synthetic" / setting / "distill_undo.yaml")}
        fig7 = {n.artifact.dirname for n in graph.resolve(REPO / "reproduce" / "synthetic" / setting / "distill_undo_thresholds.yaml")
                if n.tags["tolerance"] == 0.05}
        assert fig7 and fig7 <= fig5, setting
