"""The run-level display of ``undo run``: stages done/total, running stages' steps and rate, an ETA that says when it
has no basis; plain lines in a log, a redrawn block on a terminal, nothing with UNDO_PROGRESS=0."""

import io
import re

from undo import progress
from undo.progress import RunProgress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _display(clock, **kw):
    out = io.StringIO()
    return RunProgress(total=3, jobs=2, stream=out, clock=clock, show=True, **kw), out


def test_eta_is_unknown_until_a_stage_of_the_kind_finishes_then_uses_its_time():
    clock = Clock()
    display, _ = _display(clock, tty=False, every=0)
    for key in ("a", "b", "c"):
        display.plan(key, "relearn", None)
    display.start("a", "relearn/a", "relearn")
    assert display.eta() == "ETA unknown"
    clock.now = 60.0
    display.finish("a", 60.0)
    display.start("b", "relearn/b", "relearn")
    display.start("c", "relearn/c", "relearn")
    clock.now = 90.0
    # two stages of 60 s on two jobs, each 30 s in: ~30 s left
    assert display.eta() == "ETA ~30 s"
    display.plan("d", "select", None)
    assert display.eta() == "ETA ~30 s + 1 stage not estimated (select)"
    for key in ("e", "f"):
        display.plan(key, "distill", None)
    # three stages of kinds not timed yet against two estimated ones: the estimate would mislead
    assert display.eta() == "ETA unknown (3 of 5 stages left not timed yet: distill, select)"


def test_eta_falls_back_to_flops_at_the_measured_rate():
    clock = Clock()
    display, _ = _display(clock, tty=False, every=0)
    display.plan("a", "pretrain", 1e12)
    display.plan("b", "distill", 4e12)
    display.start("a", "pretrain/a", "pretrain", 1e12)
    clock.now = 100.0
    display.finish("a", 100.0)
    assert display.eta() == "ETA ~7 min"  # 4e12 FLOPs at 1e10 FLOP/s


def test_a_log_gets_plain_lines_at_most_every_n_seconds():
    clock = Clock()
    display, out = _display(clock, tty=False, every=30)
    display.plan("a", "relearn", None)
    display.start("a", "relearn/a-1234", "relearn")  # the first report
    for step in range(1, 11):
        clock.now = float(step)
        display.step("a", "relearn lr=1e-3", step, 100)
    clock.now = 31.0
    display.step("a", "relearn lr=1e-3", 31, 100)  # due again
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert text.count("progress [0/3 done] 1 running | ETA unknown\n") == 2
    assert "progress   relearn/a-1234  relearn lr=1e-3 step 31/100 (1.0 step/s)  31 s\n" in text


def test_a_terminal_gets_a_block_redrawn_in_place_with_the_runs_lines_above():
    clock = Clock()
    display, out = _display(clock, tty=True)
    display.start("a", "relearn/a", "relearn")
    display.echo("[1/3] start relearn/a")
    text = out.getvalue()
    assert "\x1b[2F\x1b[J" in text  # the two-line block erased before the line is printed, then redrawn
    assert text.split("\x1b[2F\x1b[J")[-1].splitlines() == ["[1/3] start relearn/a", "[0/3 done] 1 running | ETA unknown",
                                                   "  relearn/a  0 s"]


def test_undo_progress_0_prints_only_the_runs_own_lines(monkeypatch):
    monkeypatch.setenv("UNDO_PROGRESS", "0")
    out = io.StringIO()
    display = RunProgress(total=1, stream=out, tty=True)
    display.start("a", "relearn/a", "relearn")
    display.echo("done relearn/a")
    display.close()
    assert out.getvalue() == "done relearn/a\n"


def test_the_training_loop_reports_its_steps(tiny_model):
    import torch

    from undo.train import OptimConfig, train

    seen = []
    progress.set_sink(lambda desc, step, total: seen.append((desc, step, total)))
    try:
        batches = lambda i: torch.randint(0, 300, (2, 8))  # noqa: E731
        loss = lambda ids: (tiny_model(ids).logits.float().mean(), {})  # noqa: E731
        train(tiny_model, loss, batches, OptimConfig(lr=1e-3, max_steps=3), total_steps=3, seed=0, workdir=None,
              desc="pretrain")
    finally:
        progress.set_sink(None)
    assert seen == [("pretrain", 0, 3), ("pretrain", 1, 3), ("pretrain", 2, 3), ("pretrain", 3, 3)]


def test_one_job_run_shows_the_display_in_a_log(tmp_path, monkeypatch):
    """`undo run` without --jobs: the same plain progress lines, fed by the stage's step reports."""
    import types
    from dataclasses import dataclass

    from click.testing import CliRunner

    from undo import stages
    from undo.cli import cli
    from undo.config import Ref, option

    @dataclass(frozen=True, kw_only=True)
    class Config:
        upstream: Ref | None = option(None, "the stage this one follows")
        steps: int = option(3, "steps to report", gt=0)

    def run(ctx):
        for step in range(1, ctx.cfg.steps + 1):
            progress.report("count", step, ctx.cfg.steps)
        return {}

    stages.register(types.SimpleNamespace(NAME="counting", CODE_VERSION=1, Config=Config, run=run))
    monkeypatch.setenv("UNDO_PROGRESS", "1")
    monkeypatch.setenv("UNDO_PROGRESS_EVERY", "0")
    (tmp_path / "a.yaml").write_text("stage: counting\nname: a\n")
    (tmp_path / "b.yaml").write_text("stage: counting\nname: b\nupstream: a.yaml\nsteps: 4\n")
    try:
        result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "store"), "run", str(tmp_path / "b.yaml"),
                                          "--scale", "smoke"])
    finally:
        stages.STAGES.pop("counting", None)
    assert result.exit_code == 0, result.output
    assert "progress [0/2 done] 1 running | ETA unknown" in result.output
    assert re.search(r"progress   counting/a-\w+  count step 3/3", result.output)
    assert re.search(r"progress \[1/2 done\] 1 running \| ETA ~\d+ s", result.output)  # a's time is the basis
    assert re.search(r"progress   counting/b-\w+  count step 4/4", result.output)
    assert "\x1b" not in result.output and "\r" not in result.output


def test_a_running_line_does_not_repeat_the_stage_name_the_training_loop_reports():
    clock = Clock()
    display, _ = _display(clock, tty=False, every=0)
    display.start("a", "relearn/fig5-undo-lr1-0123456789ab", "relearn")
    display.step("a", "fig5-undo-lr1 lr=0.001", 3, 50)
    assert display.lines()[1] == "  relearn/fig5-undo-lr1-0123456789ab  lr=0.001 step 3/50  0 s"
    display.step("a", "fig5-undo-lr1", 4, 50)
    assert display.lines()[1] == "  relearn/fig5-undo-lr1-0123456789ab  step 4/50  0 s"  # a new loop: no rate yet
