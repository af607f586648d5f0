"""Checksums of finished artifacts: written when an artifact is committed, checked when a stage reads it.

Every file of a finished artifact is listed in its ``checksums.json`` (size and sha256) by :meth:`Artifact.commit
<undo.store.Artifact.commit>`. Before a stage runs, the pipeline checks every upstream artifact it reads
(:func:`verify_artifact`): a file that is missing, of another size or with another sha256 stops the run with one line
naming the artifact and the file, and ``undo verify --fix`` removes the broken artifact so the next run recomputes it.
A broken artifact is never removed without being asked: a corrupt file may mean a failing disk, and recomputing a
paper-scale model costs GPU-hours.

Cost: sizes are compared on every read; contents are hashed once per process and file (a cache keyed by path, size
and modification time), so a model read by ten stages of one run is hashed once (sha256 runs at about 1 GB/s: a
2B-parameter fp32 model, 10 GB, takes seconds next to the hours its consumers train). A gathering stage (a figure)
reads only the JSON files of its upstreams; it hashes those and checks the other files' sizes.

Artifacts committed before checksums were recorded have no ``checksums.json``: they are *unverified*, not broken.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

MANIFEST = "checksums.json"
UNLISTED = ("DONE", MANIFEST)  # the marker is written after the manifest; the manifest cannot list itself

_hashed: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, this process's verified files


class ArtifactCorrupt(RuntimeError):
    """A finished artifact's file differs from what was recorded when it was committed."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached_sha256(path: Path, stat: os.stat_result) -> str:
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _hashed:
        _hashed[key] = sha256_file(path)
    return _hashed[key]


def write_manifest(directory: Path) -> dict:
    """List every file under ``directory`` (size and sha256) in its ``checksums.json``; returns the manifest."""
    directory = Path(directory)
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel in UNLISTED:
            continue
        files[rel] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    manifest = {"algorithm": "sha256", "files": files}
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, directory / MANIFEST)
    return manifest


def problems(directory: Path, *, hash_only: Iterable[str] | None = None) -> list[str] | None:
    """What is wrong with a finished artifact's files: ``file: reason`` lines, empty when all match; None when it has
    no manifest (made before checksums were recorded). ``hash_only`` (file names) limits hashing to those files;
    the sizes of all are still compared."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        files = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return [f"{MANIFEST}: unreadable (not the JSON this kit writes)"]
    names = None if hash_only is None else set(hash_only)
    found = []
    for rel, want in files.items():
        path = directory / rel
        try:
            stat = path.stat()
        except FileNotFoundError:
            found.append(f"{rel}: missing")
            continue
        if stat.st_size != want["bytes"]:
            found.append(f"{rel}: {stat.st_size} bytes, {want['bytes']} when committed")
        elif (names is None or path.name in names) and _cached_sha256(path, stat) != want["sha256"]:
            found.append(f"{rel}: sha256 differs from the one recorded when committed")
    return found


def verify_artifact(path: Path, relpath: str, *, hash_only: Iterable[str] | None = None) -> None:
    """Raise :class:`ArtifactCorrupt` naming the artifact and its first broken file, if any (see :func:`problems`)."""
    found = problems(path, hash_only=hash_only)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ArtifactCorrupt(f"artifact {relpath} is corrupt: {found[0]}{more}; run `undo verify --fix` to remove "
                              "it, then rerun to recompute it")


def checkpoint_readable(path: Path) -> bool:
    """Whether a training checkpoint (``torch.save``'s zip format) is whole: its zip directory, written last, is
    there. Reads the file's end only, so a dry run stays fast; a truncated checkpoint fails it."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
