"""What a failing ``undo run`` tells: one line on screen, the full traceback in the run log under the store and in the
failing stage's log (kept when nothing resumable was written), ``--debug`` on screen too; exit 2 for bad input and
1 for a runtime failure, as ``undo --help`` documents."""

import types
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from undo import stages
from undo.cli import cli
from undo.config import option


@dataclass(frozen=True, kw_only=True)
class FailingConfig:
    fault: str = option("bug", "bug: a KeyError deep in the stage; input: a ValueError about the config")


def _explode(ctx):
    ctx.log("about to fail")
    if ctx.cfg.fault == "input":
        raise ValueError("fault: this value cannot be used here")
    return {}["missing_key"]          # a bug: KeyError


@pytest.fixture
def failing_stage(tmp_path):
    stages.register(types.SimpleNamespace(NAME="failing", CODE_VERSION=1, Config=FailingConfig, run=_explode))
    yield tmp_path
    stages.STAGES.pop("failing", None)


def invoke(tmp_path, *args, fault="bug"):
    (tmp_path / "f.yaml").write_text(f"stage: failing\nfault: {fault}\n")
    return CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "store"), *args, "run", str(tmp_path / "f.yaml"),
                                    "--scale", "smoke"])


def test_a_runtime_failure_is_one_line_exit_1_with_the_traceback_logged(failing_stage):
    result = invoke(failing_stage)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == ["error: KeyError: 'missing_key'"]
    assert "Traceback" not in result.output and "--debug prints it here" in result.output
    (run_log,) = (failing_stage / "store" / "logs").glob("run-*.log")
    text = run_log.read_text()
    assert "Traceback" in text and "_explode" in text and "KeyError: 'missing_key'" in text and text.startswith("command: ")
    (stage_log,) = (failing_stage / "store" / "logs" / "failed" / "failing").glob("*.log")
    assert "about to fail" in stage_log.read_text() and "_explode" in stage_log.read_text()
    assert not list((failing_stage / "store").glob("failing/*/DONE"))      # no artifact, finished or partial
    assert not any(p.is_dir() for p in (failing_stage / "store").glob("failing/.partial/*"))


def test_debug_prints_the_traceback_and_bad_input_exits_2(failing_stage):
    result = invoke(failing_stage, "--debug")
    assert result.exit_code == 1 and "Traceback" in result.output and "_explode" in result.output
    result = invoke(failing_stage, fault="input")
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == [
        "error: fault: this value cannot be used here"]


def test_help_documents_the_exit_codes_and_logs():
    text = CliRunner().invoke(cli, ["--help"]).output
    assert "Exit codes: 0 success; 1 a runtime failure" in text and "2 a usage error or bad input" in text
    assert "logs/run-*.log" in text and "--debug" in text


def test_a_workers_traceback_reaches_the_run_log(tmp_path):
    """With --jobs 2 the stage runs in a worker process: its traceback (the worker's frames) is in the run log."""
    import json

    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "full.jsonl").write_text(json.dumps({"question": "Q?"}) + "\n")     # no answer
    (tmp_path / "t.yaml").write_text(f"stage: tofu\nsource: jsonl\npath: {saved}\nsplits: [full]\n")
    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "store"), "run", str(tmp_path / "t.yaml"),
                                      "--scale", "smoke", "--jobs", "2"])
    assert result.exit_code == 2 and "missing field 'answer'" in result.output
    (run_log,) = (tmp_path / "store" / "logs").glob("run-*.log")
    assert "_worker_run" in run_log.read_text() and "missing field 'answer'" in run_log.read_text()
    assert list((tmp_path / "store" / "logs" / "failed" / "tofu").glob("*.log"))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_is_handled_like_ctrl_c_and_the_stage_resumes_with_its_time_summed(tmp_path, jobs):
    """SIGTERM to `undo run` (a batch system's time limit, `kill`): one message, exit 143 as documented, the running
    stage's partial kept; the next run resumes it, and its recorded wall time is the sum over both segments."""
    import json
    import signal

    from tests.sleepy_stage import sleepy_configs, start_sleepy, until

    sleepy_configs(tmp_path, {})
    counter = tmp_path / "computed.txt"
    proc, out = start_sleepy(tmp_path, "a.yaml", "--jobs", jobs, SLEEPY_GATE=str(tmp_path / "never"))
    until(lambda: counter.is_file() and counter.read_text().split() == ["a"], "the stage starts", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143, out.read_text()
    text = out.read_text()
    assert "terminated (SIGTERM): rerun the same command to resume" in text and "Traceback" not in text
    (partial,) = [p for p in (tmp_path / "store" / "sleepy" / ".partial").iterdir() if p.is_dir()]
    (first,) = json.loads((partial / "wall_seconds.json").read_text())
    assert "Terminated" in (partial / "log.txt").read_text()

    again, out = start_sleepy(tmp_path, "a.yaml", "--jobs", jobs)
    assert again.wait(60) == 0, out.read_text()
    (meta,) = [json.loads(p.read_text()) for p in (tmp_path / "store" / "sleepy").glob("*/meta.json")]
    assert meta["resumed"] and len(meta["segment_seconds"]) == 2 and meta["segment_seconds"][0] == first
    assert meta["wall_seconds"] == round(sum(meta["segment_seconds"]), 3)
    assert not list((tmp_path / "store" / "sleepy").glob("*/wall_seconds.json"))


def test_help_documents_sigterm_and_the_progress_display():
    text = " ".join(CliRunner().invoke(cli, ["--help"]).output.split())
    assert "130 interrupted (Ctrl-C); 143 terminated (SIGTERM)" in text
    assert "UNDO_PROGRESS_EVERY" in text and "UNDO_PROGRESS=0" in text
