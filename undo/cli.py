"""The ``undo`` command line: one subcommand per stage, ``run`` for whole graphs, ``figure`` to redraw.

Every stage subcommand takes config files; it runs those configs and whatever upstream stages
they need that are not already in the artifact store. Hyperparameters live in the YAML files,
not in flags; ``--scale`` picks the overlay (paper, mini, smoke).

Examples::

    undo run reproduce/fig5.yaml --scale mini
    undo run reproduce/fig5.yaml --scale mini --dry-run
    undo run reproduce/fig8.yaml --scale paper --dry-run --mfu 0.4   # assets, GPU-hours, disk
    undo distill reproduce/synthetic/arithmetic/distill_undo.yaml --scale smoke
    undo figure reproduce/fig5.yaml --scale mini
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

import click

from . import __version__
from .config import SCALES, ConfigError, Ref, locate
from .stages import MODULES, summary_line

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Env:
    def __init__(self, artifacts: Path, device: str, debug: bool = False):
        self.artifacts, self.device, self.debug = artifacts, device, debug


pass_env = click.make_pass_decorator(Env)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _input_errors() -> tuple[type, ...]:
    """Failures caused by what the user gave or set up (exit 2): a config, a data file, an upstream artifact, a hub
    token or the hub itself, a quantization mode this machine lacks. Anything else is a runtime failure (exit 1)."""
    from .data.errors import SourceError
    from .models import PretrainedError
    from .quantize import QuantizationUnavailable
    from .tokenizer import TokenizerError

    return (ConfigError, ValueError, FileNotFoundError, SourceError, PretrainedError, TokenizerError,
            QuantizationUnavailable)


def _write_run_log(artifacts: Path, err: BaseException) -> Path | None:
    """The full traceback of a failed run (a worker's included) as ``<store>/logs/run-<time>.log``."""
    import traceback

    from .pipeline import LOGS_DIR

    try:
        path = Path(artifacts) / LOGS_DIR / f"run-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"command: {' '.join(sys.argv)}\n\n" + "".join(traceback.format_exception(err)),
                        encoding="utf-8")
        return path
    except OSError:
        return None


_ENVIRONMENT_ERRNOS = {
    errno.ENOTDIR: "a file is in the way of a directory the store needs (move it away)",
    errno.EISDIR: "a directory is where the store writes a file (move it away)",
    errno.EEXIST: "something already exists there that the store needs to create (move it away)",
    errno.EACCES: "permission denied (make the store writable, or choose another with --artifacts-dir)",
    errno.EPERM: "operation not permitted (make the store writable, or choose another with --artifacts-dir)",
    errno.EROFS: "read-only file system (choose a writable store with --artifacts-dir)",
    errno.ENOSPC: "no space left on the device (free some, or choose another store with --artifacts-dir); finished "
                  "artifacts are intact and an interrupted stage resumes",
    errno.EDQUOT: "disk quota exceeded (free some space, or choose another store with --artifacts-dir); finished "
                  "artifacts are intact and an interrupted stage resumes",
}


def environment_message(err: BaseException) -> str | None:
    """One line for a failure of the machine rather than of the kit (a file where a directory should be, a read-only
    or full disk), naming the path; None for any other exception."""
    if not isinstance(err, OSError) or isinstance(err, FileNotFoundError) or err.errno not in _ENVIRONMENT_ERRNOS:
        return None
    where = err.filename if err.filename is not None else "the artifact store"
    if err.errno == errno.ENOTDIR and err.filename is not None:  # name the file in the way, not the path below it
        where = next((str(p) for p in reversed(Path(err.filename).parents) if p.exists() and not p.is_dir()), where)
    return f"{where}: {_ENVIRONMENT_ERRNOS[err.errno]}"


