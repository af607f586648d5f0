"""Shared test setup: offline hub, quiet progress bars, deterministic tiny models."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("UNDO_PROGRESS", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

import undo  # noqa: E402, F401  (pins the CPU code path before torch runs: undo/numerics.py)

REPO = Path(__file__).resolve().parents[1]
# Test this checkout's package even when the virtualenv's editable install points at another one
# (a git worktree sharing the main checkout's .venv).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def saved_figures(monkeypatch):
    """The matplotlib figures handed to ``undo.paper.plotting.save`` during the test, in order (still saved)."""
    from undo.paper import plotting

    figures, save = [], plotting.save

    def keep(fig, out_base, *args, **kwargs):
        figures.append(fig)
        return save(fig, out_base, *args, **kwargs)

    monkeypatch.setattr(plotting, "save", keep)
    return figures


@pytest.fixture
def tiny_model():
    from undo.models import ModelConfig, build_model

    cfg = ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=64,
                      sliding_window=64)
    return build_model(cfg, vocab_size=300, seed=0)


@pytest.fixture
def byte_tok():
    from undo.tokenizer import byte_tokenizer

    return byte_tokenizer()


# A stand-in for the konlpy 0.6.0 wheel: the same layout (konlpy/data/corpus/{kolaw,kobill}/*.txt) holding
# generated Hangul sentences (no third-party text), so corpus builds run offline from a primed cache.
_SYLLABLES = "가나다라마바사아자차카타파하고노도로모보소오조호구누두루무부수우주후기니디리미비시이지치"


def korean_text(n_sentences: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    lines = []
    for _ in range(n_sentences):
        words = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(4, 9))]
        lines.append(" ".join(words) + "다.")
    return "\n".join(lines) + "\n"


def write_fake_konlpy_wheel(cache_dir, n_files: int = 6, sentences: int = 60) -> str:
    """Write ``<cache_dir>/pypi/konlpy-0.6.0-py2.py3-none-any.whl``; returns its sha256."""
    import hashlib
    import zipfile

    path = Path(cache_dir) / "pypi" / "konlpy-0.6.0-py2.py3-none-any.whl"
    path.parent.mkdir(parents=True, exist_ok=True)

    def member(name: str) -> zipfile.ZipInfo:  # a fixed timestamp: the same bytes (and sha256) on every run
        return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member("konlpy/__init__.py"), "")
        zf.writestr(member("konlpy/data/corpus/kolaw/constitution.txt"), korean_text(sentences, 0))
        for i in range(1, n_files):
            zf.writestr(member(f"konlpy/data/corpus/kobill/18098{i:02d}.txt"), korean_text(sentences, i))
        zf.writestr(member("konlpy-0.6.0.dist-info/METADATA"), "Name: konlpy\nVersion: 0.6.0\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_konlpy(tmp_path, monkeypatch):
    """UNDO_CACHE primed with a fake konlpy wheel; yields (cache_dir, sha256)."""
    cache = tmp_path / "cache"
    sha = write_fake_konlpy_wheel(cache)
    monkeypatch.setenv("UNDO_CACHE", str(cache))
    return cache, sha


@pytest.fixture
def smoke_workspace(tmp_path, monkeypatch):
    """A scratch copy of reproduce/ and figures/*.py as the working directory, for end-to-end CLI runs.

    No network in tests: the Korean corpus comes from a fake konlpy wheel (same layout, generated Hangul)
    placed in the cache, and the copied config pins that wheel's sha256 instead of the real one's.
    """
    import shutil

    from undo.data.archives import KONLPY_WHEEL

    shutil.copytree(REPO / "reproduce", tmp_path / "reproduce")
    (tmp_path / "figures").mkdir()
    for script in (REPO / "figures").glob("*.py"):
        shutil.copy(script, tmp_path / "figures" / script.name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNDO_CACHE", str(tmp_path / "cache"))
    fake_sha = write_fake_konlpy_wheel(tmp_path / "cache", n_files=8, sentences=80)
    korean = tmp_path / "reproduce" / "synthetic" / "language" / "corpus_korean.yaml"
    text = korean.read_text()
    assert KONLPY_WHEEL["sha256"] in text
    korean.write_text(text.replace(KONLPY_WHEEL["sha256"], fake_sha))
    return tmp_path
