"""The shared training loop: schedule, stop rule, and exact resume from a checkpoint."""

import numpy as np
import pytest
import torch

import undo.train as train_mod
from undo.losses import cross_entropy
from undo.stages.common import StopRule
from undo.train import Batches, OptimConfig, lr_lambda, train


def test_schedule_warmup_then_cosine_to_min():
    cfg = OptimConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)
    f = lr_lambda(cfg, 110)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(110) == pytest.approx(0.1)
    assert f(60) == pytest.approx(0.55)
    const = lr_lambda(OptimConfig(lr=1.0, min_lr=1.0, warmup_steps=2), 50)
    assert const(30) == 1.0


def test_batches_are_a_function_of_the_index():
    tokens = np.arange(40).reshape(10, 4)
    a, b = Batches(tokens, 3, seed=1), Batches(tokens, 3, seed=1)
    assert torch.equal(a(5), b(5)) and torch.equal(a(2), b(2))
    seen = torch.cat([a(i) for i in range(0, 10)])[:30]
    assert len({tuple(r.tolist()) for r in seen[:9]}) == 9  # no repeats inside an epoch


def test_batches_with_a_loss_mask_carry_the_same_rows_masks():
    tokens = np.arange(40, dtype=np.int32).reshape(10, 4)
    mask = (tokens % 3 == 0).astype(np.uint8)
    batch = Batches(tokens, 3, seed=1, loss_mask=mask)(2)
    assert torch.equal(batch.loss_mask, torch.from_numpy(mask[batch.input_ids.numpy()[:, 0] // 4].astype(np.int64)))
    assert torch.equal(batch.input_ids, Batches(tokens, 3, seed=1)(2))
    padded = np.zeros((4, 10), dtype=np.int32)
    padded[:, :3] = 7
    answers = np.zeros((4, 10), dtype=np.uint8)
    answers[0, 1:3], answers[2, 1:5] = 1, 1        # the longest scored row ends at column 4: the rest is padding
    cut = Batches(padded, 4, seed=0, loss_mask=answers)(0)
    assert cut.input_ids.shape == (4, 5) and cut.loss_mask.sum() == 6
    with pytest.raises(ValueError, match="loss mask of shape"):
        Batches(tokens, 3, seed=1, loss_mask=mask[:, :2])


def test_stop_rule():
    rule = StopRule(tolerance=0.05, mode="absolute")
    assert rule.reached(0.76, 0.8) and not rule.reached(0.74, 0.8)
    ce = StopRule(tolerance=0.05, mode="relative", higher_is_better=False)
    assert ce.reached(4.2, 4.0) and not ce.reached(4.3, 4.0)


def _run(model, tokens, workdir, **kw):
    cfg = OptimConfig(lr=3e-3, min_lr=3e-4, warmup_steps=2, batch_size=4, max_steps=12, checkpoint_every=4)

    def loss_fn(batch):
        return cross_entropy(model(input_ids=batch).logits, batch), {}

    evals = iter(range(1000))
    return train(model, loss_fn, Batches(tokens, 4, 0), cfg, total_steps=12, seed=0, workdir=workdir,
                 eval_fn=lambda step: {"marker": float(next(evals))}, eval_every=4, **kw)


def test_resume_gives_identical_weights_and_history(tmp_path, tiny_model, monkeypatch):
    import copy
    tokens = np.random.default_rng(0).integers(3, 300, size=(64, 16)).astype(np.int32)
    straight_model = copy.deepcopy(tiny_model)
    straight = _run(straight_model, tokens, tmp_path / "a")

    real_save = train_mod._save_checkpoint
    calls = {"n": 0}

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:  # killed right after the step-8 checkpoint
            raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _run(copy.deepcopy(tiny_model), tokens, tmp_path / "b")
    monkeypatch.setattr(train_mod, "_save_checkpoint", real_save)
    messages = []
    monkeypatch.setattr(train_mod, "log", messages.append)
    resumed_model = copy.deepcopy(tiny_model)  # a new process starts from the initial weights
    resumed = _run(resumed_model, tokens, tmp_path / "b")
    assert any("resuming from step 8" in m for m in messages)
    assert resumed.steps == straight.steps == 12

    def drop_marker(history):  # the eval marker counts calls, which differ by design
        return [{k: v for k, v in r.items() if k != "eval/marker"} for r in history]

    assert drop_marker(resumed.history) == drop_marker(straight.history)
    for (name, a), (_, b) in zip(straight_model.state_dict().items(), resumed_model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_step_fn_sees_the_steps_micro_batches_and_replaces_the_backward(tiny_model):
    """A step_fn doing plain accumulation gives the default loop's weights and history."""
    import copy
    tokens = np.random.default_rng(1).integers(3, 300, size=(32, 12)).astype(np.int32)
    cfg = OptimConfig(lr=1e-3, batch_size=2, grad_accum=3, max_steps=2)
    default_model, custom_model = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    seen = []

    def step_fn(micro_batches):
        seen.append(len(micro_batches))
        total = 0.0
        for batch in micro_batches:
            loss = cross_entropy(custom_model(input_ids=batch).logits, batch)
            (loss / len(micro_batches)).backward()
            total += loss.item() / len(micro_batches)
        return total, {}

    def run(model, **kw):
        return train(model, lambda b: (cross_entropy(model(input_ids=b).logits, b), {}), Batches(tokens, 2, 0), cfg,
                     total_steps=2, seed=0, workdir=None, log_every=1, **kw)

    plain, custom = run(default_model), run(custom_model, step_fn=step_fn)
    assert seen == [3, 3]
    assert [r["train/loss"] for r in plain.history] == pytest.approx([r["train/loss"] for r in custom.history])
    for (name, a), b in zip(default_model.state_dict().items(), custom_model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_an_unreadable_checkpoint_is_reported_discarded_and_the_run_restarts(tmp_path, tiny_model, monkeypatch):
    import copy

    from undo.checksums import checkpoint_readable
    tokens = np.random.default_rng(0).integers(3, 300, size=(64, 16)).astype(np.int32)
    straight_model = copy.deepcopy(tiny_model)
    straight = _run(straight_model, tokens, tmp_path / "a")
    state = tmp_path / "b" / "checkpoint" / "state.pt"
    train_mod._save_checkpoint(state.parent, copy.deepcopy(tiny_model), torch.optim.SGD(tiny_model.parameters(), 0.1),
                               torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(tiny_model.parameters(), 0.1),
                                                                 lambda s: 1.0), 8, 0, [], {})
    assert checkpoint_readable(state)
    state.write_bytes(state.read_bytes()[:1000])  # a write cut short
    assert not checkpoint_readable(state)
    messages = []
    monkeypatch.setattr(train_mod, "log", messages.append)
    restarted_model = copy.deepcopy(tiny_model)
    restarted = _run(restarted_model, tokens, tmp_path / "b")
    warnings = [m for m in messages if "unreadable" in m]
    assert len(warnings) == 1 and str(state) in warnings[0] and "restarting from step 0" in warnings[0]
    assert restarted.steps == straight.steps == 12 and not any("resuming" in m for m in messages)
    for (name, a), (_, b) in zip(straight_model.state_dict().items(), restarted_model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_a_non_finite_loss_raises_one_error_naming_the_run_and_the_step(tiny_model):
    from undo.train import TrainingDiverged

    tokens = np.random.default_rng(0).integers(3, 300, size=(16, 8)).astype(np.int32)
    calls = {"n": 0}

    def loss_fn(batch):  # finite for two steps, then infinite (as a too-high learning rate makes it)
        calls["n"] += 1
        loss = cross_entropy(tiny_model(batch).logits, batch)
        return (loss if calls["n"] <= 2 else loss * float("inf")), {}

    cfg = OptimConfig(lr=1e-3, max_steps=5)
    with pytest.raises(TrainingDiverged) as err:
        train(tiny_model, loss_fn, Batches(tokens, 2, 0), cfg, total_steps=5, seed=0, workdir=None, desc="arith-distill")
    assert err.value.step == 3 and isinstance(err.value, RuntimeError)
    assert str(err.value) == ("arith-distill: training diverged, the loss is inf at step 3 (learning rate 0.001); "
                              "lower the learning rate or keep grad_clip")
    import pickle

    again = pickle.loads(pickle.dumps(err.value))  # as it arrives from a --jobs worker
    assert str(again) == str(err.value) and again.step == 3
