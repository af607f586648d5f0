"""Resolve config files into a graph of stage instances and run the ones not yet in the store.

Each YAML file becomes one or more *instances*: one per combination of its own ``sweep`` values
and of its upstreams' instances. Upstream instances and the stage's own sweep values are joined on
shared tags (two upstreams swept over ``seed`` pair up seed by seed, and so does a stage that sweeps
``seed`` itself over upstreams tagged with it), and a swept ``seed`` flows downstream into every
stage's own ``seed`` unless that stage sweeps it itself. Stages marked ``GATHER`` (figures)
instead receive every instance of each upstream.

Usage::

    graph = Graph(Store(Path("artifacts")), scale="mini")
    nodes = graph.plan([Path("reproduce/fig5.yaml")])
    run_nodes(nodes, device="cpu")
"""

from __future__ import annotations

import copy
import itertools
import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .checksums import checkpoint_readable, verify_artifact
from .config import ConfigError, Ref, build, key_view, load_raw, refs_of, set_dotted, to_plain
from .env import environment
from .stages import Context, get_stage, stage_names
from .store import Artifact, Store, compute_key, figures_dir, write_json_atomic

GATHERED_FILES = ("metrics.json", "metrics.jsonl", "results.json")  # what a figure reads of each upstream artifact


@dataclass
class Node:
    """One stage instance."""

    path: Path
    stage: str
    name: str
    cfg: Any
    module: Any
    tags: dict[str, Any]
    upstream: dict[str, Any]  # ref path -> Node, or list[Node] for gathering stages
    key: str
    artifact: Artifact | None = None
    deps: list[Node] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.stage}/{self.artifact.dirname}" if self.artifact else f"{self.stage}/{self.name}"


def _tag_name(dotted: str) -> str:
    return dotted.split(".")[-1]


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unselected(tags: dict, ref: str) -> dict:
    """An upstream instance's tags as they travel downstream through ``ref``: less those its selector fixes (the
    ``rho`` of ``unlearn_sam.yaml[rho=0.01]`` is the same for every instance it names, so it tells none apart)."""
    fixed = Ref(ref).selector
    return {k: v for k, v in tags.items() if k not in fixed}


def _suffix(tags: dict) -> str:
    """An instance's name suffix: ``alpha0.2-seed0``; a swept reference's tag is its file stem alone."""
    return "-".join(v if isinstance(v, str) else f"{k}{_fmt(v)}" for k, v in sorted(tags.items()))


