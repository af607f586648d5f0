"""Artifact keys and atomic completion."""

import pytest

from undo.config import build, key_view
from undo.stages import noise as noise_stage
from undo.store import Store, compute_key


def test_key_ignores_dict_order_and_changes_with_upstream():
    a = compute_key("noise", 1, {"alpha": 0.5, "beta": 0.1}, {"model": "k1"})
    b = compute_key("noise", 1, {"beta": 0.1, "alpha": 0.5}, {"model": "k1"})
    assert a == b
    assert compute_key("noise", 1, {"alpha": 0.5, "beta": 0.1}, {"model": "k2"}) != a
    assert compute_key("noise", 2, {"alpha": 0.5, "beta": 0.1}, {"model": "k1"}) != a


def test_key_view_replaces_refs_and_drops_non_result_fields(tmp_path):
    (tmp_path / "m.yaml").write_text("")
    cfg = build(noise_stage.Config, {"model": "m.yaml", "alpha": 0.3}, file=tmp_path / "n.yaml")
    view = key_view(cfg, {str(tmp_path / "m.yaml"): "UPKEY"})
    assert view["model"] == {"upstream": "UPKEY"} and view["alpha"] == 0.3
    from undo.train import OptimConfig
    v1 = key_view(OptimConfig(lr=1e-3, checkpoint_every=10), {})
    v2 = key_view(OptimConfig(lr=1e-3, checkpoint_every=99), {})
    assert v1 == v2 and "checkpoint_every" not in v1


def test_partial_is_never_done_and_commit_is_atomic(tmp_path):
    art = Store(tmp_path).artifact("pretrain", "m", "ab" * 32)
    work = art.begin()
    (work / "checkpoint").mkdir()
    (work / "metrics.json").write_text("{}")
    assert not art.done and Store(tmp_path).list() == []
    art.commit()
    assert art.done and not art.partial.exists() and not (art.path / "checkpoint").exists()
    assert Store(tmp_path).list() == [art.path]


def test_lock_refuses_a_second_worker(tmp_path):
    art = Store(tmp_path).artifact("pretrain", "m", "cd" * 32)
    first = art.lock()
    with pytest.raises(RuntimeError, match="another process"):
        art.lock()
    first.close()


def test_lock_can_wait_for_the_other_process_and_names_it(tmp_path):
    """Two runs sharing a stage: the second waits (told once who holds the lock), and gets the lock when it is let go."""
    import os
    import threading

    art = Store(tmp_path).artifact("pretrain", "m", "ef" * 32)
    first = art.lock()
    holders = []
    release = threading.Timer(0.3, first.close)
    release.start()
    second = art.lock(wait=True, on_wait=holders.append)
    release.join()
    assert holders == [os.getpid()]  # the holder's pid, read from the lock file
    with pytest.raises(RuntimeError, match="another process"):
        art.lock()
    second.close()
