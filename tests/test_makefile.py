"""The Makefile's compute targets, dry-run (`make -n`, nothing executed): every figure config has a target,
the section targets and `make all` cover them all, and stages run in parallel only below paper scale."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURE_CONFIGS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "reproduce").glob("fig*.yaml"))


def dry_run(*args: str) -> list[str]:
    # a venv path that does not exist: make only prints its set-up recipe, and runs nothing
    out = subprocess.run(["make", "-n", *args, "VENV=/nonexistent-venv"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [line for line in out.splitlines() if "/undo " in line]


def test_every_figure_config_has_its_own_target():
    assert len(FIGURE_CONFIGS) >= 8
    for config in FIGURE_CONFIGS:
        target = Path(config).stem
        (line,) = dry_run(target, "SCALE=mini")
        assert line.split(" run ", 1)[1].split()[-1] == config, line


def test_all_runs_every_figure_in_one_graph_then_the_report():
    lines = dry_run("all", "SCALE=mini")
    assert len(lines) == 2 and " run " in lines[0] and lines[1].endswith("report --scale mini")
    assert sorted(re.findall(r"reproduce/fig\d+\.yaml", lines[0])) == FIGURE_CONFIGS


def test_sections_partition_the_figures():
    found = []
    for section in ("sec3", "sec4", "sec5", "sec6", "appf"):
        (line,) = dry_run(section, "SCALE=mini")
        found += re.findall(r"reproduce/fig\d+\.yaml", line)
    assert sorted(found) == FIGURE_CONFIGS


@pytest.mark.parametrize(("scale", "jobs"), [("paper", 1), ("mini", len(os.sched_getaffinity(0)))])
def test_jobs_default_to_one_per_core_below_paper_scale(scale, jobs):
    (line,) = dry_run("fig5", f"SCALE={scale}")
    assert f"--scale {scale} --jobs {jobs} " in line
    (line,) = dry_run("fig5", f"SCALE={scale}", "JOBS=3")
    assert "--jobs 3 " in line
