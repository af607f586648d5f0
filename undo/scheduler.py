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
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from .pipeline import Graph, Node, run_node, status
from .store import Store

_WORKER: dict = {}


def _worker_init(store_root: str, scale: str, configs: list[str], threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["UNDO_PROGRESS"] = "0"  # progress bars of several processes would interleave
    graph = Graph(Store(Path(store_root)), scale)
    _WORKER["nodes"] = {n.key: n for n in graph.plan([Path(c) for c in configs]) if n.artifact is not None}


def _worker_run(key: str, device: str, scale: str) -> float:
    started = time.time()
    run_node(_WORKER["nodes"][key], device=device, scale=scale)
    return time.time() - started


def threads_per_job(jobs: int) -> int:
    import torch

    return max(1, torch.get_num_threads() // jobs)


def run_parallel(nodes: list[Node], configs: list[Path], *, store_root: Path, jobs: int, device: str, scale: str,
                 echo=print) -> None:
    """Run the not-yet-done ``nodes`` (a :meth:`Graph.plan` of ``configs``) with ``jobs`` workers."""
    todo: dict[str, list[Node]] = {}  # store key -> instances (two config files may name the same artifact)
    gathers: list[Node] = []
    for node in nodes:
        if node.artifact is None:
            gathers.append(node)
        elif status(node) != "done":
            todo.setdefault(node.key, []).append(node)
    n_stored = len({n.key for n in nodes if n.artifact is not None})
    threads = threads_per_job(jobs)
    echo(f"{len(nodes)} stage instances, {n_stored - len(todo)} already done, {len(todo)} to run "
         f"({jobs} jobs x {threads} thread{'s' * (threads > 1)})")
    finished: set[str] = {n.key for n in nodes if n.artifact is not None and n.key not in todo}

    def ready(node: Node) -> bool:
        return all(dep.artifact is None or dep.key in finished for dep in node.deps)

    total = len(todo)
    running: dict[Future, str] = {}
    error: BaseException | None = None
    count = 0
    ctx = multiprocessing.get_context("spawn")  # fork would copy the parent's torch thread pools
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                             initargs=(str(store_root), scale, [str(c) for c in configs], threads)) as pool:
        try:
            while todo or running:
                if error is None:
                    for key in [k for k, group in todo.items() if k not in running.values() and ready(group[0])]:
                        if len(running) >= jobs:
                            break
                        count += 1
                        echo(f"[{count}/{total}] start {todo[key][0].label} ({status(todo[key][0])})")
                        running[pool.submit(_worker_run, key, device, scale)] = key
                if not running:
                    if error is None and todo:
                        raise RuntimeError(f"scheduler: {len(todo)} instances wait on upstreams that never finish")
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    key = running.pop(future)
                    try:
                        seconds = future.result()
                    except BaseException as err:  # keep the first error; let the other jobs finish their stage
                        error = error or err
                        todo.pop(key, None)
                        continue
                    echo(f"done {todo[key][0].label} ({seconds:.0f} s)")
                    todo.pop(key)
                    finished.add(key)
                if error is not None:
                    todo = {k: v for k, v in todo.items() if k in running.values()}
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    if error is not None:
        raise error
    for node in gathers:
        echo(f"{node.label}")
        run_node(node, device=device, scale=scale)
