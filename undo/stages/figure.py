"""Stage ``figure``: gather stored results into one JSON and draw a paper figure from it.

This stage is never cached in the artifact store: it reads the finished artifacts of every swept
instance of its upstreams, writes ``figures/<scale>/<output>.json`` (the only file the plotting
code reads) and calls the figure's module (``script: undo.paper.figures.fig5``, imported by name:
``draw(results, out_base)``), skipping the drawing when the JSON is unchanged and ``<output>.stamp`` (written
after every output) holds the digests of that JSON and of outputs that are all still there as drawn.

Metric directions are read from the gathered results (``higher_is_better``, written by every stage that
evaluates, from the evaluation's registration), never from the figure config: per panel they give
``attacker_best`` (``max`` for accuracies, ``min`` for cross-entropies), and per series setting (the part of a
series name before its first ``/``) they land in ``options.settings.<setting>.higher_is_better``.

Two ways to name the upstreams, usable together:

- ``panels`` (Figure 5): relearning runs in the roles unlearn-only / UNDO / data filtering, gathered
  into ``results["panels"]`` with their relearning curves.
- ``series`` (any stage, e.g. Figure 3's unlearning sweeps): a mapping name -> config file; every
  instance lands in ``results["series"][name]`` with its tags (lr, alpha, seed...), its
  ``metrics.json`` summary, its ``metrics.jsonl`` history and, for relearning runs, its ``results.json``
  (curves per learning rate, Figures 4 and 10). ``options`` is passed through to the
  script as ``results["options"]`` (labels), with the directions added, so the script needs nothing else.
"""

from __future__ import annotations

import copy
import importlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..checksums import sha256_file
from ..config import Ref, option
from ..store import Artifact, write_json_atomic
from . import Context

NAME = "figure"
CODE_VERSION = 1
GATHER = True  # receives every instance of each upstream, not one


@dataclass(frozen=True, kw_only=True)
class Panel:
    setting: str = option(doc="panel name, e.g. arithmetic")
    measure: str = option("forget", "evaluation metric the attacker tries to raise (or lower)")
    measure_label: str = option("forget performance", "axis label")
    robustness_at: Literal["final", "mean"] = option("final", "envelope value at the last step, or its mean")
    unlearn_only: Ref = option(doc="relearn config attacking the unlearned model")
    data_filtering: Ref = option(doc="relearn config attacking the data-filtering (oracle) model")
    undo: Ref = option(doc="relearn config attacking the UNDO students")


@dataclass(frozen=True, kw_only=True)
class Config:
    script: str = option(doc="figure module, importable by name (e.g. undo.paper.figures.fig5)")
    output: str = option(doc="output base name in the figures directory (undo.store.figures_dir)")
    panels: tuple[Panel, ...] = option((), "Figure 5 style: one entry per setting")
    series: dict[str, Ref] = option(default_factory=dict, doc="name -> config whose instances are gathered as is")
    options: dict[str, Any] = option(default_factory=dict, doc="passed to the figure script as results['options']")

    def validate(self) -> None:
        if not self.panels and not self.series:
            raise ValueError("series: a figure needs `panels` or `series` (name -> config file)")


def gather(ctx: Context) -> dict:
    """The results JSON: ``panels`` (Figure 5 schema, unchanged) and, when configured, ``series``/``options``."""
    cfg: Config = ctx.cfg
    results = {"figure": cfg.output, "scale": ctx.scale}
    if cfg.panels:
        results["panels"] = gather_panels(ctx)
    if cfg.series:
        results["series"] = {name: [instance_record(art, tags) for art, tags in ctx.inputs[str(ref)]]
                             for name, ref in cfg.series.items()}
        results["options"] = with_directions(cfg.options, results["series"])
    return results


def record_direction(record: dict) -> bool | None:
    """``higher_is_better`` of a gathered instance: its relearning results', else its summary's (None if neither
    evaluates, e.g. a distillation without a stop rule)."""
    for source in (record.get("results") or {}, record.get("summary") or {}):
        if source.get("higher_is_better") is not None:
            return bool(source["higher_is_better"])
    return None


def with_directions(options: dict, series: dict[str, list[dict]]) -> dict:
    """``options`` with ``settings.<setting>.higher_is_better`` from the gathered results (one per setting)."""
    found: dict[str, set[bool]] = {}
    for name, records in series.items():
        setting = name.split("/")[0]
        for record in records:
            if (direction := record_direction(record)) is not None:
                found.setdefault(setting, set()).add(direction)
    out = copy.deepcopy(options)
    for setting, directions in found.items():
        if len(directions) > 1:
            raise ValueError(f"series: {setting}: the gathered results disagree on higher_is_better; one setting, "
                             "one kind of performance measure")
        out.setdefault("settings", {}).setdefault(setting, {})["higher_is_better"] = directions.pop()
    return out


def instance_record(art: Artifact, tags: dict) -> dict:
    """One gathered instance: where it lives, its sweep tags, summary metrics and metric history."""
    history = []
    if (art.path / "metrics.jsonl").is_file():
        with open(art.path / "metrics.jsonl", encoding="utf-8") as fh:
            history = [json.loads(line) for line in fh if line.strip()]
    record = {"artifact": art.relpath, "tags": dict(tags), "summary": art.read_json("metrics.json"), "history": history}
    if (art.path / "results.json").is_file():  # relearning attacks: curves per learning rate
        record["results"] = art.read_json("results.json")
    return record


