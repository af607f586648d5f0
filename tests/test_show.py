"""`undo show`: every shipped stage config resolves at every scale, printing what its artifacts' config.yaml will hold
and the graph below it with each instance's status."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from undo.cli import cli
from undo.config import SCALES, config_files, locate
from undo.pipeline import Graph, resolved_config_text
from undo.store import Store

REPO = Path(__file__).resolve().parents[1]


def _setting_dirs(root: Path) -> list[Path]:
    """Directories whose files are configs as they stand: all but the shared ones (a directory inside reproduce/
    with setting subdirectories, e.g. reproduce/synthetic/), whose files are read through each setting."""
    dirs = [root, *(d for d in root.rglob("*") if d.is_dir())]
    return [d for d in dirs if d == root or not any(sub.is_dir() for sub in d.iterdir())]


STAGE_CONFIGS = sorted(p for d in _setting_dirs(REPO / "reproduce") for p in config_files(d)
                       if "stage" in (yaml.safe_load(locate(p).read_text()) or {}))


def test_the_shipped_configs_are_found():
    assert len(STAGE_CONFIGS) > 50 and REPO / "reproduce" / "fig5.yaml" in STAGE_CONFIGS
    shared = REPO / "reproduce" / "synthetic" / "select_maxent.yaml"  # read once per setting, never on its own
    assert shared not in STAGE_CONFIGS
    assert {REPO / "reproduce" / "synthetic" / s / "select_maxent.yaml" for s in ("language", "arithmetic")} <= set(STAGE_CONFIGS)


@pytest.mark.parametrize("scale", SCALES)
def test_every_shipped_config_resolves_through_undo_show(scale, tmp_path):
    runner = CliRunner()
    args = ["--artifacts-dir", str(tmp_path), "show", "--scale", scale, "--no-graph", *map(str, STAGE_CONFIGS)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output[-2000:]
    for path in STAGE_CONFIGS:
        assert f"# {path} at scale {scale}: " in result.output


def test_show_prints_the_config_yaml_text_and_the_graph_with_status(tmp_path):
    config = REPO / "reproduce" / "synthetic" / "language" / "distill_undo.yaml"
    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path), "show", "--scale", "smoke", str(config)])
    assert result.exit_code == 0, result.output
    nodes = Graph(Store(tmp_path), "smoke").resolve(config)
    for node in nodes:  # exactly the text run_node writes as the artifact's config.yaml
        assert resolved_config_text(node).rstrip() in result.output
        assert f"## {node.label}  [missing]" in result.output
    graph = result.output.split(f"## graph below {config}")[1]
    assert "\n  noise/" in graph and "\n    select/" in graph  # upstreams indented below their consumer
    assert "(above)" in graph  # a shared upstream (the teacher) is expanded once


def test_show_refuses_a_bad_config_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: noise\nmodel: nope.yaml\nalpha: 0.5\nbeta: 0.1\n")
    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path), "show", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {bad}: model: upstream config not found: nope.yaml"]
