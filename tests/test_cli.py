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


# ----------------------------------------------------------------------------- failures of the machine, not the kit

def _error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def _run_config(tmp_path, store, *options, text="stage: tokenizer\nkind: bytes\n"):
    (tmp_path / "c.yaml").write_text(text)
    return CliRunner().invoke(cli, ["--artifacts-dir", str(store), *options, "run", str(tmp_path / "c.yaml"),
                                    "--scale", "smoke"])

def _run_test_stage(tmp_path, name: str, config, run):
    """`undo run` of a one-stage config whose stage ``name`` (registered for this call only) runs ``run``."""
    stages.register(types.SimpleNamespace(NAME=name, CODE_VERSION=1, Config=config, run=run))
    try:
        return _run_config(tmp_path, tmp_path / "store", text=f"stage: {name}\n")
    finally:
        stages.STAGES.pop(name, None)



def test_a_store_that_is_a_file_is_one_line_exit_1(tmp_path):
    (tmp_path / "store").write_text("not a directory")
    result = _run_config(tmp_path, tmp_path / "store")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert _error_lines(result) == [f"error: {tmp_path / 'store'}: the artifact store is a file, not a directory "
                                    "(choose another with --artifacts-dir)"]
    assert (tmp_path / "store").read_text() == "not a directory"


def test_a_file_where_a_stage_directory_should_be_is_named(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "tokenizer").write_text("in the way")
    result = _run_config(tmp_path, tmp_path / "store")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert _error_lines(result) == [f"error: {tmp_path / 'store' / 'tokenizer'}: a file is in the way of a directory "
                                    "the store needs (move it away)"]


def test_a_read_only_store_is_refused_before_any_stage_runs(tmp_path, monkeypatch):
    """Permission bits do not stop root, so the read-only file system is simulated: the store's write probe fails."""
    import errno
    import pathlib

    write_text = pathlib.Path.write_text

    def read_only(self, *args, **kwargs):
        if self.name.startswith(".write-test"):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return write_text(self, *args, **kwargs)

    (tmp_path / "store").mkdir()
    monkeypatch.setattr(pathlib.Path, "write_text", read_only)
    result = _run_config(tmp_path, tmp_path / "store")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert _error_lines(result) == [f"error: {tmp_path / 'store'}: the artifact store is not writable (Read-only file "
                                    "system; choose another with --artifacts-dir)"]
    assert list((tmp_path / "store").iterdir()) == []          # no stage ran: nothing written, not even a log


