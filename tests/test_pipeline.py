"""End to end at smoke scale: `undo run reproduce/fig5.yaml --scale smoke` through the CLI."""

import json

import pytest
from click.testing import CliRunner

from undo.cli import cli


@pytest.fixture
def workspace(smoke_workspace):
    return smoke_workspace


@pytest.mark.slow
def test_fig5_smoke_end_to_end_then_nothing_to_do(workspace):
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig5.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    for ext in ("png", "pdf", "json", "md"):
        assert (workspace / "figures" / "smoke" / f"fig5.{ext}").stat().st_size > 0
    results = json.loads((workspace / "figures" / "smoke" / "fig5.json").read_text())
    runs = results["panels"]["arithmetic"]["runs"]
    assert {r["role"] for r in runs} == {"unlearn_only", "undo", "data_filtering"}
    assert {(r["alpha"], r["seed"]) for r in runs if r["role"] == "undo"} == {(0.3, 0), (0.3, 1), (0.8, 0), (0.8, 1)}
    assert all(r["compute_steps"] is not None for r in runs if r["role"] != "unlearn_only")
    lang = results["panels"]["language"]
    assert lang["attacker_best"] == "min" and lang["measure"] == "forget"
    assert {r["role"] for r in lang["runs"]} == {"unlearn_only", "undo", "data_filtering"}
    assert {(r["alpha"], r["seed"]) for r in lang["runs"] if r["role"] == "undo"} == {(0.3, 0), (0.3, 1), (0.8, 0),
                                                                                       (0.8, 1)}
    curve = next(iter(lang["runs"][0]["curves"].values()))
    assert {"english_ce", "korean_ce", "retain", "forget"} <= set(curve) and curve["forget"][0] > 1.0
    assert "## Language (Korean CE)" in (workspace / "figures" / "smoke" / "fig5.md").read_text()
    unlearned = json.loads(next((workspace / "artifacts" / "unlearn").glob("language-unlearn_maxent-*/metrics.json")).read_text())
    assert unlearned["eval"]["forget"] > unlearned["eval_initial"]["forget"]  # MaxEnt raised the Korean CE

    # every artifact carries its resolved config, environment and metrics, and models load with plain transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    distilled = sorted((workspace / "artifacts" / "distill").glob("arithmetic-distill_undo-*"))[0]
    for name in ("config.yaml", "meta.json", "metrics.json", "metrics.jsonl", "DONE"):
        assert (distilled / name).is_file(), name
    meta = json.loads((distilled / "meta.json").read_text())
    assert meta["environment"]["packages"]["torch"] and meta["seed"] in (0, 1)
    AutoModelForCausalLM.from_pretrained(distilled / "model")
    AutoTokenizer.from_pretrained(distilled / "model")

    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "to run" in second.output and " 1 to run" in second.output  # only the (cheap) figure step
    assert "wrote" not in second.output  # results unchanged: nothing redrawn

    # `undo figure` redraws from the stored JSON alone, and refuses a config that is not a figure
    (workspace / "figures" / "smoke" / "fig5.png").unlink()
    redraw = CliRunner().invoke(cli, ["--artifacts-dir", "artifacts", "figure", "reproduce/fig5.yaml", "--scale", "smoke"])
    assert redraw.exit_code == 0, redraw.output
    assert (workspace / "figures" / "smoke" / "fig5.png").stat().st_size > 0
    wrong = CliRunner().invoke(cli, ["figure", "reproduce/synthetic/arithmetic/noise.yaml", "--scale", "smoke"])
    assert wrong.exit_code == 2 and "noise.yaml: stage: is not a figure config" in wrong.output


def test_keys_do_not_depend_on_where_the_configs_live(tmp_path):
    """Two copies of reproduce/ in different directories resolve to the same artifact keys at every scale."""
    import shutil
    from pathlib import Path

    from undo.pipeline import Graph
    from undo.store import Store

    repo = Path(__file__).resolve().parents[1]
    figures = sorted(p.name for p in (repo / "reproduce").glob("fig*.yaml"))
    keys = []
    for where in ("a", "b/c"):
        shutil.copytree(repo / "reproduce", tmp_path / where / "reproduce")
        keys.append({scale: [n.key for n in Graph(Store(tmp_path / "store"), scale).plan(
            [tmp_path / where / "reproduce" / f for f in figures])] for scale in ("paper", "mini", "smoke")})
    assert keys[0] == keys[1]


def test_meta_json_records_the_hub_commit_a_stage_read(tmp_path, monkeypatch):
    """A stage that read the hub reports the commit in its summary (``hub``); meta.json carries it too, next to the
    code's commit (environment.git), so one file says which code and which hub data made the artifact."""
    import undo.stages.tokenizer as tokenizer
    from tests.stages.helpers import run_smoke

    record = {"path": "org/data", "config": None, "revision_requested": None,
              "revision_resolved": "0123456789abcdef0123456789abcdef01234567"}
    original = tokenizer.run
    monkeypatch.setattr(tokenizer, "run", lambda ctx: {**original(ctx), "hub": record})
    (tmp_path / "tok.yaml").write_text("stage: tokenizer\nkind: bytes\n")
    run_smoke(tmp_path, "tok.yaml")
    (meta,) = (tmp_path / "artifacts").rglob("meta.json")
    assert json.loads(meta.read_text())["hub"] == record
