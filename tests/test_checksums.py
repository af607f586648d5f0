"""Checksums of finished artifacts: a corrupted file is named, by `undo verify` and when a downstream stage reads it;
`undo verify --fix` removes the artifact so the next run recomputes it; a truncated checkpoint restarts its stage."""

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.stages.helpers import write_tofu_configs
from undo.checksums import MANIFEST, ArtifactCorrupt, problems
from undo.cli import cli

FIGURE_SCRIPT = '''
from undo.paper import plotting


def draw(results, out_base):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [len(results["series"]["attack"]), 1])
    paths = plotting.save(fig, out_base)
    plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": "# attacks\\n"})
'''


def _cli(store: Path, *args):
    return CliRunner().invoke(cli, ["--artifacts-dir", str(store), "--device", "cpu", *args])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny real store: TOFU items, the byte tokenizer, a prompt/answer dataset (tokens.npy), a random tiny model
    (model.safetensors) and a two-step relearning attack on it (results.json); a figure gathers the attack."""
    root = tmp_path_factory.mktemp("store")
    write_tofu_configs(root)
    (root / "relearn.yaml").write_text(
        "stage: relearn\nmodel: model.yaml\ndata: qa_full.yaml\nlrs: [1.0e-3]\nsteps: 2\nbatch_size: 2\n"
        "eval_every: 1\neval: {kind: arithmetic, arithmetic: {n_per_metric: 2, add_sub_max: 5, mul_div_max: 5, "
        "formats: [equation]}}\n")
    (root / "fig_verify_script.py").write_text(FIGURE_SCRIPT)
    (root / "fig.yaml").write_text("stage: figure\nscript: fig_verify_script\noutput: figv\n"
                                   "series: {attack: relearn.yaml}\n")
    store = root / "artifacts"
    result = _cli(store, "run", str(root / "relearn.yaml"), "--scale", "smoke")
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def store(built, tmp_path, monkeypatch):
    """A fresh copy of the built store (each test corrupts its own), the figures written under tmp_path."""
    import shutil

    shutil.copytree(built, tmp_path / "w", symlinks=True)
    monkeypatch.setenv("UNDO_FIGURES", str(tmp_path / "figures"))
    monkeypatch.syspath_prepend(str(tmp_path / "w"))
    sys.modules.pop("fig_verify_script", None)
    return tmp_path / "w" / "artifacts"


def _one(store: Path, stage: str) -> Path:
    (path,) = [p for p in (store / stage).iterdir() if p.is_dir() and p.name != ".partial"]
    return path


def test_a_committed_artifact_lists_every_file_and_verifies(store):
    model = _one(store, "init")
    manifest = json.loads((model / MANIFEST).read_text())
    assert "model/model.safetensors" in manifest["files"] and "metrics.json" in manifest["files"]
    assert "DONE" not in manifest["files"] and MANIFEST not in manifest["files"]
    assert problems(model) == []
    result = _cli(store, "verify")
    assert result.exit_code == 0, result.output
    assert "0 corrupt" in result.output and "ok          init/" in result.output


@pytest.mark.parametrize(("stage", "file", "corrupt", "reader"), [
    ("init", "model/model.safetensors", "truncate", "relearn.yaml"),
    ("qa", "tokens.npy", "truncate", "relearn.yaml"),
    ("relearn", "results.json", "garbage", "fig.yaml"),
])
def test_a_corrupted_file_is_named_by_verify_and_on_read_and_fix_recomputes(store, stage, file, corrupt, reader):
    art = next(p for p in (store / stage).iterdir() if p.is_dir() and p.name != ".partial"
               and (p / file).is_file())
    path = art / file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if corrupt == "truncate" else b"x" * len(data))
    rel = f"{stage}/{art.name}"
    if reader == "relearn.yaml":  # the downstream stage must run again: its own artifact goes
        import shutil
        shutil.rmtree(_one(store, "relearn"))

    checked = _cli(store, "verify")
    assert checked.exit_code == 1
    assert f"corrupt     {rel}/{file}: " in checked.output
    assert "undo verify --fix" in checked.output

    read = _cli(store, "run", str(store.parent / reader), "--scale", "smoke")
    assert read.exit_code == 1
    errors = [line for line in read.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"artifact {rel} is corrupt: {file}: " in errors[0], read.output
    assert "undo verify --fix" in errors[0]

    fixed = _cli(store, "verify", "--fix")
    assert fixed.exit_code == 0 and f"removed     {rel}" in fixed.output
    assert not art.exists()
    again = _cli(store, "run", str(store.parent / reader), "--scale", "smoke")
    assert again.exit_code == 0, again.output
    (redone,) = (store / stage).glob(f"*-{art.name[-12:]}")  # the same key (its name follows the config's folder)
    assert problems(redone) == []


def test_an_artifact_without_checksums_is_unverified_not_broken(store):
    model = _one(store, "init")
    (model / MANIFEST).unlink()
    assert problems(model) is None
    result = _cli(store, "verify")
    assert result.exit_code == 0 and f"unverified  init/{model.name}" in result.output
    assert _cli(store, "run", str(store.parent / "fig.yaml"), "--scale", "smoke").exit_code == 0


def test_a_gathering_stage_hashes_the_json_it_reads_and_checks_every_size(store, monkeypatch):
    from undo import checksums

    hashed = []
    real = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    monkeypatch.setattr(checksums, "_hashed", {})
    relearn = _one(store, "relearn")
    checksums.verify_artifact(relearn, "relearn/x", hash_only=("results.json",))
    assert hashed == ["results.json"]
    (relearn / "log.txt").write_text("")
    with pytest.raises(ArtifactCorrupt, match=r"artifact relearn/x is corrupt: log.txt: 0 bytes"):
        checksums.verify_artifact(relearn, "relearn/x", hash_only=("results.json",))


def test_a_truncated_checkpoint_shows_in_dry_run_and_verify(store):
    relearn_yaml = str(store.parent / "relearn.yaml")
    import shutil
    shutil.rmtree(_one(store, "relearn"))
    dry = _cli(store, "run", relearn_yaml, "--scale", "smoke", "--dry-run")
    (line,) = [line for line in dry.output.splitlines() if "relearn/" in line]
    partial = store / "relearn" / ".partial" / line.split("relearn/")[1].split()[0]
    state = partial / "checkpoint" / "state.pt"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"PK\x03\x04 cut short")
    dry = _cli(store, "run", relearn_yaml, "--scale", "smoke", "--dry-run")
    assert "partial (checkpoint unreadable: restarts)" in dry.output
    checked = _cli(store, "verify")
    assert checked.exit_code == 0 and "unreadable  relearn/.partial/" in checked.output
    fixed = _cli(store, "verify", "--fix")
    assert fixed.exit_code == 0 and not state.exists()