def test_a_store_without_write_permission_is_refused(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes through permission bits; the read-only case is simulated in the test above")
    (tmp_path / "store").mkdir()
    (tmp_path / "store").chmod(0o555)
    try:
        result = _run_config(tmp_path, tmp_path / "store")
    finally:
        (tmp_path / "store").chmod(0o755)
    assert result.exit_code == 1 and len(_error_lines(result)) == 1 and "not writable" in result.output


@pytest.mark.parametrize("code, words", [(28, "no space left on the device"), (13, "permission denied")])
def test_a_full_or_unwritable_disk_during_a_stage_is_one_line_naming_the_path(tmp_path, code, words):
    """ENOSPC (28) or EACCES (13) raised while a stage writes: one line naming the file, exit 1, no artifact."""

    def write_fails(ctx):
        raise OSError(code, "from the OS", str(ctx.workdir / "model.safetensors"))

    result = _run_test_stage(tmp_path, "writing", FailingConfig, write_fails)
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = _error_lines(result)
    assert line.startswith(f"error: {tmp_path / 'store' / 'writing' / '.partial'}") and "model.safetensors: " in line
    assert words in line
    assert not list((tmp_path / "store").glob("writing/*/DONE"))


@pytest.mark.parametrize("device", ["bogus", "cuda:x", "gpu"])
def test_a_misspelt_device_is_refused_before_anything_runs(tmp_path, device):
    result = _run_config(tmp_path, tmp_path / "store", "--device", device)
    assert result.exit_code == 2
    assert _error_lines(result) == [f"error: --device {device}: expected cpu, cuda, cuda:N or auto"]
    assert not (tmp_path / "store").exists()


def test_a_cuda_device_this_machine_lacks_is_refused_before_any_stage_runs(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    result = _run_config(tmp_path, tmp_path / "store", "--device", "cuda")
    assert result.exit_code == 2
    assert _error_lines(result) == ["error: --device cuda: this machine has no CUDA device; use --device cpu or auto"]
    assert not (tmp_path / "store").exists()


@dataclass(frozen=True, kw_only=True)
class HungryConfig:
    batch_size: int = option(8, "sequences per step")
    model: dict = option(default_factory=lambda: {"hidden_size": 32, "num_hidden_layers": 2}, doc="architecture")


def _allocate(ctx):
    raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you "
                       "tried to allocate 1099511627776 bytes. Error code 12 (Cannot allocate memory)")


def test_out_of_memory_is_one_line_naming_the_keys_to_lower(tmp_path):
    result = _run_test_stage(tmp_path, "hungry", HungryConfig, _allocate)
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = _error_lines(result)
    assert line.startswith("error: hungry/") and ": out of memory ([enforce fail" in line
    assert "lower batch_size, model.hidden_size, model.num_hidden_layers in " in line and "c.yaml" in line
    assert not list((tmp_path / "store").glob("hungry/*/DONE"))


def _diverge(ctx):
    from undo.train import TrainingDiverged

    raise TrainingDiverged(ctx.name, float("nan"), 7, 1e30)


def test_a_diverged_training_is_one_line_naming_the_run_and_step(tmp_path):
    result = _run_test_stage(tmp_path, "diverging", FailingConfig, _diverge)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert _error_lines(result) == [f"error: {tmp_path.name}-c: training diverged, the loss is nan at step 7 (learning "
                                    "rate 1e+30); lower the learning rate or keep grad_clip"]


def test_is_out_of_memory_knows_the_allocators_failures():
    import torch

    from undo.pipeline import is_out_of_memory

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes"))
    assert not is_out_of_memory(RuntimeError("shape mismatch")) and not is_out_of_memory(ValueError("out of memory"))
    import pickle
    from pathlib import Path

    from undo.pipeline import OutOfMemory

    err = OutOfMemory.of("pretrain/x-0123", Path("p.yaml"), ["optim.batch_size"], MemoryError())
    assert str(pickle.loads(pickle.dumps(err))) == str(err)  # as it arrives from a --jobs worker process
    assert str(err) == ("pretrain/x-0123: out of memory (MemoryError); lower optim.batch_size in p.yaml, or run on a "
                        "machine with more memory")


BAD_WITHOUT_TORCH = {
    "dup.yaml": "stage: tokenizer\nkind: bytes\nkind: bytes\n",
    "inf.yaml": "stage: noise\nmodel: up.yaml\nalpha: .inf\n",
    "stage.yaml": "stage: distil\n",
    "up_bad.yaml": "stage: noise\nmodel: inner.yaml\nalpha: 0.1\n",        # the bad one is upstream: inner.yaml
    "inner.yaml": "stage: corpus\nsource: {kind: stdlib_pydoc}\nsweep: {seed: [1, .nan]}\n",
}


@pytest.mark.parametrize("name, words", [("dup.yaml", "line 3: kind: given twice"),
                                         ("inf.yaml", "alpha: must be a finite number"),
                                         ("stage.yaml", "stage: unknown stage 'distil'"),
                                         ("up_bad.yaml", "inner.yaml: sweep.seed[1]: must be a finite number")])
def test_a_config_wrong_in_its_yaml_is_refused_without_importing_torch(tmp_path, name, words):
    """Importing PyTorch takes seconds: a config whose YAML is wrong is refused before any stage module loads."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    for file, text in BAD_WITHOUT_TORCH.items():
        (tmp_path / file).write_text(text)
    code = ("import json, sys\nfrom undo.cli import cli\n"
            "try:\n    cli(sys.argv[1:], prog_name='undo')\nexcept SystemExit as e:\n    code = e.code\n"
            "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules, "
            "'transformers': 'transformers' in sys.modules}))\n")
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code, "--artifacts-dir", str(tmp_path / "store"), "run",
                           str(tmp_path / name), "--scale", "smoke"], capture_output=True, text=True, cwd=repo,
                          env={**__import__("os").environ, "PYTHONPATH": str(repo)}, timeout=120)
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome == {"code": 2, "torch": False, "transformers": False}, proc.stderr
    assert words in proc.stderr and proc.stderr.count("error:") == 1
    assert not (tmp_path / "store").exists()


def test_a_full_disk_that_also_stops_the_failure_log_reports_the_stages_own_error(tmp_path, monkeypatch):
    """ENOSPC while the stage writes, and again while its failure log is written: the one line names the stage's
    write, not the log's; no artifact is left."""
    import errno

    from undo import pipeline

    def write_fails(ctx):
        raise OSError(errno.ENOSPC, "No space left on device", str(ctx.workdir / "model.safetensors"))

    def log_fails(workdir, err):
        raise OSError(errno.ENOSPC, "No space left on device", str(workdir / "log.txt"))

    monkeypatch.setattr(pipeline, "log_failure", log_fails)
    result = _run_test_stage(tmp_path, "writing", FailingConfig, write_fails)
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = _error_lines(result)
    assert "model.safetensors: no space left on the device" in line
    assert not any(p.is_dir() for p in (tmp_path / "store").glob("writing/.partial/*"))


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
