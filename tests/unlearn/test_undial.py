"""UNDIAL: self-distillation toward the frozen model's logits with the true next token lowered by beta."""

import copy

import pytest
import torch

from undo.unlearn.common import Batch
from undo.unlearn.undial import undial_loss

from .helpers import all_param_names, assert_close, make_method, params_with_grad, perturb, shifted_ce


def undial_by_hand(logits, teacher_logits, ids, mask, beta):
    total, count = 0.0, 0
    for b in range(ids.size(0)):
        for t in range(ids.size(1) - 1):
            if mask is not None and not mask[b, t + 1]:
                continue
            target = teacher_logits[b, t].double().clone()
            target[ids[b, t + 1]] -= beta
            q = torch.softmax(target, -1)
            total = total - (q * torch.log_softmax(logits[b, t].double(), -1)).sum()
            count += 1
    return total / count


def test_loss_matches_hand_computation(tiny_model, forget_ids, retain_ids):
    original = copy.deepcopy(tiny_model)
    method = make_method("undial", beta=3.0)
    method.setup(tiny_model)
    perturb(tiny_model)
    loss, logs = method.loss(tiny_model, forget_ids, retain_ids)
    expected = undial_by_hand(tiny_model(input_ids=forget_ids).logits, original(input_ids=forget_ids).logits,
                              forget_ids, None, 3.0)
    assert_close(loss, expected)
    assert set(logs) == {"forget_undial"}  # the paper's UNDIAL has no retain term


def test_optional_retain_term(tiny_model, forget_ids, retain_ids):
    method = make_method("undial", beta=3.0, retain_weight=0.5)
    method.setup(tiny_model)
    loss, logs = method.loss(tiny_model, forget_ids, retain_ids)
    ce_r = shifted_ce(tiny_model(input_ids=retain_ids).logits, retain_ids)
    assert_close(loss, logs["forget_undial"] + 0.5 * ce_r)


def test_masked_positions_do_not_count():
    gen = torch.Generator().manual_seed(0)
    logits, teacher = torch.randn(2, 6, 11, generator=gen), torch.randn(2, 6, 11, generator=gen)
    ids = torch.randint(0, 11, (2, 6), generator=gen)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 0, 0]])  # prompt tokens, then padding
    loss = undial_loss(logits, teacher, ids, mask, beta=5.0)
    assert_close(loss, undial_by_hand(logits, teacher, ids, mask, 5.0))

    # position t predicts token t+1: change everything tied to masked targets
    changed_logits, changed_teacher, changed_ids = logits.clone(), teacher.clone(), ids.clone()
    for b, t in [(0, 0), (0, 1), (1, 0), (1, 4), (1, 5)]:
        changed_ids[b, t] = (ids[b, t] + 3) % 11
        if t >= 1:
            changed_logits[b, t - 1] += torch.randn(11, generator=gen) * 10
            changed_teacher[b, t - 1] -= torch.randn(11, generator=gen) * 10
    changed_logits[1, 5] += 100.0  # the last position predicts nothing
    torch.testing.assert_close(undial_loss(changed_logits, changed_teacher, changed_ids, mask, beta=5.0), loss)


def test_right_padding_through_the_model(tiny_model, forget_ids):
    method = make_method("undial")
    method.setup(tiny_model)
    perturb(tiny_model)
    pad = torch.ones_like(forget_ids)
    pad[1, 6:] = 0
    loss, _ = method.loss(tiny_model, Batch(forget_ids, attention_mask=pad), forget_ids)
    other = forget_ids.clone()
    other[1, 6:] = 7  # different tokens under the padding
    again, _ = method.loss(tiny_model, Batch(other, attention_mask=pad), forget_ids)
    torch.testing.assert_close(again, loss)


def test_every_parameter_gets_a_gradient(tiny_model, forget_ids, retain_ids):
    method = make_method("undial")
    method.setup(tiny_model)
    perturb(tiny_model)
    method.loss(tiny_model, forget_ids, retain_ids)[0].backward()
    assert params_with_grad(tiny_model) == all_param_names(tiny_model)


def test_needs_setup(tiny_model, forget_ids):
    with pytest.raises(RuntimeError, match="setup"):
        make_method("undial").loss(tiny_model, forget_ids, forget_ids)
