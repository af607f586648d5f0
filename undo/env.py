"""What an artifact records about the environment that produced it."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

PACKAGES = ("torch", "transformers", "datasets", "accelerate", "bitsandbytes", "peft", "numpy", "tokenizers",
            "safetensors", "click", "PyYAML", "matplotlib")


def package_versions() -> dict[str, str | None]:
    from importlib import metadata  # imported here: it costs a tenth of a second that `undo --help` need not pay

    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(root: Path = Path(".")) -> dict:
    """The commit of the code that runs and whether tracked files differ from it (``git``).

    Where git or the repository is missing (the container has no git, and ``.git`` is not in its build
    context), the commit comes from ``UNDO_GIT_SHA`` and ``UNDO_GIT_DIRTY`` (``true``/``false``): the image
    sets them from its build arguments (``make image``), ``make docker-TARGET`` from the mounted tree.
    ``from`` then names the variable, so a record says whether git itself was asked.
    """
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        sha = head.stdout.strip() if head.returncode == 0 else ""
        if sha:
            dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                        capture_output=True, text=True, timeout=5).stdout.strip())
            return {"sha": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        pass
    sha = os.environ.get("UNDO_GIT_SHA", "").strip()
    if not sha:
        return {"sha": None, "dirty": None}
    dirty = {"true": True, "false": False}.get(os.environ.get("UNDO_GIT_DIRTY", "").strip().lower())
    return {"sha": sha, "dirty": dirty, "from": "UNDO_GIT_SHA"}


def lock_hash(root: Path = Path(".")) -> str | None:
    lock = root / "requirements.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None


_DEVICE = re.compile(r"(auto|cpu|cuda(:\d+)?)")


def check_device(device: str) -> None:
    """ValueError unless ``device`` is spelled as ``--device`` takes it (cpu, cuda, cuda:N or auto); imports nothing."""
    if not _DEVICE.fullmatch(device):
        raise ValueError(f"--device {device}: expected cpu, cuda, cuda:N or auto")


def resolve_device(device: str) -> str:
    """The device to run on: ``auto`` is cuda when available, else cpu. ValueError for a misspelt device or a CUDA
    device this machine lacks, so that no stage runs (and records it) on a device it cannot use."""
    check_device(device)
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            have = f"{count} CUDA device{'s' if count != 1 else ''}" if count else "no CUDA device"
            raise ValueError(f"--device {device}: this machine has {have}; use --device cpu or auto")
    return device


def environment(device: str = "cpu") -> dict:
    import torch
    info = {"python": sys.version.split()[0], "platform": platform.platform(), "packages": package_versions(),
            "device": device, "threads": torch.get_num_threads(), "git": git_state(), "lock_sha256": lock_hash()}
    from .accel import select

    info["accel"] = select(device).describe()  # reference (eager fp32) or the fast GPU path
    from .numerics import describe as numerics

    info["numerics"] = numerics()  # the pinned CPU code path (cross-CPU bit-identity)
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info
