"""Run-level progress of ``undo run``: stages done / total, each running stage's step / total and rate, and an ETA.

One display, in the process that runs ``undo run``, whatever the number of jobs. The training loop reports its
steps through :func:`report`; in a ``--jobs`` worker those reports travel to the parent over a queue (see
``undo/scheduler.py``). On a terminal the display is a block of lines redrawn in place below the run's own output;
when stdout is a file or a pipe (a log) it prints plain lines, at most every ``UNDO_PROGRESS_EVERY`` seconds
(default 30), with no carriage return and no terminal control code. ``UNDO_PROGRESS=0`` turns it off.

The ETA is an estimate, and says so: a remaining stage is expected to take as long as the mean of the stages of the
same kind (``relearn``, ``distill``...) finished in this run, else its FLOPs (``undo/cost.py``) at the seconds per
FLOP measured in this run; a stage with neither basis is counted and named "not estimated", and until some stage has
finished the ETA is "unknown".

Usage::

    display = RunProgress(total=12, jobs=2)
    display.start(key, "relearn/fig5-lr1e-3-...", kind="relearn", flops=2e12)
    display.step(key, "relearn lr=1e-3", 120, 500)
    display.finish(key, seconds=84.0)
    display.close()
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

_sink: Callable[[str, int, int], None] | None = None  # where this process's training steps are reported


def enabled() -> bool:
    """Whether ``undo run`` shows its run-level progress (``UNDO_PROGRESS=0`` turns it off; tests do)."""
    return os.environ.get("UNDO_PROGRESS", "1") != "0"


def every_seconds() -> float:
    """Seconds between two progress lines when stdout is not a terminal (``UNDO_PROGRESS_EVERY``, default 30)."""
    try:
        return max(0.0, float(os.environ.get("UNDO_PROGRESS_EVERY", "30")))
    except ValueError:
        return 30.0


def set_sink(sink: Callable[[str, int, int], None] | None) -> None:
    """Send this process's step reports to ``sink(desc, step, total)`` (None: nowhere)."""
    global _sink
    _sink = sink


def active() -> bool:
    """Whether a run-level display takes this process's step reports (the training loop then shows no bar of its own)."""
    return _sink is not None


def report(desc: str, step: int, total: int) -> None:
    """A training loop of the running stage reached ``step`` of ``total``."""
    if _sink is not None:
        _sink(desc, step, total)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class _Running:
    label: str
    kind: str
    flops: float | None
    started: float
    desc: str = ""
    step: int = 0
    total: int = 0
    rate_from: tuple[float, int] | None = None  # (time, step) of the first report of the current training loop
    rate: float | None = None


