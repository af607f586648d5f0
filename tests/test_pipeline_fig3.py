"""End to end at smoke scale: `undo run reproduce/fig3.yaml --scale smoke` (language and arithmetic) through the
CLI, then a redraw."""

import json

import pytest
from click.testing import CliRunner

from undo.cli import cli


@pytest.fixture
def workspace(smoke_workspace):
    return smoke_workspace


@pytest.mark.slow
def test_fig3_smoke_end_to_end_then_redraw(workspace):
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig3.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    out = workspace / "figures" / "smoke"
    for ext in ("png", "pdf", "json", "md", "tex"):
        assert (out / f"fig3.{ext}").stat().st_size > 0, ext
    results = json.loads((out / "fig3.json").read_text())
    assert list(results["series"]) == [f"{setting}/{method}" for setting in ("language", "arithmetic")
                                       for method in ("graddiff", "maxent", "rmu")]
    assert results["options"]["settings"]["language"]["higher_is_better"] is False
    for name, runs in results["series"].items():
        assert sorted((r["tags"]["seed"], r["tags"]["lr"]) for r in runs) == \
            [(0, 1e-3), (0, 1e-2), (1, 1e-3), (1, 1e-2)], name  # every rate in every pipeline seed
        for r in runs:
            evals = [h["step"] for h in r["history"] if "eval/retain" in h]
            assert evals[0] == 0 and evals[-1] == r["summary"]["steps"] and len(evals) >= 2
            assert set(r["summary"]["eval_initial"]) >= {"retain", "forget"}
    for r in results["series"]["language/maxent"]:  # cross-entropies (> 1 nat on a BPE-384 vocabulary)
        first, last = r["summary"]["eval_initial"], r["summary"]["eval"]
        assert first["retain"] > 1.0 and first["forget"] > 1.0 and last["forget"] > first["forget"]  # Korean CE rose
    md = (out / "fig3.md").read_text()
    assert md.count("## ") == 6 and md.count("Selected: ") == 6
    assert md.index("## GradDiff (Language, cross-entropy") < md.index("## GradDiff (Arithmetic, accuracy")

    # redraw from the JSON alone (no training), then a rerun finds nothing to train and nothing to redraw
    (out / "fig3.png").unlink()
    redraw = CliRunner().invoke(cli, ["figure", "reproduce/fig3.yaml", "reproduce/fig5.yaml", "--scale", "smoke"])
    assert redraw.exit_code == 0, redraw.output
    assert (out / "fig3.png").is_file() and "fig3.tex" in redraw.output
    assert "skipped figures/smoke/fig5.json: no stored results" in redraw.output  # `make figures` before fig5 ran
    only_missing = CliRunner().invoke(cli, ["figure", "reproduce/fig5.yaml", "--scale", "smoke"])
    assert only_missing.exit_code == 2 and "no stored results" in only_missing.output
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert " 1 to run" in second.output and "wrote" not in second.output