class Graph:
    """Resolves config files (memoised) for one scale."""

    def __init__(self, store: Store, scale: str):
        self.store, self.scale = store, scale
        self._cache: dict[Path, list[Node]] = {}
        self._resolving: set[Path] = set()
        self._artifacts: dict[tuple[str, str], Artifact] = {}  # (stage, key) -> the one artifact

    def resolve(self, path: Path) -> list[Node]:
        path = Path(path).resolve()
        if path in self._cache:
            return self._cache[path]
        if path in self._resolving:
            raise ConfigError(path, "", "dependency cycle")
        self._resolving.add(path)
        try:
            nodes = self._resolve(path)
        finally:
            self._resolving.discard(path)
        self._cache[path] = nodes
        return nodes

    def resolve_ref(self, ref: str) -> list[Node]:
        """The instances an upstream reference names: all of the file's, or those its ``[tag=value]`` selector picks."""
        ref = Ref(ref)
        nodes = self.resolve(ref.path)
        wanted = ref.selector
        if not wanted:
            return nodes
        picked = [n for n in nodes if all(k in n.tags and _fmt(n.tags[k]) == v for k, v in wanted.items())]
        if not picked:
            raise ConfigError(ref.path, "", f"no instance has tags {wanted} (instances: "
                              f"{sorted({json.dumps(n.tags, default=str) for n in nodes})[:4]}...)")
        return picked

    def _resolve(self, path: Path) -> list[Node]:
        raw = load_raw(path, self.scale)
        data = raw.data
        stage = data.pop("stage", None)
        if stage is None:
            raise ConfigError(path, "stage", f"required key is missing (one of {', '.join(stage_names())})")
        module = get_stage(stage)
        if module is None:
            raise ConfigError(path, "stage", f"unknown stage {stage!r} (one of {', '.join(stage_names())})")
        name = str(data.pop("name", f"{path.parent.name}-{path.stem}"))  # e.g. arithmetic-select_maxent
        data.pop("description", None)
        combos = raw.combos()
        nodes: list[Node] = []
        for combo in combos:
            own = copy.deepcopy(data)
            for dotted, value in combo.items():
                set_dotted(own, dotted, value, file=path)
            cfg = build(module.Config, own, file=path)
            refs = list(dict.fromkeys(str(ref) for _, ref in refs_of(cfg)))
            # a swept reference (``sweep: {model: [a.yaml, b.yaml]}``) is tagged by its file's stem
            own_tags = {_tag_name(k): Ref(v).path.stem if isinstance(v, str) and Ref(v).path.suffix == ".yaml" else v
                        for k, v in combo.items()}
            if getattr(module, "GATHER", False):
                upstream = {ref: self.resolve_ref(ref) for ref in refs}
                field_of = {str(r): f for f, r in refs_of(cfg)}  # name upstreams by field, not by file path
                key = compute_key(stage, module.CODE_VERSION, key_view(cfg, {r: "gathered" for r in refs}), {
                    field_of[ref]: ",".join(n.key for n in ups) for ref, ups in upstream.items()})
                node = Node(path, stage, name, cfg, module, own_tags, upstream, key)
                node.deps = [n for ups in upstream.values() for n in ups]
                nodes.append(node)
                continue
            collapse = getattr(module, "COLLAPSE", None)
            if collapse is not None:
                nodes += self._collapsed(path, stage, name, module, cfg, refs, own_tags, getattr(cfg, collapse), collapse)
                continue
            choices = [self.resolve_ref(ref) for ref in refs]
            for picked in itertools.product(*choices):
                # an own swept seed pairs with the same seed; tags a reference's selector fixes stay behind it
                tags = _join_tags([_unselected(n.tags, ref) for ref, n in zip(refs, picked, strict=True)] + [own_tags])
                if tags is None:
                    continue
                node_cfg = cfg
                if "seed" in tags and "seed" not in own_tags and "seed" in own_fields(module.Config):
                    seeded = copy.deepcopy(own)
                    seeded["seed"] = tags["seed"]
                    node_cfg = build(module.Config, seeded, file=path)
                upstream = dict(zip(refs, picked, strict=True))
                key = compute_key(stage, module.CODE_VERSION, key_view(node_cfg, {r: n.key for r, n in upstream.items()}),
                                  {})
                suffix = _suffix(tags)
                node_name = f"{name}-{suffix}" if suffix else name
                node = Node(path, stage, node_name, node_cfg, module, tags, upstream, key,
                            artifact=self._artifact(stage, node_name, key))
                node.deps = list(picked)
                nodes.append(node)
        if not nodes:
            raise ConfigError(path, "sweep", "no instance: upstream sweeps share tags with no common value")
        return nodes

    def _collapsed(self, path: Path, stage: str, name: str, module, cfg, refs: list[str], own_tags: dict, over: str,
                   field_name: str) -> list[Node]:
        """Instances of a stage that chooses among its upstream's instances along the swept tags ``over`` names
        (e.g. a learning-rate selection, ``lr``; or an alpha x learning-rate grid, ``retain_weight,lr``): one
        instance per combination of the upstream's other tags (one per seed)."""
        if len(refs) != 1:
            raise ConfigError(path, field_name, "a choosing stage reads exactly one upstream config")
        (ref,) = refs
        along = over.split(",")
        groups: dict[str, tuple[dict, list[Node]]] = {}
        for up in self.resolve_ref(ref):
            if missing := [tag for tag in along if tag not in up.tags]:
                raise ConfigError(path, field_name, f"{Path(ref).name}'s instances have no {missing[0]!r} tag to "
                                                    "choose along")
            rest = {k: v for k, v in up.tags.items() if k not in along}
            groups.setdefault(json.dumps(rest, sort_keys=True, default=str), (rest, []))[1].append(up)
        nodes = []
        for rest, members in groups.values():
            tags = _join_tags([rest, own_tags])
            if tags is None:
                continue
            # the key names the candidates by their keys, never by the config file's path
            key = compute_key(stage, module.CODE_VERSION, key_view(cfg, {ref: "chosen"}),
                              {"candidates": ",".join(sorted(n.key for n in members))})
            suffix = _suffix(tags)
            node_name = f"{name}-{suffix}" if suffix else name
            node = Node(path, stage, node_name, cfg, module, tags, {ref: members}, key,
                        artifact=self._artifact(stage, node_name, key))
            node.deps = list(members)
            nodes.append(node)
        return nodes

    def _artifact(self, stage: str, name: str, key: str) -> Artifact:
        """The artifact of a stage instance. Configs that resolve to the same key under different names (e.g.
        the same attack on the same model, listed by two figures) share one artifact: the one already in the
        store under any name, else the first name resolved here. So it is computed once and every figure
        reads the same directory, whatever the number of jobs."""
        if (stage, key) not in self._artifacts:
            existing = self.store.find(stage, key)
            self._artifacts[(stage, key)] = self.store.artifact(stage, existing or name, key)
        return self._artifacts[(stage, key)]

    def plan(self, paths: list[Path]) -> list[Node]:
        """All instances needed for ``paths``, upstreams first, each once."""
        order: list[Node] = []
        seen: set[int] = set()

        def visit(node: Node) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            for dep in node.deps:
                visit(dep)
            order.append(node)

        for path in paths:
            for node in self.resolve_ref(str(path)):
                visit(node)
        return order