def _fail_run(env: Env, err: BaseException) -> None:
    """One line on screen (the traceback with ``--debug``), the traceback in the run log; exit 2 for bad input, 1 for
    a runtime failure or a failure of the machine (:func:`environment_message`)."""
    import traceback

    code = 2 if isinstance(err, _input_errors()) else 1
    first = str(err).splitlines()[0] if str(err) else ""
    if (machine := environment_message(err)) is not None:
        code, first = 1, machine
    elif code == 1 and not isinstance(err, RuntimeError):  # an unexpected exception: its type says most
        first = f"{type(err).__name__}: {first}" if first else type(err).__name__
    log = _write_run_log(env.artifacts, err)
    if env.debug:
        traceback.print_exception(err, file=sys.stderr)
    click.echo(f"error: {first or type(err).__name__}", err=True)
    if log is not None:
        click.echo(f"  traceback: {log}" + ("" if env.debug else " (--debug prints it here)"), err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="undo")
@click.option("--artifacts-dir", type=click.Path(path_type=Path), envvar="UNDO_ARTIFACTS", default=Path("artifacts"),
              show_default=True, help="Root of the artifact store (env UNDO_ARTIFACTS).")
@click.option("--device", default="auto", envvar="UNDO_DEVICE", show_default=True,
              help="cpu, cuda, cuda:N, or auto (cuda when available).")
@click.option("--debug", is_flag=True, envvar="UNDO_DEBUG",
              help="On a failure, print the full traceback (env UNDO_DEBUG); it is always in the run log.")
@click.pass_context
def cli(ctx: click.Context, artifacts_dir: Path, device: str, debug: bool) -> None:
    """Reproduce "Distillation Robustifies Unlearning": unlearn, noise, distill, attack, plot.

    Stages are described by YAML configs (see reproduce/); each finished stage is stored under
    the artifact directory keyed by a hash of its config, so reruns skip what is done and an
    interrupted stage resumes from its last checkpoint.

    \b
    A failure prints one line. Its full traceback goes to the run log, <artifacts-dir>/logs/run-*.log,
    and to the failing stage's log.txt (kept as <artifacts-dir>/logs/failed/<stage>/<name>.log when
    nothing resumable was written); --debug prints it too.
    \b
    Exit codes: 0 success; 1 a runtime failure (a stage crashed); 2 a usage error or bad input
    (a config, a data file, an upstream artifact, a missing hub token or hub); 130 interrupted
    (Ctrl-C); 143 terminated (SIGTERM). An interrupted or terminated stage resumes on the next run.
    \b
    While stages run, `undo run` shows stages done/total, each running stage's step/total and
    rate, and an estimated time left: redrawn in place on a terminal, a plain line every
    UNDO_PROGRESS_EVERY seconds (default 30) in a log; UNDO_PROGRESS=0 turns it off. Two runs
    on one store share stages: one waits for a stage the other is computing, then uses it.
    """
    ctx.obj = Env(artifacts_dir, device, debug)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _quiet_libraries() -> None:
    """Keep the kit's own progress bars and logs readable: no per-load bars from transformers. Called only before
    work that loads models: importing transformers (and PyTorch) takes seconds, which a refused config should not
    wait for."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


scale_option = click.option("--scale", type=click.Choice(SCALES), envvar="UNDO_SCALE", default="paper",
                            show_default=True, help="Overlay: paper (GPU, hub data), mini (CPU minutes), smoke (CI).")
dry_run_option = click.option("--dry-run", is_flag=True,
                              help="List the stage instances, their status, the hub assets they fetch and an estimate "
                                   "of their GPU-hours and disk (undo/cost.py); run nothing.")


def cost_options(command):
    """The dry run's assumed GPU: GPU-hours = FLOPs / (peak x MFU)."""
    command = click.option("--mfu", type=float, envvar="UNDO_MFU", default=0.35, show_default=True,
                           help="Dry run: assumed model FLOPs utilisation, in (0, 1] (env UNDO_MFU; `undo bench` "
                                "measures it).")(command)
    return click.option("--gpu-peak-tflops", type=float, envvar="UNDO_GPU_PEAK_TFLOPS", default=989.0,
                        show_default=True, help="Dry run: the GPU's dense bf16 peak in TFLOP/s (H100/H200 SXM: 989; "
                                                "env UNDO_GPU_PEAK_TFLOPS).")(command)


