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


def docker_dry_run(target: str, cwd: Path, home: Path, *args: str) -> str:
    """`make -n TARGET` of the container targets, with HOME (the default cache locations) at ``home``."""
    # inside `make test` the parent make's MAKEFLAGS/MAKELEVEL would make this one print "Entering directory" lines
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HOME", "UNDO_CACHE", "HF_CACHE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}}
    env.update(HOME=str(home), GIT_CEILING_DIRECTORIES=str(cwd.parent))
    return subprocess.run(["make", "-n", "--no-print-directory", "-f", str(ROOT / "Makefile"), target, *args],
                          cwd=cwd, env=env,
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def test_docker_target_creates_the_host_caches_as_the_caller_then_mounts_them(tmp_path):
    """make docker-fig5: the host's cache directories exist (made by the caller, not by Docker as root) before
    `docker run` mounts them as the image's HF_HOME and UNDO_CACHE; outputs go to the mounted tree."""
    home = tmp_path / "home"
    line = docker_dry_run("docker-fig5", ROOT, home, "SCALE=mini")
    mkdir, _, run = line.partition(" && ")
    hf, undo = home / ".cache" / "huggingface", home / ".cache" / "undo"
    assert mkdir == f'mkdir -p "{hf}" "{undo}"', line
    assert run.startswith("docker run --rm ") and run.endswith("undo-kit make fig5 SCALE=mini"), run
    for part in (f'-v "{hf}":/cache/hf', f'-v "{undo}":/cache/undo', f'-v "{ROOT}":/repo', "--user $(id -u):$(id -g)",
                 "-e UNDO_ARTIFACTS=/repo/artifacts", "-e UNDO_FIGURES=/repo/figures", "-e HF_TOKEN "):
        assert part in run, f"docker-fig5 lacks {part}: {run}"
    # HF_HOME (the host's hub cache, where the hub client keeps it) and UNDO_CACHE are honoured
    line = docker_dry_run("docker-fig5", ROOT, home, "HF_HOME=/data/hf", "UNDO_CACHE=/data/undo")
    assert line.startswith('mkdir -p "/data/hf" "/data/undo" && ')
    assert '-v "/data/hf":/cache/hf' in line and '-v "/data/undo":/cache/undo' in line


@pytest.mark.skipif(subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", "HEAD"],
                                   capture_output=True).returncode != 0, reason="needs a git checkout")
def test_container_targets_pass_the_trees_commit(tmp_path):
    """make image bakes the commit into the image (build args -> OCI labels, UNDO_GIT_SHA); make docker-TARGET
    mounts the tree over the image's copy, so it passes the tree's own commit instead."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    image = docker_dry_run("image", ROOT, tmp_path)
    assert image.startswith("docker build -t undo-kit ") and image.endswith(" ."), image
    args = dict(re.findall(r"--build-arg (\w+)=(\S*)", image))
    assert args["GIT_SHA"] == head and args["GIT_DIRTY"] in {"true", "false"}
    assert args["VERSION"].startswith(head[:7]) or re.match(r"v?\d", args["VERSION"]), args
    assert "@" not in args["SOURCE"], "credentials of the remote's URL must not reach the image's labels"
    dockerfile_args = set(re.findall(r"^ARG (\w+)", (ROOT / "Dockerfile").read_text(), re.M))
    assert {"GIT_SHA", "GIT_DIRTY", "VERSION", "SOURCE", "LOCK_SHA256"} <= set(args) <= dockerfile_args
    run = docker_dry_run("docker-fig5", ROOT, tmp_path)
    assert f"-e UNDO_GIT_SHA={head} " in run and re.search(r"-e UNDO_GIT_DIRTY=(true|false) ", run), run


def test_container_targets_outside_a_checkout_record_no_commit(tmp_path):
    """A tree without git (an unpacked tarball): the commit is left empty (unknown), never made up."""
    tree = tmp_path / "tree"
    tree.mkdir()
    image = docker_dry_run("image", tree, tmp_path)
    assert "--build-arg GIT_SHA= --build-arg GIT_DIRTY= --build-arg VERSION= --build-arg SOURCE= " in image, image
    run = docker_dry_run("docker-fig5", tree, tmp_path)
    assert "-e UNDO_GIT_SHA= -e UNDO_GIT_DIRTY= " in run, run
