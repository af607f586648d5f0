"""Run independent stage instances in parallel worker processes (``undo run --jobs N``).

Mini-scale models are so small that one stage cannot use two CPU cores well: a 0.6M-parameter
Gemma-2 trains at nearly the same speed on one thread as on two. Running two independent stages
at once, one thread each, nearly halves the wall time of a sweep instead.

The parent walks the graph and hands a worker every instance whose upstreams are finished; a
worker rebuilds the same graph from the same config files (instances are not picklable: they
hold stage modules) and runs the instance with that store key. Results do not depend on the
number of jobs: each instance seeds itself and the kit's training is bit-identical on one or
two threads (checked in tests/test_scheduler.py). Gathering stages (figures) run in the parent
once their inputs are done. On the first failure no new instance starts; running ones finish,
and the error is raised.

On a GPU machine every worker gets its own GPUs (:func:`worker_devices`): the visible GPUs are split
evenly among the jobs and each worker sees only its share (``CUDA_VISIBLE_DEVICES``, set before the
worker imports PyTorch), so eight jobs on an 8-GPU node train eight stages on eight GPUs. At paper
scale a job without a GPU of its own is refused before anything runs; mini and smoke models are
small enough to share one.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from . import progress
from .pipeline import Graph, Node, Terminated, run_node, run_stored, status
from .store import Store

_WORKER: dict = {}
REPORT_EVERY = 1.0  # seconds between two step reports a worker sends (the display redraws at most twice a second)


class DeviceError(ValueError):
    """``--jobs`` asks for more workers than there are GPUs to give them at paper scale."""


def visible_gpus(environ=os.environ, count: int | None = None) -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names them (indices or UUIDs); ``count`` is what
    PyTorch sees (asked when None)."""
    if count is None:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = [d.strip() for d in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    if "CUDA_VISIBLE_DEVICES" in environ:
        return listed[:count]
    return [str(i) for i in range(count)]


def worker_devices(device: str, jobs: int, gpus: list[str], scale: str) -> list[tuple[str, str | None]]:
    """Per worker: the device its stages run on and the ``CUDA_VISIBLE_DEVICES`` it gets (None: inherited).

    ``device`` is the run's resolved device (cpu, cuda or cuda:N). With ``cuda``, the ``gpus`` are dealt out in
    equal contiguous sets of ``len(gpus) // jobs`` (a worker sees its set as cuda:0..k-1; a multi-process stage
    uses all of it); GPUs left over by the division stay unused. More jobs than GPUs: at paper scale a
    :class:`DeviceError` (a 2B-parameter stage does not share a GPU well, and two of them may not fit in its
    memory); at mini and smoke the workers take the GPUs in turn. ``cuda:N`` pins every job to that one GPU,
    refused at paper scale for more than one job for the same reason.
    """
    if device == "cpu":
        return [("cpu", None)] * jobs
    if device != "cuda":  # cuda:N, chosen by the user
        if jobs > 1 and scale == "paper":
            raise DeviceError(f"--jobs {jobs} with --device {device}: at paper scale every job needs a GPU of its "
                              "own; use --device cuda to spread the jobs over the visible GPUs, or --jobs 1")
        return [(device, None)] * jobs
    if not gpus:
        raise DeviceError("--device cuda: no GPU is visible (CUDA_VISIBLE_DEVICES or the driver)")
    if jobs > len(gpus):
        if scale == "paper":
            raise DeviceError(f"--jobs {jobs}: this machine shows {len(gpus)} GPU{'s' * (len(gpus) > 1)} "
                              f"({','.join(gpus)}) and at paper scale every job needs one of its own; use --jobs "
                              f"{len(gpus)} or fewer")
        return [("cuda", gpus[i % len(gpus)]) for i in range(jobs)]
    per = len(gpus) // jobs
    return [("cuda", ",".join(gpus[i * per:(i + 1) * per])) for i in range(jobs)]


def _take_device(assignments) -> str:
    """A starting worker's share of the devices, from the queue the parent filled with :func:`worker_devices`;
    sets ``CUDA_VISIBLE_DEVICES`` (before PyTorch initialises CUDA) and returns the device its stages use."""
    device, visible = assignments.get()
    if visible is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible
    return device


def _worker_init(store_root: str, scale: str, configs: list[str], threads: int, events, assignments) -> None:
    _WORKER["device"] = _take_device(assignments)
    import torch

    torch.set_num_threads(threads)
    os.environ["UNDO_PROGRESS"] = "0"  # no bar of its own: the parent shows the run's progress
    _WORKER["events"] = events
    _WORKER["key"] = None
    sys.stdout = progress.LineWriter(lambda line: events.put(("line", line)), like=sys.stdout)  # printed in order
    signal.signal(signal.SIGTERM, _worker_sigterm)
    graph = Graph(Store(Path(store_root)), scale)
    _WORKER["nodes"] = {n.key: n for n in graph.plan([Path(c) for c in configs]) if n.artifact is not None}


def _worker_sigterm(signum, frame) -> None:
    """Inside a stage, SIGTERM interrupts it as Ctrl-C does (its partial is kept); an idle worker just exits."""
    if _WORKER.get("key") is None:
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def _worker_report(desc: str, step: int, total: int) -> None:
    now = time.time()
    if step < total and now - _WORKER.get("reported", 0.0) < REPORT_EVERY:
        return
    _WORKER["reported"] = now
    _WORKER["events"].put(("step", _WORKER["key"], desc, step, total))


def _worker_run(key: str, scale: str) -> tuple[float, bool]:
    """Seconds the stage took, and whether this worker computed it (False: another process had)."""
    events, device = _WORKER["events"], _WORKER["device"]
    _WORKER["key"], _WORKER["reported"] = key, 0.0
    events.put(("start", key, os.getpid()))
    progress.set_sink(_worker_report)
    started = time.time()
    try:
        _, computed = run_stored(_WORKER["nodes"][key], device=device, scale=scale)
    finally:
        _WORKER["key"] = None
        progress.set_sink(None)
        sys.stdout.flush()
    return time.time() - started, computed


def threads_per_job(jobs: int) -> int:
    import torch

    return max(1, torch.get_num_threads() // jobs)


def run_parallel(nodes: list[Node], configs: list[Path], *, store_root: Path, jobs: int, device: str, scale: str,
                 display: progress.RunProgress | None = None) -> None:
    """Run the not-yet-done ``nodes`` (a :meth:`Graph.plan` of ``configs``) with ``jobs`` workers."""
    todo: dict[str, list[Node]] = {}  # store key -> instances (two config files may name the same artifact)
    gathers: list[Node] = []
    for node in nodes:
        if node.artifact is None:
            gathers.append(node)
        elif status(node) != "done":
            todo.setdefault(node.key, []).append(node)
    n_stored = len({n.key for n in nodes if n.artifact is not None})
    devices = worker_devices(device, jobs, visible_gpus() if device == "cuda" else [], scale)
    threads = threads_per_job(jobs)
    total = len(todo)
    display = display or progress.RunProgress(total=total, jobs=jobs)
    echo = display.echo
    echo(f"{len(nodes)} stage instances, {n_stored - len(todo)} already done, {len(todo)} to run "
         f"({jobs} jobs x {threads} thread{'s' * (threads > 1)})")
    if device.startswith("cuda"):
        echo("devices per job: " + ", ".join(f"{d}" + (f" (GPUs {v})" if v is not None else "") for d, v in devices))
    for key, group in todo.items():
        display.plan(key, group[0].stage, progress.flops_of(group[0]))
    finished: set[str] = {n.key for n in nodes if n.artifact is not None and n.key not in todo}

    def ready(node: Node) -> bool:
        return all(dep.artifact is None or dep.key in finished for dep in node.deps)

    running: dict[Future, str] = {}
    pids: dict[str, int] = {}  # store key -> the worker computing it
    error: BaseException | None = None
    count = 0
    ctx = multiprocessing.get_context("spawn")  # fork would copy the parent's torch thread pools
    events = ctx.Queue()
    assignments = ctx.Queue()
    for assignment in devices:
        assignments.put(assignment)

    def drain() -> None:
        """Show what the workers printed and reported."""
        while True:
            try:
                event = events.get_nowait()
            except queue.Empty:
                return
            if event[0] == "line":
                echo(event[1])
            elif event[0] == "start":
                pids[event[1]] = event[2]
                display.began(event[1])
            elif event[0] == "step":
                display.step(*event[1:])

    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                             initargs=(str(store_root), scale, [str(c) for c in configs], threads, events,
                                       assignments)) as pool:
        try:
            while todo or running:
                if error is None:
                    for key in [k for k, group in todo.items() if k not in running.values() and ready(group[0])]:
                        if len(running) >= jobs:
                            break
                        count += 1
                        node = todo[key][0]
                        echo(f"[{count}/{total}] start {node.label} ({status(node)})")
                        display.start(key, node.label, node.stage, progress.flops_of(node))
                        running[pool.submit(_worker_run, key, scale)] = key
                if not running:
                    if error is None and todo:
                        raise RuntimeError(f"scheduler: {len(todo)} instances wait on upstreams that never finish")
                    break
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                drain()
                display.tick()
                for future in done:
                    key = running.pop(future)
                    pids.pop(key, None)
                    try:
                        seconds, computed = future.result()
                    except BaseException as err:  # keep the first error; let the other jobs finish their stage
                        error = error or err
                        display.drop(key)
                        todo.pop(key, None)
                        continue
                    label = todo[key][0].label
                    display.finish(key, seconds, computed)
                    echo(f"done {label} ({seconds:.0f} s)" if computed else
                         f"done {label} (finished by another process)")
                    todo.pop(key)
                    finished.add(key)
                if error is not None:
                    todo = {k: v for k, v in todo.items() if k in running.values()}
        except KeyboardInterrupt as err:
            if isinstance(err, Terminated):  # Ctrl-C reaches the workers itself; a SIGTERM to this process does not
                drain()
                for key in running.values():
                    if key in pids:
                        os.kill(pids[key], signal.SIGTERM)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            drain()
            display.close()
    if error is not None:
        raise error
    for node in gathers:
        echo(f"{node.label}")
        run_node(node, device=device, scale=scale)