def own_fields(cls) -> set[str]:
    import dataclasses
    return {f.name for f in dataclasses.fields(cls)}


def _join_tags(tag_sets: list[dict]) -> dict | None:
    merged: dict = {}
    for tags in tag_sets:
        for k, v in tags.items():
            if k in merged and merged[k] != v:
                return None
            merged[k] = v
    return merged


def status(node: Node) -> str:
    if node.artifact is None:
        return "always"
    if node.artifact.done:
        return "done"
    ckpt = node.artifact.partial / "checkpoint" / "state.pt"
    curves = node.artifact.partial / "curves"
    if ckpt.is_file() and not checkpoint_readable(ckpt):
        return "partial (checkpoint unreadable: restarts)"
    if ckpt.is_file() or (curves.is_dir() and any(curves.iterdir())):
        return "partial (resumes)"
    return "missing"


def verify_inputs(node: Node) -> None:
    """Check the upstream artifacts a stage instance reads against the checksums recorded when they were committed
    (:mod:`undo.checksums`); a gathering stage reads only their JSON files, so only those are hashed."""
    hash_only = GATHERED_FILES if getattr(node.module, "GATHER", False) else None
    for ups in node.upstream.values():
        for up in ups if isinstance(ups, list) else [ups]:
            if up.artifact is not None:
                verify_artifact(up.artifact.path, up.artifact.relpath, hash_only=hash_only)


def _resolved_config(node: Node) -> dict:
    refs = {ref: ([m.artifact.relpath for m in n] if isinstance(n, list) else n.artifact.relpath if n.artifact else n.name)
            for ref, n in node.upstream.items()}
    return {"stage": node.stage, "name": node.name, "source": str(node.path), "key": node.key, "tags": node.tags,
            "upstream": refs, "config": to_plain(node.cfg)}


