"""Pipeline stages: one module each, registered by the ``stage:`` name used in YAML.

A stage module defines ``Config`` (a frozen dataclass validated by :func:`undo.config.build`),
``CODE_VERSION`` (bumped by hand when its results would change, which re-keys its artifacts)
and ``run(ctx: Context) -> dict`` returning summary metrics. ``run`` writes only into
``ctx.workdir``; the pipeline turns that into a finished artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Context:
    """What a running stage sees."""

    cfg: Any
    name: str
    workdir: Path  # a gathering stage's is the figures directory of its scale
    inputs: dict[str, Any]  # ref -> Artifact; a list of (Artifact, tags) for gathering and choosing stages
    tags: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    scale: str = "paper"

    def input(self, ref) -> Path:
        """Directory of the finished upstream artifact a config field points at."""
        return self.inputs[str(ref)].path

    def log(self, message: str) -> None:
        print(f"[{self.name}] {message}", flush=True)
        with open(self.workdir / "log.txt", "a", encoding="utf-8") as fh:
            fh.write(message + "\n")


MODULES = ("corpus", "tokenizer", "dataset", "questions", "tofu", "qa", "pretrain", "init", "unlearn", "select", "noise",
           "distill", "relearn", "quantize", "figure")  # pipeline order; each module's NAME is its file name


def _registry() -> dict[str, Any]:
    import importlib

    return {name: importlib.import_module(f"{__name__}.{name}") for name in MODULES}


def summary_line(name: str) -> str:
    """The first line of a stage module's docstring, without importing it (``undo --help`` stays fast)."""
    import ast
    import importlib.util

    origin = importlib.util.find_spec(f"{__name__}.{name}").origin
    text = Path(origin).read_text(encoding="utf-8")
    if text.startswith('"""'):  # the docstring's first line, without parsing the whole module (the CLI does this
        first = text[3:].split("\n", 1)[0].split('"""', 1)[0].strip()  # for every stage at each start)
    else:
        first = ""
    if not first:
        doc = ast.get_docstring(ast.parse(text)) or name
        first = doc.strip().splitlines()[0]
    return first.split(": ", 1)[1] if first.startswith("Stage ``") and ": " in first else first


STAGES: dict[str, Any] = {}


def register(module) -> None:
    """Add a stage module defined outside this package (``NAME``, ``CODE_VERSION``, ``Config``, ``run``), e.g. a new
    attack in a user's own code or a test; the kit's own stages are listed in ``MODULES``."""
    for attr in ("NAME", "CODE_VERSION", "Config", "run"):
        if not hasattr(module, attr):
            raise ValueError(f"stage module {getattr(module, '__name__', module)!r} has no {attr}")
    if not STAGES:
        STAGES.update(_registry())
    STAGES[module.NAME] = module


def get_stage(name: str):
    if not STAGES:
        STAGES.update(_registry())
    return STAGES.get(name)


def stage_names() -> list[str]:
    if not STAGES:
        STAGES.update(_registry())
    return list(STAGES)