@dataclass
class RunProgress:
    """The display of one run of ``total`` stages on ``jobs`` workers."""

    total: int
    jobs: int = 1
    stream: object = None  # default: sys.stdout at construction
    tty: bool | None = None  # default: whether the stream is a terminal
    every: float | None = None  # plain mode: seconds between two reports (default every_seconds())
    show: bool | None = None  # default: enabled()
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    running: dict[str, _Running] = field(default_factory=dict)
    _seconds: dict[str, list[float]] = field(default_factory=dict)  # kind -> durations of its finished stages
    _flops_seconds: list[float] = field(default_factory=lambda: [0.0, 0.0])  # FLOPs and seconds of finished stages
    _pending: dict[str, tuple[str, float | None]] = field(default_factory=dict)  # key -> (kind, FLOPs), not started
    _drawn: int = 0
    _last: float = float("-inf")

    def __post_init__(self):
        self.stream = self.stream if self.stream is not None else sys.stdout
        self.tty = self.tty if self.tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = self.every if self.every is not None else every_seconds()
        self.show = self.show if self.show is not None else enabled()

    # ---------------------------------------------------------------- events

    def plan(self, key: str, kind: str, flops: float | None) -> None:
        """A stage this run still has to compute (the basis of the ETA for stages not yet started)."""
        self._pending[key] = (kind, flops)

    def start(self, key: str, label: str, kind: str, flops: float | None = None) -> None:
        self._pending.pop(key, None)
        self.running[key] = _Running(label, kind, flops, self.clock())
        self.tick()

    def began(self, key: str) -> None:
        """The stage started computing (a worker process has taken it up): its clock starts now."""
        if key in self.running:
            self.running[key].started = self.clock()

    def step(self, key: str, desc: str, step: int, total: int, at: float | None = None) -> None:
        run = self.running.get(key)
        if run is None:
            return
        at = self.clock() if at is None else at
        if desc != run.desc or step < run.step or run.rate_from is None:  # a new training loop: a new rate
            run.desc, run.rate_from, run.rate = desc, (at, step), None
        elif at > run.rate_from[0] and step > run.rate_from[1]:
            run.rate = (step - run.rate_from[1]) / (at - run.rate_from[0])
        run.step, run.total = step, total
        self.tick()

    def finish(self, key: str, seconds: float, computed: bool = True) -> None:
        """A stage finished: ``computed`` here (its time is a basis of the ETA), or found finished by another process."""
        run = self.running.pop(key, None)
        self._pending.pop(key, None)
        self.done += 1
        if run is not None and computed:
            self._seconds.setdefault(run.kind, []).append(seconds)
            if run.flops:
                self._flops_seconds[0] += run.flops
                self._flops_seconds[1] += seconds
        self.tick()

    def drop(self, key: str) -> None:
        """A stage that failed or was cancelled."""
        self.running.pop(key, None)
        self._pending.pop(key, None)
        self.tick()

    # ---------------------------------------------------------------- estimate

    def _expected(self, kind: str, flops: float | None) -> float | None:
        if self._seconds.get(kind):
            return sum(self._seconds[kind]) / len(self._seconds[kind])
        if flops and self._flops_seconds[0] > 0:
            return flops * self._flops_seconds[1] / self._flops_seconds[0]
        return None

    def eta(self) -> str:
        """"ETA ~14 min", "ETA ~14 min + 2 stages not estimated (select)", or "ETA unknown" (with the count of stages
        not timed yet when they outnumber the estimated ones)."""
        now = self.clock()
        left: list[float] = []
        unknown: list[str] = []
        for run in self.running.values():
            expected = self._expected(run.kind, run.flops)
            if expected is None:
                unknown.append(run.kind)
                continue
            by_rate = (run.total - run.step) / run.rate if run.rate else 0.0  # the current training loop alone
            left.append(max(expected - (now - run.started), by_rate))
        for kind, flops in self._pending.values():
            expected = self._expected(kind, flops)
            if expected is None:
                unknown.append(kind)
            else:
                left.append(expected)
        if not left:
            return "ETA unknown" if unknown else "ETA 0 s"
        if len(unknown) > len(left):  # an estimate over a minority of the stages left would mislead
            kinds = ", ".join(sorted(set(unknown)))
            return f"ETA unknown ({len(unknown)} of {len(unknown) + len(left)} stages left not timed yet: {kinds})"
        seconds = max(sum(left) / min(self.jobs, len(left)), max(left))
        text = f"ETA ~{duration(max(1.0, seconds))}"
        if unknown:
            kinds = ", ".join(sorted(set(unknown)))
            text += f" + {len(unknown)} stage{'s' * (len(unknown) > 1)} not estimated ({kinds})"
        return text

    # ---------------------------------------------------------------- rendering

    def lines(self) -> list[str]:
        now = self.clock()
        head = f"[{self.done}/{self.total} done] {len(self.running)} running"
        out = [f"{head} | {self.eta()}"]
        for run in self.running.values():
            text = f"  {run.label}"
            if run.total:
                name = run.label.split("/", 1)[-1].rsplit("-", 1)[0]  # stage/<name>-<key12>: the loop names it again
                what = run.desc[len(name):].strip() if run.desc.startswith(name) else run.desc
                text += f"  {what + ' ' if what else ''}step {run.step}/{run.total}"
                if run.rate:
                    text += f" ({run.rate:.1f} step/s)"
            out.append(f"{text}  {duration(now - run.started)}")
        return out

    def tick(self, force: bool = False) -> None:
        """Redraw (terminal) or print a report (log) when it is due."""
        if not self.show:
            return
        now = self.clock()
        due = 0.5 if self.tty else self.every
        if not force and now - self._last < due:
            return
        self._last = now
        if self.tty:
            self._redraw()
        else:
            self.stream.write("".join(f"progress {line}\n" for line in self.lines()))
            self.stream.flush()

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")  # up to the block's first line, erase to the end
            self._drawn = 0

    def _redraw(self) -> None:
        self._clear()
        block = self.lines()
        self.stream.write("".join(line + "\n" for line in block))
        self.stream.flush()
        self._drawn = len(block)

    def echo(self, line: str) -> None:
        """Print one line of the run's own output above the display."""
        if self.show and self.tty and self._drawn:
            self._clear()
            self.stream.write(line + "\n")
            self._redraw()
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Leave the last state on screen (terminal); a log has had its reports."""
        if self.show and self.tty:
            self.tick(force=True)
        self._drawn = 0


def flops_of(node) -> float | None:
    """A stage instance's estimated FLOPs (``undo/cost.py``), a basis of the ETA; None when it cannot be known."""
    from .cost import Costs

    try:
        return Costs().of(node).total_flops or None
    except Exception:  # noqa: BLE001  (an upstream not yet computed, a stage from outside the kit: no estimate)
        return None


class LineWriter:
    """A text stream that hands each complete line to ``emit`` (a stage's prints, routed above the display)."""

    def __init__(self, emit: Callable[[str], None], like=None):
        self._emit, self._like, self._buffer = emit, like, ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):  # encoding, errors, fileno...: those of the stream it stands for
        return getattr(self._like, name)


@contextmanager
def showing(display: RunProgress):
    """While running stages in this process: their prints go above the display on a terminal, and step reports
    go nowhere once done."""
    saved = sys.stdout
    if display.show and display.tty:
        sys.stdout = LineWriter(display.echo, like=saved)
    try:
        yield display
    finally:
        sys.stdout = saved
        set_sink(None)