def resolved_config_text(node: Node) -> str:
    """The YAML a stage instance's artifact stores as ``config.yaml`` (``undo show`` prints the same text)."""
    return yaml.safe_dump(_resolved_config(node), sort_keys=False)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch system's time limit): handled as Ctrl-C is, a stage's partial is kept to resume."""


@contextmanager
def stop_on_sigterm():
    """Within the block, the first SIGTERM raises :class:`Terminated` in this process (later ones are ignored while
    it unwinds); the previous handler is restored after."""
    import signal

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


SEGMENTS = "wall_seconds.json"  # in a partial directory: the wall time of each interrupted segment, summed at the end


def run_node(node: Node, *, device: str, scale: str) -> dict:
    """Run one instance into its partial directory and commit it; resumes a partial one."""
    return run_stored(node, device=device, scale=scale)[0]


def run_stored(node: Node, *, device: str, scale: str, on_wait=None) -> tuple[dict, bool]:
    """:func:`run_node`, and whether this call computed the stage (False: it was finished, perhaps by another
    process this one waited for). ``on_wait(pid)`` is called when another process holds the stage's lock (default:
    a line on stdout); this one then waits for it and uses its artifact, or takes over if that process dies."""
    if node.artifact is None:  # gathering stages write outside the store and are cheap
        inputs = {ref: [(n.artifact, n.tags) for n in ups] for ref, ups in node.upstream.items()}
        ctx = Context(node.cfg, node.name, figures_dir(scale), inputs, node.tags, device, scale)
        verify_inputs(node)
        return node.module.run(ctx), True
    art = node.artifact
    if on_wait is None:
        def on_wait(pid):
            print(f"waiting for {node.label} (computed by {f'pid {pid}' if pid else 'another process'})", flush=True)
    lock = art.lock(wait=True, on_wait=on_wait)
    try:
        if art.done:
            return art.read_json("metrics.json"), False
        verify_inputs(node)
        resumed = art.partial.exists()
        workdir = art.begin()
        (workdir / "config.yaml").write_text(resolved_config_text(node))
        inputs = {ref: [(m.artifact, m.tags) for m in n] if isinstance(n, list) else n.artifact
                  for ref, n in node.upstream.items()}
        ctx = Context(node.cfg, node.name, workdir, inputs, node.tags, device, scale)
        segments = json.loads((workdir / SEGMENTS).read_text()) if (workdir / SEGMENTS).is_file() else []
        started = time.time()
        try:
            summary = node.module.run(ctx)
        except BaseException as err:
            try:  # best effort: on a full or read-only disk the logs cannot be written, and the stage's error counts
                log_failure(workdir, err)
                if not resumed and status(node) == "missing":
                    keep_failure_log(art, workdir)
            except OSError:
                pass
            if not resumed and status(node) == "missing":
                shutil.rmtree(workdir, ignore_errors=True)  # nothing resumable: leave no artifact
            else:  # the resumed stage's recorded time will count this segment too
                try:
                    write_json_atomic(workdir / SEGMENTS, segments + [round(time.time() - started, 3)])
                except OSError:  # a full disk: the stage's own error counts, not this bookkeeping
                    pass
            if is_out_of_memory(err):
                raise OutOfMemory.of(node.label, node.path, memory_keys(node.cfg), err) from err
            raise
        segments.append(round(time.time() - started, 3))
        meta = {"stage": node.stage, "key": node.key, "scale": scale, "seed": getattr(node.cfg, "seed", None),
                "tags": node.tags, "wall_seconds": round(sum(segments), 3), "resumed": resumed,
                "segment_seconds": segments, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "environment": environment(device)}
        if isinstance(summary, dict) and "hub" in summary:  # the hub commit read, beside the code's (environment.git)
            meta["hub"] = summary["hub"]
        write_json_atomic(workdir / "meta.json", meta)
        (workdir / SEGMENTS).unlink(missing_ok=True)
        if not (workdir / "metrics.json").is_file():
            write_json_atomic(workdir / "metrics.json", summary)
        art.commit()
        return summary, True
    finally:
        lock.close()


class OutOfMemory(RuntimeError):
    """A stage ran out of GPU or CPU memory: one line naming the stage instance, its config file and the keys that
    size its memory (the model's width and depth, the batch sizes). Its only argument is that line, so it crosses
    from a ``--jobs`` worker process intact."""

    @classmethod
    def of(cls, label: str, path: Path, keys: list[str], err: BaseException) -> OutOfMemory:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        lower = ", ".join(keys) if keys else "the model size or the batch size"
        return cls(f"{label}: out of memory ({first[:120]}); lower {lower} in {path}, or run on a machine with more "
                   "memory")


def is_out_of_memory(err: BaseException) -> bool:
    """Whether an exception is an allocation failure: CUDA's OutOfMemoryError, Python's MemoryError, or PyTorch's CPU
    allocator's RuntimeError ("DefaultCPUAllocator: can't allocate memory")."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower())


_MODEL_SIZE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size", "max_position_embeddings")


def memory_keys(cfg: Any) -> list[str]:
    """The dotted keys of a config that size a run's memory: every batch size and the model's dimensions."""
    import dataclasses

    found: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        items = ([(f.name, getattr(node, f.name)) for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node)
                 else list(node.items()) if isinstance(node, dict) else [])
        for name, value in items:
            key = f"{prefix}{name}"
            if str(name).endswith("batch_size") or (prefix.endswith("model.") and name in _MODEL_SIZE_KEYS):
                found.append(key)
            elif dataclasses.is_dataclass(value) or isinstance(value, dict):
                walk(value, key + ".")

    walk(cfg, "")
    return found