jobs_option = click.option("--jobs", "-j", type=click.IntRange(min=1), envvar="UNDO_JOBS", default=1, show_default=True,
                           help="Independent stages run at once, in worker processes sharing the CPU threads "
                                "(env UNDO_JOBS). 2 on a 2-core CPU at mini scale nearly halves the wall time. With "
                                "--device cuda each job gets its own GPUs (the visible ones split evenly); at paper "
                                "scale more jobs than GPUs is refused.")


def _execute(env: Env, configs: tuple[Path, ...], scale: str, dry_run: bool, expect_stage: str | None = None,
             jobs: int = 1, gpu_peak_tflops: float = 989.0, mfu: float = 0.35) -> None:
    from .cost import Costs
    from .env import check_device, resolve_device
    from .pipeline import Graph, describe, precheck, run_nodes, status
    from .store import Store, StoreError

    try:
        costs = Costs(gpu_peak_tflops * 1e12, mfu)
        check_device(env.device)  # its spelling; whether this machine has it is checked before any stage runs
    except ValueError as err:
        _fail(str(err))
        return
    try:
        precheck(list(configs), scale)  # what is wrong in the YAML itself, before a stage module (and PyTorch) loads
        graph = Graph(Store(env.artifacts), scale)
        if expect_stage is not None:
            for path in configs:
                nodes = graph.resolve_ref(str(path))
                if nodes and nodes[0].stage != expect_stage:
                    raise ConfigError(path, "stage", f"is {nodes[0].stage!r}; use `undo {nodes[0].stage}` or `undo run`")
        nodes = graph.plan(list(configs))
    except ConfigError as err:
        _fail(str(err))
        return
    if dry_run:
        gpu = scale == "paper"  # mini and smoke run on CPUs: their FLOPs are shown, not GPU-hours
        for line in costs.report(nodes, describe(nodes), to_run=lambda n: status(n) != "done", gpu=gpu):
            click.echo(line)
        return
    from .pipeline import Terminated, stop_on_sigterm

    try:
        device = resolve_device(env.device)
    except ValueError as err:
        _fail(str(err))
        return
    try:
        Store(env.artifacts).check_writable()
    except StoreError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    _quiet_libraries()
    try:
        with stop_on_sigterm():
            if jobs > 1:
                from .scheduler import run_parallel
                run_parallel(nodes, list(configs), store_root=env.artifacts, jobs=jobs, device=device, scale=scale)
            else:
                run_nodes(nodes, device=device, scale=scale)
    except KeyboardInterrupt as err:
        signal_name = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
        click.echo(f"\n{signal_name}: rerun the same command to resume", err=True)
        sys.exit(EXIT_TERMINATED if isinstance(err, Terminated) else EXIT_INTERRUPTED)
    except Exception as err:  # noqa: BLE001  (every failure: one line, the traceback logged, the exit code by kind)
        _fail_run(env, err)


def _config_paths(ctx, param, values):
    """Config files, each optionally with a ``[tag=value,...]`` selector (``relearn.yaml[model=select_maxent]``)."""
    for value in values:
        if not locate(Ref(str(value)).path).is_file():
            raise click.BadParameter(f"{value}: no such config file", ctx=ctx, param=param)
    return tuple(Path(v) for v in values)


config_args = click.argument("configs", nargs=-1, required=True, callback=_config_paths)


@cli.command()
@config_args
@scale_option
@dry_run_option
@cost_options
@jobs_option
@pass_env
def run(env: Env, configs, scale, dry_run, gpu_peak_tflops, mfu, jobs):
    """Run CONFIGS and every upstream stage they need that is not yet done."""
    _execute(env, configs, scale, dry_run, jobs=jobs, gpu_peak_tflops=gpu_peak_tflops, mfu=mfu)


def _stage_command(stage: str):
    @scale_option
    @dry_run_option
    @cost_options
    @jobs_option
    @config_args
    @pass_env
    def command(env: Env, configs, scale, dry_run, gpu_peak_tflops, mfu, jobs):
        _execute(env, configs, scale, dry_run, expect_stage=stage, jobs=jobs, gpu_peak_tflops=gpu_peak_tflops,
                 mfu=mfu)

    line = summary_line(stage)
    line = line[:1].upper() + line[1:]
    command.__doc__ = line + "\n\nRuns CONFIGS (each a `stage: " + stage + "` file) and any missing upstream stages."
    return cli.command(name=stage, short_help=line)(command)


