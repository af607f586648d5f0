"""End to end at smoke scale: `undo run reproduce/fig6.yaml --scale smoke`, then `undo report`; and the fig6 graph at
every scale (its students are distilled and attacked exactly as Figure 5's, and Figure 5's stages are untouched)."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from undo.cli import cli
from undo.config import to_plain
from undo.pipeline import Graph
from undo.store import Store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workspace(smoke_workspace):
    # Well under a minute: the references drop Data Filtering (the oracle's pretraining and attacks; Figures 4 and 5
    # test those stages), Unlearn-Only stays as the panels' reference line.
    path = smoke_workspace / "reproduce" / "fig6.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["series"] = {k: v for k, v in cfg["series"].items() if not k.endswith("data_filtering")}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return smoke_workspace


@pytest.mark.slow
def test_fig6_smoke_end_to_end_then_report(workspace):
    smoke_workspace = workspace
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig6.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    out = smoke_workspace / "figures" / "smoke"
    for ext in ("png", "pdf", "json", "md"):
        assert (out / f"fig6.{ext}").stat().st_size > 0, ext
    results = json.loads((out / "fig6.json").read_text())
    for setting in ("arithmetic", "language"):
        undo, distill = results["series"][f"{setting}/undo"], results["series"][f"{setting}/distill"]
        grid = {(i["tags"]["alpha"], i["tags"]["beta"]) for i in undo}
        assert grid == {(0.3, 0.1), (0.3, 1.0), (0.8, 0.1), (0.8, 1.0)}  # the smoke grid's corners
        assert sorted(i["tags"]["seed"] for i in undo) == [0] * 4 + [1] * 4  # in both pipeline seeds
        assert {(i["tags"]["alpha"], i["tags"]["beta"]) for i in distill} == grid
        for inst in distill:  # each attacked model is its own student, with the steps its distillation took
            steps, cap = inst["summary"]["steps"], inst["summary"]["max_steps"]  # cap: the oracle's steps
            assert 0 <= steps <= cap and cap >= 40  # 0: the noised student already met the rule
            assert inst["summary"]["stop_reached"] or (steps == cap and inst["summary"]["capped"])
            # the attack's tags are its student's plus the attacked config (relearn.yaml lists several)
            twin = next(u for u in undo if {k: v for k, v in u["tags"].items() if k != "model"} == inst["tags"])
            assert twin["results"]["model"] == inst["artifact"] and twin["results"]["model_steps"] == steps
        noised = {(c["alpha"], c["beta"]) for c in (json.loads(p.read_text()) for p in
                  (smoke_workspace / "artifacts" / "noise").glob(f"{setting[:4]}*/metrics.json"))}  # any name: a grid
        # cell that is also a Figure 5 student is one artifact, under whichever name resolved first
        assert noised == grid  # the noise stage really applied each (alpha, beta)
    md = (out / "fig6.md").read_text()
    assert "## Language" in md and "## Arithmetic" in md and "| α \\ β | 0.1 | 1 |" in md
    assert "References after the same attack (final step, median over seeds): Unlearn-Only" in md

    report = CliRunner().invoke(cli, ["report", "--scale", "smoke"])
    assert report.exit_code == 0, report.output
    claims = (out / "claims.md").read_text()
    for setting in ("arithmetic", "language"):
        assert f"| α matters more than β | fig6 | {setting} |" in claims
        assert f"| compute is driven by α | fig6 | {setting} |" in claims
    assert "| robustness rises with α | fig5 | — |" in claims  # fig5 not run here


def _plain(node, drop):
    return {k: v for k, v in to_plain(node.cfg).items() if k not in drop}


@pytest.mark.parametrize("scale", ["paper", "mini", "smoke"])
def test_fig6_grid_reuses_fig5_settings_and_leaves_fig5_keys_alone(scale):
    graph = Graph(Store(Path("/nonexistent-artifacts")), scale)
    fig5_keys = {n.key for n in graph.plan([REPO / "reproduce" / "fig5.yaml"])}
    nodes = graph.plan([REPO / "reproduce" / "fig6.yaml"])
    # new graph, same fig5 keys: resolving fig6 neither changed nor re-keyed any fig5 stage
    assert fig5_keys == {n.key for n in Graph(Store(Path("/x")), scale).plan([REPO / "reproduce" / "fig5.yaml"])}
    for setting in ("arithmetic", "language"):
        d = REPO / "reproduce" / "synthetic" / setting
        fig5_distill, grid_distill = graph.resolve(d / "distill_undo.yaml")[0], graph.resolve(d / "distill_undo_alpha_beta.yaml")
        fig5_relearn = graph.resolve_ref(f"{d}/relearn.yaml[model=distill_undo]")[0]
        grid_relearn = graph.resolve_ref(f"{d}/relearn.yaml[model=distill_undo_alpha_beta]")
        for node in grid_distill:  # distill_undo.yaml's settings (seed: the student's, as in fig5); only the student differs
            assert _plain(node, {"student", "seed"}) == _plain(fig5_distill, {"student", "seed"})
            assert node.cfg.seed == node.tags["seed"]
        for node in grid_relearn:
            assert _plain(node, {"model", "seed"}) == _plain(fig5_relearn, {"model", "seed"})
        alphas = {n.tags["alpha"] for n in grid_relearn}
        betas = {n.tags["beta"] for n in grid_relearn}
        assert len(grid_relearn) == len(alphas) * len(betas) * len({n.tags["seed"] for n in grid_relearn})
        if scale == "paper":
            assert alphas == {0.1, 0.3, 0.5, 0.7} and betas == {0.05, 0.1, 0.5, 1.0}  # Figure 6 caption
        noise = [n for n in nodes if n.stage == "noise" and n.name.startswith(setting[:4])]
        assert {(n.cfg.alpha, n.cfg.beta) for n in noise} == {(a, b) for a in alphas for b in betas}
