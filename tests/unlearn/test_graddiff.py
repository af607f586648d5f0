"""GradDiff: -CE(forget) + alpha * CE(retain) (Table 5)."""

import pytest
import torch

from undo.config import ConfigError
from undo.unlearn.common import Batch

from .helpers import all_param_names, assert_close, make_method, params_with_grad, shifted_ce


def test_loss_matches_hand_computation(tiny_model, forget_ids, retain_ids):
    method = make_method("graddiff", retain_weight=15.0)  # arithmetic alpha (App. D.1)
    method.setup(tiny_model)
    loss, logs = method.loss(tiny_model, forget_ids, retain_ids)
    ce_f = shifted_ce(tiny_model(input_ids=forget_ids).logits, forget_ids)
    ce_r = shifted_ce(tiny_model(input_ids=retain_ids).logits, retain_ids)
    assert_close(loss, -ce_f + 15.0 * ce_r)
    assert logs == pytest.approx({"forget_ce": ce_f.item(), "retain_ce": ce_r.item()}, rel=1e-4)


def test_convex_weighting_and_padding(tiny_model, forget_ids, retain_ids):
    method = make_method("graddiff", retain_weight=0.3, weighting="convex")
    pad = torch.ones_like(forget_ids)
    pad[1, 6:] = 0  # right padding in the second forget row
    forget = Batch(forget_ids, attention_mask=pad)
    loss, _ = method.loss(tiny_model, forget, retain_ids)
    ce_f = shifted_ce(tiny_model(input_ids=forget_ids, attention_mask=pad).logits, forget_ids, pad)
    ce_r = shifted_ce(tiny_model(input_ids=retain_ids).logits, retain_ids)
    assert_close(loss, 0.7 * -ce_f + 0.3 * ce_r)


def test_every_parameter_gets_a_gradient(tiny_model, forget_ids, retain_ids):
    method = make_method("graddiff")
    method.setup(tiny_model)
    method.loss(tiny_model, forget_ids, retain_ids)[0].backward()
    assert params_with_grad(tiny_model) == all_param_names(tiny_model)


def test_convex_needs_a_weight_below_one():
    with pytest.raises(ConfigError, match="retain_weight"):
        make_method("graddiff", retain_weight=15.0, weighting="convex")
