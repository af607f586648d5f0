"""`undo run --jobs 2`: the same artifacts as one job, bit for bit, a failing stage stops the run cleanly, the run-level
progress display, and two runs on one store sharing stages (each computed once; a killed one taken over)."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.sleepy_stage import sleepy_configs, start_sleepy, until
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


def test_two_runs_sharing_an_upstream_stage_both_finish_and_compute_it_once(tmp_path):
    """`undo run b.yaml` and `undo run c.yaml --jobs 2` on one store both need a.yaml: the run that reaches it second
    waits for the first (one line says so) and uses its artifact; every stage is computed exactly once."""
    sleepy_configs(tmp_path, {"b": 2, "c": 4})
    counter, gate = tmp_path / "computed.txt", tmp_path / "go"
    first, first_out = start_sleepy(tmp_path, "b.yaml", SLEEPY_GATE=str(gate))
    until(lambda: counter.is_file() and "a" in counter.read_text().split(), "the first run computes a", first)
    second, second_out = start_sleepy(tmp_path, "c.yaml", "--jobs", "2", SLEEPY_GATE=str(gate))
    until(lambda: "waiting for sleepy/" in second_out.read_text(), "the second run waits", second)
    gate.write_text("")
    assert first.wait(60) == 0, first_out.read_text()
    assert second.wait(60) == 0, second_out.read_text()
    assert sorted(counter.read_text().split()) == ["a", "b", "c"]  # each computed once
    out = second_out.read_text()
    assert "waiting for sleepy/a-" in out and "computed by pid" in out
    assert "finished by another process" in out
    assert len(list((tmp_path / "store" / "sleepy").glob("*/DONE"))) == 3


def test_progress_under_two_jobs_shows_stage_counts_and_an_eta_in_a_log(tmp_path):
    """Output to a file (not a terminal): plain progress lines with stages done/total, the running stages' steps and
    an ETA once a stage has finished; no carriage return, no terminal control code."""
    sleepy_configs(tmp_path, {"b": 2, "c": 4, "d": 5})
    proc, out_path = start_sleepy(tmp_path, "b.yaml", "c.yaml", "d.yaml", "--jobs", "2", UNDO_PROGRESS="1",
                             UNDO_PROGRESS_EVERY="0", SLEEPY_SECONDS="0.4")
    assert proc.wait(90) == 0, out_path.read_text()
    out = out_path.read_text()
    assert "\r" not in out and "\x1b" not in out
    assert "progress [0/4 done] 1 running | ETA unknown" in out  # nothing finished yet: no basis
    assert re.search(r"progress \[1/4 done\] 2 running \| ETA ~\d+ s", out), out  # a's time is the basis
    assert re.search(r"progress   sleepy/\S+  sleep step \d/\d", out), out
    assert "done sleepy/a-" in out and "[4/4 done]" not in out.split("done sleepy/a-")[0]


def test_a_run_waiting_for_a_stage_takes_it_over_when_the_other_process_dies(tmp_path):
    """The process computing a stage is killed (SIGKILL: no cleanup): the waiting run gets the lock the system let
    go, resumes the stage from its partial directory and finishes the run."""
    import signal

    sleepy_configs(tmp_path, {"b": 2})
    counter = tmp_path / "computed.txt"
    first, _ = start_sleepy(tmp_path, "a.yaml", SLEEPY_GATE=str(tmp_path / "never"))
    until(lambda: counter.is_file() and counter.read_text().split() == ["a"], "the first run computes a", first)
    second, second_out = start_sleepy(tmp_path, "b.yaml")
    until(lambda: "waiting for sleepy/a-" in second_out.read_text(), "the second run waits", second)
    first.send_signal(signal.SIGKILL)
    first.wait(60)
    assert second.wait(60) == 0, second_out.read_text()
    assert counter.read_text().split() == ["a", "a", "b"]  # a once per process, b once
    (meta,) = [json.loads(p.read_text()) for p in (tmp_path / "store" / "sleepy").glob("a-*/meta.json")]
    assert meta["resumed"]


# --- one GPU set per job (worker_devices), with fake device lists -------------------------------------------------

from undo import scheduler  # noqa: E402


def test_jobs_get_disjoint_gpu_sets_from_the_visible_ones():
    assert scheduler.worker_devices("cuda", 8, [str(i) for i in range(8)], "paper") == \
        [("cuda", str(i)) for i in range(8)]
    assert scheduler.worker_devices("cuda", 2, ["0", "1", "2", "3", "4"], "paper") == \
        [("cuda", "0,1"), ("cuda", "2,3")]  # a multi-process stage gets a set; the fifth GPU stays unused
    assert scheduler.worker_devices("cuda", 2, ["GPU-aa", "GPU-bb"], "paper") == [("cuda", "GPU-aa"), ("cuda", "GPU-bb")]


def test_more_jobs_than_gpus_is_refused_at_paper_scale_and_shared_below_it():
    with pytest.raises(scheduler.DeviceError, match=r"--jobs 3: this machine shows 2 GPUs \(0,1\).*--jobs 2"):
        scheduler.worker_devices("cuda", 3, ["0", "1"], "paper")
    assert scheduler.worker_devices("cuda", 3, ["0", "1"], "mini") == [("cuda", "0"), ("cuda", "1"), ("cuda", "0")]
    with pytest.raises(scheduler.DeviceError, match="--device cuda:1"):
        scheduler.worker_devices("cuda:1", 2, ["0", "1"], "paper")
    assert scheduler.worker_devices("cuda:1", 2, ["0", "1"], "smoke") == [("cuda:1", None)] * 2
    with pytest.raises(scheduler.DeviceError, match="no GPU is visible"):
        scheduler.worker_devices("cuda", 1, [], "mini")
    assert scheduler.worker_devices("cpu", 2, [], "paper") == [("cpu", None)] * 2


def test_visible_gpus_follow_cuda_visible_devices():
    assert scheduler.visible_gpus({}, count=4) == ["0", "1", "2", "3"]
    assert scheduler.visible_gpus({"CUDA_VISIBLE_DEVICES": "3,5"}, count=2) == ["3", "5"]
    assert scheduler.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, count=0) == []


def test_a_starting_worker_takes_its_own_set_and_hides_the_others(monkeypatch):
    import queue

    assignments = queue.Queue()
    for item in scheduler.worker_devices("cuda", 2, ["0", "1", "2", "3"], "paper"):
        assignments.put(item)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    assert scheduler._take_device(assignments) == "cuda"
    assert scheduler.os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert scheduler._take_device(assignments) == "cuda"
    assert scheduler.os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"


def test_jobs_beyond_the_gpus_at_paper_scale_stop_before_any_stage_runs(tmp_path, monkeypatch):
    """On a (faked) 2-GPU machine `undo run --jobs 3 --scale paper` is one line and exit 2, with an empty store."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "store"), "--device", "cuda", "run",
                                      "reproduce/synthetic/language/corpus_english.yaml", "--scale", "paper",
                                      "--jobs", "3"])
    assert result.exit_code == 2, result.output
    assert "--jobs 3: this machine shows 2 GPUs" in result.output
    assert not any(p.is_file() and "logs" not in p.parts for p in (tmp_path / "store").rglob("*"))
