"""undo.env: the git commit an artifact records, from git itself or, in the container (no git, no .git),
from UNDO_GIT_SHA / UNDO_GIT_DIRTY."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.stages.helpers import run_smoke
from undo.env import environment, git_state

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def no_git(tmp_path, monkeypatch):
    """A PATH without git and a working directory outside any repository, as in the image."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_without_git_the_build_argument_is_recorded(no_git, monkeypatch):
    monkeypatch.setenv("UNDO_GIT_SHA", f" {SHA}\n")
    monkeypatch.setenv("UNDO_GIT_DIRTY", "false")
    assert git_state() == {"sha": SHA, "dirty": False, "from": "UNDO_GIT_SHA"}
    monkeypatch.setenv("UNDO_GIT_DIRTY", "TRUE")
    assert git_state()["dirty"] is True
    monkeypatch.setenv("UNDO_GIT_DIRTY", "maybe")  # unknown, not guessed
    assert git_state()["dirty"] is None


def test_without_git_or_variable_nothing_is_invented(no_git, monkeypatch):
    monkeypatch.delenv("UNDO_GIT_SHA", raising=False)
    assert git_state() == {"sha": None, "dirty": None}
    monkeypatch.setenv("UNDO_GIT_SHA", "")  # the image's default when built without --build-arg GIT_SHA
    monkeypatch.setenv("UNDO_GIT_DIRTY", "false")
    assert git_state() == {"sha": None, "dirty": None}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_outside_a_repository_falls_back_to_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never find a repository above tmp_path
    monkeypatch.setenv("UNDO_GIT_SHA", SHA)
    monkeypatch.delenv("UNDO_GIT_DIRTY", raising=False)
    assert git_state(tmp_path) == {"sha": SHA, "dirty": None, "from": "UNDO_GIT_SHA"}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_wins_over_the_variable(tmp_path, monkeypatch):
    """On a host with a checkout the commit is git's own, whatever the environment says."""
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("a")
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "c"], check=True)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    monkeypatch.setenv("UNDO_GIT_SHA", SHA)
    assert git_state(tmp_path) == {"sha": head, "dirty": False}
    (tmp_path / "f").write_text("b")
    assert git_state(tmp_path) == {"sha": head, "dirty": True}


def test_environment_records_the_variable(no_git, monkeypatch):
    monkeypatch.setenv("UNDO_GIT_SHA", SHA)
    monkeypatch.setenv("UNDO_GIT_DIRTY", "false")
    assert environment("cpu")["git"] == {"sha": SHA, "dirty": False, "from": "UNDO_GIT_SHA"}


def test_meta_json_of_a_stage_records_the_variable(no_git, monkeypatch):
    """A stage run where git is missing (the image) writes the build argument's commit into its meta.json."""
    monkeypatch.setenv("UNDO_GIT_SHA", SHA)
    monkeypatch.setenv("UNDO_GIT_DIRTY", "false")
    Path("tok.yaml").write_text("stage: tokenizer\nkind: bytes\n")
    run_smoke(no_git, "tok.yaml")
    metas = list((no_git / "artifacts").rglob("meta.json"))
    assert len(metas) == 1
    git = json.loads(metas[0].read_text())["environment"]["git"]
    assert git == {"sha": SHA, "dirty": False, "from": "UNDO_GIT_SHA"}
