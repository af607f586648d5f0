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
    workdir: Path
    inputs: dict[str, Any]  # ref -> Artifact; a list of (Artifact, tags) for gathering and choosing stages
    tags: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    scale: str = "paper"
    repo_root: Path = Path(".")

    def input(self, ref) -> Path:
        """Directory of the finished upstream artifact a config field points at."""
        return self.inputs[str(ref)].path

    def log(self, message: str) -> None:
        print(f"[{self.name}] {message}", flush=True)
        with open(self.workdir / "log.txt", "a", encoding="utf-8") as fh:
            fh.write(message + "\n")


def _registry() -> dict[str, Any]:
    from . import corpus, dataset, distill, figure, init, noise, pretrain, relearn, select, tokenizer, unlearn
    return {m.NAME: m for m in (corpus, tokenizer, dataset, pretrain, init, unlearn, select, noise, distill, relearn,
                                figure)}


STAGES: dict[str, Any] = {}


def get_stage(name: str):
    if not STAGES:
        STAGES.update(_registry())
    return STAGES.get(name)


def stage_names() -> list[str]:
    if not STAGES:
        STAGES.update(_registry())
    return list(STAGES)