for _stage in MODULES:
    if _stage != "figure":  # `undo figure` redraws stored results; figure configs run with `undo run`
        _stage_command(_stage)


@cli.command()
@config_args
@scale_option
@click.option("--graph/--no-graph", "with_graph", default=True, show_default=True,
              help="Also print the graph of upstream instances below each config.")
@pass_env
def show(env: Env, configs, scale, with_graph):
    """Print what CONFIGS do at a scale, before running anything.

    For each stage instance of each config: the fully resolved config (the text its artifact's config.yaml will
    hold: bases, scale overlay, sweep values and upstream artifacts applied) and then the graph of instances it
    needs, each with its status in the store (done, partial, missing).
    """
    from .pipeline import Graph, precheck, resolved_config_text, status
    from .store import Store

    graph = Graph(Store(env.artifacts), scale)
    try:
        precheck(list(configs), scale)
        per_config = [(path, graph.resolve_ref(str(path))) for path in configs]
    except ConfigError as err:
        _fail(str(err))
        return
    for path, nodes in per_config:
        click.echo(f"# {path} at scale {scale}: {len(nodes)} instance{'s' if len(nodes) != 1 else ''}")
        for node in nodes:
            click.echo(f"\n## {node.label}  [{status(node)}]")
            click.echo(resolved_config_text(node).rstrip())
        if with_graph:
            click.echo(f"\n## graph below {path}")
            shown: set[int] = set()
            for node in nodes:
                _echo_tree(node, 0, shown)
        click.echo("")


def _echo_tree(node, depth: int, shown: set[int]) -> None:
    """One line per instance, upstreams indented below; an instance already printed is not expanded again."""
    from .pipeline import status

    again = id(node) in shown
    click.echo(f"{'  ' * depth}{node.label}  [{status(node)}]" + ("  (above)" if again and node.deps else ""))
    if again:
        return
    shown.add(id(node))
    for dep in node.deps:
        _echo_tree(dep, depth + 1, shown)


@cli.command()
@config_args
@scale_option
@pass_env
def figure(env: Env, configs, scale):
    """Redraw figures from their stored results JSON (figures/<scale>/), without training.

    Figures without stored results are skipped with a note; it is an error only when none has any.
    """
    from .pipeline import Graph
    from .stages import figure as figure_stage
    from .store import Store, figures_dir

    graph = Graph(Store(env.artifacts), scale)
    missing = []
    for path in configs:
        try:
            node = graph.resolve_ref(str(path))[0]
        except ConfigError as err:
            _fail(str(err))
            return
        if node.stage != "figure":
            _fail(f"{path}: stage: is not a figure config")
        cfg = node.cfg
        results = figures_dir(scale) / f"{cfg.output}.json"
        if not results.is_file():
            missing.append(f"{results}: no stored results; run `undo run {path} --scale {scale}` first")
            continue
        for out in figure_stage.redraw(cfg.script, results):
            click.echo(out)
    if len(missing) == len(configs):
        _fail(missing[0])
    for note in missing:
        click.echo(f"skipped {note}", err=True)


@cli.command()
@scale_option
def report(scale):
    """Check the paper's claims against the stored results: writes figures/<scale>/claims.md.

    Reads only the figures' results JSONs in figures/<scale>/; claims whose results are missing are listed as "not run".
    """
    from .paper.claims import write_report
    from .store import figures_dir

    path, claims = write_report(figures_dir(scale), scale)
    for c in claims:
        click.echo(f"{c.verdict:>12}  {c.claim} [{c.figure}, {c.setting}]")
    click.echo(path)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("figures/tables"),
              show_default=True, help="Directory for tables.md and tables.tex.")
def tables(out):
    """Tables 1-12 (App. A-D.2): the hyperparameters of the paper-scale configs, as Markdown and LaTeX.

    Reads reproduce/ under the current directory at scale paper; runs nothing.
    """
    from .paper.tables import write_tables

    try:
        paths = write_tables(out, Path.cwd())
    except ConfigError as err:
        _fail(str(err))
        return
    for path in paths:
        click.echo(path)


