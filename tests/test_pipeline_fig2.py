"""End to end at smoke scale: `undo run reproduce/fig2.yaml --scale smoke`, then `undo report`."""

import json

import pytest
from click.testing import CliRunner

from undo.cli import cli


@pytest.mark.slow
def test_fig2_smoke_end_to_end_then_report(smoke_workspace):
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig2.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    out = smoke_workspace / "figures" / "smoke"
    for ext in ("png", "pdf", "json", "md"):
        assert (out / f"fig2.{ext}").stat().st_size > 0, ext
    results = json.loads((out / "fig2.json").read_text())
    for setting in ("language", "arithmetic"):
        for student in ("student_reference", "student_random"):
            distills = results["series"][f"{setting}/kl/{student}"]  # one per pipeline seed
            assert sorted(d["tags"]["seed"] for d in distills) == [0, 1]
            assert all(any("train/loss" in row for row in d["history"]) for d in distills)  # the KL of Figure 2 (a)
            runs = results["series"][f"{setting}/{student}"]
            assert sorted(r["tags"]["seed"] for r in runs) == [0, 1]
            assert all(r["results"]["model_stage"] == "distill" for r in runs)
    # the reference student starts from the pretrained reference, the random one from the init stage
    configs = {p.parent.name: p.read_text() for p in (smoke_workspace / "artifacts" / "distill").glob("*/config.yaml")}
    assert any("distill_oracle_reference" in k and "pretrain/" in v for k, v in configs.items())
    assert any("distill_oracle_random" in k and "init/" in v for k, v in configs.items())

    report = CliRunner().invoke(cli, ["report", "--scale", "smoke"])
    assert report.exit_code == 0, report.output
    claims = (out / "claims.md").read_text()
    for setting in ("language", "arithmetic"):
        assert f"| Student (Reference) relearns faster than Student (Random) | fig2 | {setting} |" in claims
        assert f"| Oracle matching drives the distillation KL toward zero | fig2 | {setting} |" in claims