def gather_panels(ctx: Context) -> dict:
    """Per panel, every relearning run with its role, tags and curves (Figure 5)."""
    cfg: Config = ctx.cfg
    panels = {}
    for panel in cfg.panels:
        runs, reference_steps, directions = [], {}, set()
        for role in ("unlearn_only", "undo", "data_filtering"):
            for art, tags in ctx.inputs[str(getattr(panel, role))]:
                res = art.read_json("results.json")
                directions.add(bool(res["higher_is_better"]))
                curves = {lr: {"step": c["step"], panel.measure: c[panel.measure],
                               **{k: v for k, v in c.items() if k not in ("step", panel.measure)}}
                          for lr, c in res["curves"].items()}
                steps = res.get("model_steps")
                if role == "data_filtering" and steps is not None:
                    reference_steps[tags.get("seed")] = steps
                stop = res.get("model_stop_reached")  # a distilled student: did it meet its stop rule?
                runs.append({"role": role, "alpha": tags.get("alpha"), "beta": tags.get("beta"), "seed": tags.get("seed"),
                             "compute_steps": steps if role != "unlearn_only" else None,
                             "capped": (stop is False) if role == "undo" and stop is not None else None,
                             "extra_lrs": res.get("extra_lrs"), "bracketed": res.get("bracketed"),
                             "artifact": art.relpath, "curves": curves})
        for run in runs:  # S_DataFiltering of the run's own pipeline seed (Figure 5's compute axis)
            run["reference_steps"] = reference_steps.get(run["seed"])
        if len(directions) != 1:
            raise ValueError(f"panels: {panel.setting}: the attacked models' results disagree on higher_is_better")
        panels[panel.setting] = {"measure": panel.measure, "measure_label": panel.measure_label,
                                 "attacker_best": "max" if directions.pop() else "min",
                                 "robustness_at": panel.robustness_at,
                                 "reference_steps": max(reference_steps.values()) if reference_steps else None,
                                 "runs": runs}
    return panels


def load_script(name: str):
    """The figure module ``name`` (a dotted module path, e.g. ``undo.paper.figures.fig5``)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise ValueError(f"script: no figure module {name!r} ({err})") from None


def draw(script: str, results_path: Path) -> list[Path]:
    """Redraw a figure from its stored results JSON (no training)."""
    results = json.loads(results_path.read_text())
    return load_script(script).draw(results, results_path.with_suffix(""))


STAMP = "stamp"  # ``<output>.stamp``: the digests of the JSON and of every output drawn from it, written last


def redraw(script: str, results_path: Path) -> list[Path]:
    """:func:`draw`, then the stamp that vouches for the outputs (removed first, so an interrupted drawing shows)."""
    stamp_path = results_path.with_suffix(f".{STAMP}")
    stamp_path.unlink(missing_ok=True)
    written = draw(script, results_path)
    write_json_atomic(stamp_path, stamp_of(results_path, written))
    return written


def stamp_of(results_path: Path, outputs: list[Path]) -> dict:
    return {"json_sha256": sha256_file(results_path),
            "outputs": {p.name: sha256_file(p) for p in sorted(outputs, key=lambda p: p.name)}}


def drawn_from(results_path: Path, stamp_path: Path) -> list[Path] | None:
    """The outputs drawn from the JSON as it is now, when its stamp vouches for them all; None when they need
    redrawing (no stamp, a JSON or output changed or missing since, e.g. a run killed between the two)."""
    try:
        stamp = json.loads(stamp_path.read_text())
        outputs = [results_path.parent / name for name in stamp["outputs"]]
        if stamp == stamp_of(results_path, outputs):
            return outputs
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def remove_leftovers(out_dir: Path, output: str) -> None:
    """Temporary files of an interrupted write of this figure (``.fig5.png.XXXX.png``, ``.fig5.json.tmp``)."""
    for path in out_dir.glob(f".{output}.*"):
        if path.is_file():
            path.unlink(missing_ok=True)


def run(ctx: Context) -> dict:
    """Gather, then write the JSON and draw from it, unless the stamp says the outputs were drawn from this very
    JSON. The stamp is removed before and written after everything else, so a run killed in between redraws."""
    cfg: Config = ctx.cfg
    out_dir = ctx.workdir  # the figures directory of the scale (undo.store.figures_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out_dir, cfg.output)
    results_path = out_dir / f"{cfg.output}.json"
    stamp_path = out_dir / f"{cfg.output}.{STAMP}"
    results = gather(ctx)
    old = json.loads(results_path.read_text()) if results_path.is_file() else None
    unchanged = isinstance(old, dict) and {k: v for k, v in old.items() if k != "created"} == results
    if unchanged and (outputs := drawn_from(results_path, stamp_path)) is not None:
        return {"outputs": [str(p) for p in outputs], "redrawn": False}
    stamp_path.unlink(missing_ok=True)
    if not unchanged:  # the same results keep their creation time (the Markdown tables print it)
        write_json_atomic(results_path, {**results, "created": datetime.now(UTC).isoformat(timespec="seconds")})
    written = redraw(cfg.script, results_path)
    print(f"[{ctx.name}] wrote {', '.join(str(p) for p in written)}", flush=True)
    return {"outputs": [str(p) for p in written], "redrawn": True}
