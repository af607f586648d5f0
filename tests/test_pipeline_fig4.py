"""End to end at smoke scale: `undo run reproduce/fig4.yaml reproduce/fig10.yaml --scale smoke`, then `undo report`."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from undo.cli import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workspace(smoke_workspace):
    # Under a minute on two cores: MaxEnt in both settings (GradDiff and RMU are the same stages with another
    # teacher; tests/stages/test_init.py checks their configs, test_fig4_full_graph_resolves their graph).
    for name in ("fig4", "fig9"):  # fig10.yaml takes fig4.yaml's series (its base)
        path = smoke_workspace / "reproduce" / f"{name}.yaml"
        cfg = yaml.safe_load(path.read_text())
        cfg["series"] = {k: v for k, v in cfg["series"].items() if "graddiff" not in k and "rmu" not in k}
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return smoke_workspace


@pytest.mark.slow
def test_fig4_fig10_smoke_end_to_end_then_report(workspace):
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig4.yaml", "reproduce/fig9.yaml",
            "reproduce/fig10.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    out = workspace / "figures" / "smoke"
    for name in ("fig4", "fig9", "fig10"):
        for ext in ("png", "pdf", "json", "md"):
            assert (out / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
    results = json.loads((out / "fig4.json").read_text())
    assert {k.split("/")[0] for k in results["series"]} == {"arithmetic", "language"}
    distilled = results["series"]["arithmetic/maxent/distill"]
    assert sorted(i["tags"]["seed"] for i in distilled) == [0, 1]
    assert set(distilled[0]["results"]["curves"]) and distilled[0]["results"]["model_stage"] == "distill"
    # the student is a random init distilled for as many steps as pretraining (smoke: 40)
    init = json.loads(next((workspace / "artifacts" / "init").glob("arithmetic-init-*/metrics.json")).read_text())
    assert init["steps"] == 0 and "forget" in init["eval"]
    pretrain = json.loads(next((workspace / "artifacts" / "pretrain").glob("arithmetic-pretrain_reference-*/metrics.json")).read_text())
    assert distilled[0]["results"]["model_steps"] == pretrain["steps"] == 40
    assert "Unlearn-and-Distill" in (out / "fig4.md").read_text()
    assert "average over learning rates" in (out / "fig10.md").read_text()
    assert "| MaxEnt | 40 |" in (out / "fig9.md").read_text()  # the arithmetic student: pretraining's 40 steps

    # the claims report reads the stored fig4.json (fig3/fig5 were not run here)
    report = CliRunner().invoke(cli, ["report", "--scale", "smoke"])
    assert report.exit_code == 0, report.output
    claims = (out / "claims.md").read_text()
    assert "| Unlearn-and-Distill relearns slower than Unlearn-Only | fig4 | arithmetic/maxent |" in claims
    assert "| Unlearn-and-Distill relearns slower than Unlearn-Only | fig4 | language/maxent |" in claims
    assert "| robustness rises with α | fig5 | — |" in claims and "no fig5.json" in claims


def test_fig4_full_graph_resolves():
    """Every method of both settings, at every scale, resolves into one graph sharing fig5's relearning runs."""
    from undo.pipeline import Graph
    from undo.store import Store

    for scale in ("paper", "mini", "smoke"):
        graph = Graph(Store(Path("/nonexistent-artifacts")), scale)
        labels = {n.name for n in graph.plan([REPO / "reproduce" / "fig4.yaml", REPO / "reproduce" / "fig10.yaml"])}
        for method in ("graddiff", "maxent", "rmu"):
            assert any(label.startswith("arithmetic-relearn-distill_random-seed") and label.endswith(f"select_{method}")
                       for label in labels), method
            assert any(label.startswith(f"arithmetic-relearn-select_{method}-seed") for label in labels), method
        inits = {"language-init", "arithmetic-init"}
        # paper: one pipeline; mini and smoke: one student init per pipeline seed (the reference's own init)
        assert inits <= labels if scale == "paper" else {f"{i}-seed0" for i in inits} <= labels
        maxent = str(REPO / "reproduce" / "synthetic" / "arithmetic" / "relearn.yaml") + "[model=select_maxent]"
        fig5 = {n.key for n in graph.resolve_ref(maxent)}
        fig4 = {n.key for n in graph.resolve(REPO / "reproduce" / "fig4.yaml")[0].upstream[maxent]}
        assert fig4 == fig5
