"""A test stage that counts its computations and reports steps while it sleeps, and a command line that knows it.

``python tests/sleepy_stage.py <undo arguments>`` is ``undo`` with stage ``sleepy`` registered, in the parent and in
every ``--jobs`` worker (a spawned worker imports this file as its main module). Each computation appends the
instance's name to ``$SLEEPY_COUNTER``. It marks its partial directory resumable (a ``curves/`` file) first; then,
when ``$SLEEPY_GATE`` is set, it waits for that file to exist before it sleeps ``$SLEEPY_SECONDS`` (default 0.1) per
step.

The tests import its helpers (:func:`start_sleepy`, :func:`until`, :func:`sleepy_configs`), which does not register
the stage in the test process."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from undo import progress, stages
from undo.config import Ref, option

NAME = "sleepy"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Config:
    upstream: Ref | None = option(None, "the sleepy stage this one follows")
    steps: int = option(4, "steps to report", gt=0)


def run(ctx):
    (ctx.workdir / "curves").mkdir(exist_ok=True)
    (ctx.workdir / "curves" / "started").write_text("resumable\n")
    with open(os.environ["SLEEPY_COUNTER"], "a", encoding="utf-8") as fh:
        fh.write(ctx.name + "\n")
    gate = os.environ.get("SLEEPY_GATE")
    while gate and not Path(gate).exists():
        time.sleep(0.05)
    for step in range(1, ctx.cfg.steps + 1):
        time.sleep(float(os.environ.get("SLEEPY_SECONDS", "0.1")))
        progress.report("sleep", step, ctx.cfg.steps)
    return {"steps": ctx.cfg.steps}


def sleepy_configs(root: Path, steps: dict[str, int]) -> None:
    """a.yaml (3 steps), and one config per name that follows it with its own number of steps (its own key)."""
    (root / "a.yaml").write_text("stage: sleepy\nname: a\nsteps: 3\n")
    for name, n in steps.items():
        (root / f"{name}.yaml").write_text(f"stage: sleepy\nname: {name}\nupstream: a.yaml\nsteps: {n}\n")


def start_sleepy(root: Path, *args: str, **env: str):
    """Start ``undo --artifacts-dir <root>/store run ...`` with the sleepy stage; its stdout and stderr go to a file
    (returned with the process)."""
    full = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1",
            "SLEEPY_COUNTER": str(root / "computed.txt"), **env}
    out = open(root / f"out-{len(list(root.glob('out-*')))}.txt", "w+")  # noqa: SIM115 - read after the process ends
    command = [sys.executable, str(Path(__file__).resolve()), "--artifacts-dir", str(root / "store"), "--device", "cpu",
               "run", *args, "--scale", "smoke"]
    proc = subprocess.Popen(command, cwd=root, env=full, stdout=out, stderr=subprocess.STDOUT, text=True)
    return proc, Path(out.name)


def until(condition, what: str, proc=None, limit: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail if ``proc`` ends first or after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        assert proc is None or proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


if __name__ in ("__main__", "__mp_main__"):  # the command line, or a --jobs worker of it (not a test importing it)
    stages.register(sys.modules[__name__])
if __name__ == "__main__":
    from undo.cli import cli

    cli()