@cli.group()
def store():
    """Inspect the artifact store."""


@store.command("ls")
@pass_env
def store_ls(env: Env):
    """List finished and partial artifacts."""
    from .store import Store

    s = Store(env.artifacts)
    for path in s.list():
        click.echo(f"done     {path.relative_to(s.root)}")
    for path in s.partials():
        click.echo(f"partial  {path.relative_to(s.root)}")


@cli.command()
@click.option("--fix", is_flag=True,
              help="Remove the corrupt artifacts (the next run recomputes them) and the unreadable checkpoints.")
@pass_env
def verify(env: Env, fix):
    """Check every finished artifact against the checksums recorded when it was committed.

    \b
    One line per artifact: ok; unverified (committed before checksums were recorded); or corrupt, naming the
    file and what differs. Partial artifacts whose checkpoint cannot be loaded are listed too (a run discards
    such a checkpoint and restarts the stage). Exit 1 when something is corrupt and --fix was not given.
    """
    import shutil

    from .checksums import checkpoint_readable, problems
    from .store import Store

    s = Store(env.artifacts)
    counts = {"ok": 0, "unverified": 0, "corrupt": 0, "removed": 0}
    for path in s.list():
        rel = path.relative_to(s.root).as_posix()
        found = problems(path)
        if found is None:
            counts["unverified"] += 1
            click.echo(f"unverified  {rel} (committed before checksums were recorded)")
        elif not found:
            counts["ok"] += 1
            click.echo(f"ok          {rel}")
        else:
            counts["corrupt"] += 1
            for line in found:
                click.echo(f"corrupt     {rel}/{line}")
            if fix:
                shutil.rmtree(path)
                counts["removed"] += 1
                click.echo(f"removed     {rel} (the next run recomputes it)")
    for path in s.partials():
        ckpt = path / "checkpoint" / "state.pt"
        if ckpt.is_file() and not checkpoint_readable(ckpt):
            rel = ckpt.relative_to(s.root).as_posix()
            click.echo(f"unreadable  {rel} (the stage restarts from step 0)")
            if fix:
                ckpt.unlink()
                click.echo(f"removed     {rel}")
    click.echo(f"{counts['ok']} ok, {counts['unverified']} unverified, {counts['corrupt']} corrupt"
               + (f", {counts['removed']} removed" if fix else ""))
    if counts["corrupt"] and not fix:
        click.echo("error: corrupt artifacts: `undo verify --fix` removes them so the next run recomputes them",
                   err=True)
        sys.exit(1)


@cli.command()
@click.option("--preset", default="paper", show_default=True,
              help="A preset or group of reproduce/bench.yaml: paper (0.1b + 0.3b), 0.1b, 0.3b, 2b, tiny (CPU).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True, help="Markdown report to write.")
@click.option("--paths", default="fast,reference", show_default=True, help="Execution paths to compare.")
@click.option("--workloads", default="pretrain,distill,relearn", show_default=True, help="Training loops to time.")
@click.option("--compile", "use_compile", is_flag=True, help="torch.compile the decoder on the fast path.")
@click.option("--loss-memory/--no-loss-memory", default=True, show_default=True,
              help="Also measure the chunked vs naive forward KL's peak memory at V=256000.")
@pass_env
def bench(env: Env, preset, out, paths, workloads, use_compile, loss_memory):
    """Measure tokens/s, MFU and peak memory of the training loops; write a Markdown report."""
    from .bench import main
    from .env import resolve_device

    if use_compile:
        os.environ["UNDO_COMPILE"] = "1"
    _quiet_libraries()
    try:
        main(preset, out, resolve_device(env.device), tuple(paths.split(",")), tuple(workloads.split(",")),
             memory=loss_memory, echo=click.echo)
    except ValueError as err:
        _fail(str(err))


@cli.command("env")
@pass_env
def env_command(env: Env):
    """Print package versions, device and git state."""
    import json

    from .env import environment, resolve_device

    try:
        device = resolve_device(env.device)
    except ValueError as err:
        _fail(str(err))
        return
    click.echo(json.dumps(environment(device), indent=1))


