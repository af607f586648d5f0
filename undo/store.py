"""Content-addressed artifact store.

Each stage instance writes into ``<root>/<stage>/<name>-<key12>/``, where the key is a sha256
over the results-relevant part of its resolved config, the keys of its upstream artifacts and the
stage's ``CODE_VERSION``. Work happens in ``<root>/<stage>/.partial/<name>-<key12>/`` (where
checkpoints live, so an interrupted stage resumes) and the directory is renamed into place only
after its ``checksums.json`` (size and sha256 of every file, :mod:`undo.checksums`) and then a ``DONE``
marker are written: a complete stage is never recomputed, a partial one is never taken as complete.

Usage::

    store = Store(Path("artifacts"))
    art = store.artifact("pretrain", "arith-reference", key)
    if not art.done: ...
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .checksums import write_manifest

DONE = "DONE"


def compute_key(stage: str, code_version: int, config_view: dict, upstream_keys: dict[str, str]) -> str:
    """sha256 over canonical JSON (sorted keys, fixed float formatting already applied by the caller)."""
    payload = {"stage": stage, "code_version": code_version, "config": config_view, "upstream": upstream_keys}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """Where one stage instance lives in the store."""

    root: Path
    stage: str
    name: str
    key: str

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.key[:12]}"

    @property
    def path(self) -> Path:
        return self.root / self.stage / self.dirname

    @property
    def partial(self) -> Path:
        return self.root / self.stage / ".partial" / self.dirname

    @property
    def done(self) -> bool:
        return (self.path / DONE).is_file()

    @property
    def relpath(self) -> str:
        return f"{self.stage}/{self.dirname}"

    def begin(self) -> Path:
        """Create (or reopen, to resume) the partial directory and return it."""
        self.partial.mkdir(parents=True, exist_ok=True)
        return self.partial

    def lock(self, wait: bool = False, on_wait: Callable[[int | None], None] | None = None):
        """An exclusive lock so two processes never work on the same stage at once.

        Without ``wait`` a lock held elsewhere is an error. With ``wait`` the caller polls (0.2 s, doubling up to
        5 s) until the holder lets go, calling ``on_wait(pid of the holder)`` once first: two runs sharing upstream
        stages wait for each other instead of failing. The operating system releases the lock of a process that
        dies, so a waiter takes over a stage whose computing process was killed (and resumes its partial)."""
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.partial.parent / f"{self.dirname}.lock", "a+")  # noqa: SIM115 - held until commit
        delay = 0.2
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    handle.close()
                    raise RuntimeError(f"{self.relpath} is being computed by another process") from None
                if on_wait is not None:
                    on_wait(_holder(handle))
                    on_wait = None
                time.sleep(delay)
                delay = min(5.0, delay * 2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")  # who computes it, for a process that waits
        handle.flush()
        return handle

    def commit(self) -> None:
        """Record the files' checksums, mark complete and move into place atomically; checkpoints are dropped
        first."""
        shutil.rmtree(self.partial / "checkpoint", ignore_errors=True)
        write_manifest(self.partial)
        (self.partial / DONE).write_text("ok\n")
        if self.path.exists():  # a stale incomplete directory (never produced by this code) is replaced
            shutil.rmtree(self.path)
        os.replace(self.partial, self.path)

    def read_json(self, name: str):
        return json.loads((self.path / name).read_text())


def _holder(handle) -> int | None:
    """The pid the process holding a stage's lock wrote into the lock file (None while it has not yet)."""
    handle.seek(0)
    text = handle.read().strip()
    return int(text) if text.isdigit() else None


def figures_dir(scale: str) -> Path:
    """Where figures of a scale are written and read: ``$UNDO_FIGURES/<scale>`` (default ``./figures/<scale>``)."""
    return Path(os.environ.get("UNDO_FIGURES", "figures")) / scale


class StoreError(OSError):
    """The artifact root cannot be used (not a directory, not writable): one line naming it."""


class Store:
    """The artifact root (``UNDO_ARTIFACTS`` or ``./artifacts``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def check_writable(self) -> None:
        """StoreError unless the root is (or can be made) a directory this process can write in: checked before any
        stage runs, by writing and removing a file (permission bits say nothing to root, a read-only mount does)."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: the artifact store is a file, not a directory (choose another with "
                             "--artifacts-dir)")
        probe = self.root / f".write-test-{os.getpid()}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise StoreError(f"{self.root}: the artifact store is not writable ({err.strerror or err}; choose "
                             "another with --artifacts-dir)") from None

    def artifact(self, stage: str, name: str, key: str) -> Artifact:
        return Artifact(root=self.root, stage=stage, name=name, key=key)

    def find(self, stage: str, key: str) -> str | None:
        """The name of a finished (else partial) artifact of ``stage`` with this key, if any."""
        suffix = f"-{key[:12]}"
        for parent in (self.root / stage, self.root / stage / ".partial"):
            if parent.is_dir():
                for path in sorted(parent.glob(f"*{suffix}")):
                    if path.is_dir() and (parent.name == ".partial" or (path / DONE).is_file()):
                        return path.name[: -len(suffix)]
        return None

    def list(self) -> list[Path]:
        """Completed artifacts, sorted."""
        return sorted(p.parent for p in self.root.glob(f"*/*/{DONE}"))

    def partials(self) -> list[Path]:
        return sorted(p for p in self.root.glob("*/.partial/*") if p.is_dir())


def write_json_atomic(path: Path, data) -> None:
    """Write JSON through a temporary file so a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