def precheck(paths: list[Path], scale: str) -> None:
    """Refuse the config files ``paths`` need (they and every file they reference) for what can be seen without
    building their stages' configs: YAML syntax, a key given twice, an infinite or NaN number, a bad ``base``,
    ``scales`` or ``sweep``, a missing or unknown ``stage``. This imports no stage module (nor PyTorch), so such a
    config is refused at once; :meth:`Graph.plan` checks the rest."""
    from .config import locate
    from .stages import MODULES, STAGES

    known = set(MODULES) | set(STAGES)
    seen: set[Path] = set()
    todo = [Path(Ref(str(p)).path) for p in paths]
    while todo:
        path = todo.pop().resolve()  # as referenced: a setting's shared file is read as if it lived there (locate)
        if path in seen or not locate(path).is_file():
            continue  # a missing file is reported, with its key, when the graph is built
        seen.add(path)
        raw = load_raw(path, scale)
        stage = raw.data.get("stage")
        if stage is None:
            raise ConfigError(path, "stage", f"required key is missing (one of {', '.join(sorted(known))})")
        if stage not in known:
            raise ConfigError(path, "stage", f"unknown stage {stage!r} (one of {', '.join(sorted(known))})")
        values = [raw.data] + [v for group in raw.sweeps for vs in group.values() for v in vs]
        todo += [path.parent / Ref(text).path for text in _strings(values) if Ref(text).path.suffix == ".yaml"]


def _strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


LOGS_DIR = "logs"  # under the store root: run logs and the logs of failed stages (never an artifact)


def log_failure(workdir: Path, err: BaseException) -> None:
    """Append the full traceback of a stage's failure to its ``log.txt``."""
    import traceback

    text = "".join(traceback.format_exception(err))
    with open(workdir / "log.txt", "a", encoding="utf-8") as fh:
        fh.write(f"FAILED {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n{text}")


def keep_failure_log(art: Artifact, workdir: Path) -> Path | None:
    """A failed stage's ``log.txt`` kept as ``<store>/logs/failed/<stage>/<name>-<key>.log`` when its partial
    directory is removed (nothing resumable was written): the store keeps no half-written artifact, and the
    traceback stays readable."""
    log = workdir / "log.txt"
    if not log.is_file():
        return None
    dest = art.root / LOGS_DIR / "failed" / art.stage / f"{art.dirname}.log"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log, dest)
    return dest


def run_nodes(nodes: list[Node], *, device: str, scale: str, echo=None) -> None:
    """Run the instances not yet done, in order, in this process; ``echo`` (default: the run's progress display,
    :mod:`undo.progress`) gets the start and done lines."""
    from . import progress

    todo = [n for n in nodes if status(n) != "done"]
    display = progress.RunProgress(total=len({n.key for n in todo if n.artifact is not None}), jobs=1,
                                   show=progress.enabled() and echo is None)
    say = echo or display.echo
    say(f"{len(nodes)} stage instances, {len(nodes) - len(todo)} already done, {len(todo)} to run")
    for node in todo:
        if node.artifact is not None:
            display.plan(node.key, node.stage, progress.flops_of(node))
    handled: set[str] = set()
    with progress.showing(display):
        for i, node in enumerate(todo, 1):
            say(f"[{i}/{len(todo)}] {node.label} ({status(node)})")
            if node.artifact is None or node.key in handled:  # a figure; an artifact two configs name
                run_node(node, device=device, scale=scale)
                continue
            handled.add(node.key)
            display.start(node.key, node.label, node.stage, progress.flops_of(node))
            progress.set_sink(lambda desc, step, total, key=node.key: display.step(key, desc, step, total))
            started = time.time()
            try:
                _, computed = run_stored(node, device=device, scale=scale)
            except BaseException:
                display.drop(node.key)
                raise
            display.finish(node.key, time.time() - started, computed)
    display.close()


def describe(nodes: list[Node]) -> list[str]:
    return [f"{status(n):>18}  {n.label}" + (f"  {json.dumps(n.tags)}" if n.tags else "") for n in nodes]
