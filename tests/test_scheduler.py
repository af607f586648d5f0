"""`undo run --jobs 2`: the same artifacts as one job, bit for bit, and a failing stage stops the run cleanly."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from undo.cli import cli

LANG_UNDO = "reproduce/synthetic/language/relearn.yaml[model=distill_undo]"  # the attacks on Figure 5's UNDO students


def _run(store: str, *extra: str):
    return CliRunner().invoke(cli, ["--artifacts-dir", store, "--device", "cpu", "run", LANG_UNDO, "--scale", "smoke",
                                    *extra])


def _finished(store: Path) -> dict[str, Path]:
    return {p.parent.name + "/" + p.name: p for p in store.glob("*/*") if (p / "metrics.json").is_file()}


@pytest.mark.slow
def test_two_jobs_give_the_same_artifacts_as_one(smoke_workspace):
    one = _run("one")
    assert one.exit_code == 0, one.output
    two = _run("two", "--jobs", "2")
    assert two.exit_code == 0, two.output
    assert "2 jobs x 1 thread" in two.output
    a, b = _finished(smoke_workspace / "one"), _finished(smoke_workspace / "two")
    assert set(a) == set(b) and any(k.startswith("relearn/") for k in a)
    for name in a:
        if name.startswith("relearn/"):  # every learning rate's curve, every evaluation
            assert json.loads((a[name] / "results.json").read_text())["curves"] == \
                json.loads((b[name] / "results.json").read_text())["curves"], name
        for weights in (a[name] / "model").glob("*.safetensors"):
            assert weights.read_bytes() == (b[name] / "model" / weights.name).read_bytes(), f"{name}/{weights.name}"
    again = _run("two", "--jobs", "2")  # finished: nothing is rerun
    assert again.exit_code == 0 and "0 to run" in again.output


@pytest.mark.slow
def test_a_failing_stage_stops_the_run_and_leaves_no_artifact(smoke_workspace):
    korean = smoke_workspace / "reproduce" / "synthetic" / "language" / "corpus_korean.yaml"
    text = korean.read_text()
    sha = re.search(r"sha256: ([0-9a-f]{64})", text).group(1)
    korean.write_text(text.replace(sha, "0" * 64))
    result = _run("store", "--jobs", "2")
    assert result.exit_code == 2, result.output
    assert "sha256" in result.output.lower()
    assert not list((smoke_workspace / "store").glob("corpus/*korean*"))  # no half-written corpus
    assert not list((smoke_workspace / "store").glob("relearn/*"))  # nothing downstream of the failure ran
