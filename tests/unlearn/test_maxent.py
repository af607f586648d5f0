"""MaxEnt: KL(U || p) on forget + retain term; the WMDP variant (App. D.2.3) with KL to the frozen model."""

import copy
import math

import pytest
import torch

from undo.config import ConfigError

from .helpers import all_param_names, assert_close, make_method, params_with_grad, perturb, shifted_ce


def kl_uniform_by_hand(logits):
    logp = torch.log_softmax(logits[:, :-1].double(), -1)
    vocab = logp.size(-1)
    return (1 / vocab * (math.log(1 / vocab) - logp)).sum(-1).mean()


def test_loss_matches_hand_computation(tiny_model, forget_ids, retain_ids):
    method = make_method("maxent", retain_weight=1.0)
    method.setup(tiny_model)
    loss, logs = method.loss(tiny_model, forget_ids, retain_ids)
    kl_u = kl_uniform_by_hand(tiny_model(input_ids=forget_ids).logits)
    ce_r = shifted_ce(tiny_model(input_ids=retain_ids).logits, retain_ids)
    assert_close(loss, kl_u + ce_r)
    assert logs == pytest.approx({"forget_kl_uniform": kl_u.item(), "retain_ce": ce_r.item()}, rel=1e-4)


def test_wmdp_variant_is_convex_with_kl_to_the_frozen_model(tiny_model, forget_ids, retain_ids):
    original = copy.deepcopy(tiny_model)
    method = make_method("maxent", retain_weight=0.3, retain_loss="kl", weighting="convex")
    method.setup(tiny_model)
    perturb(tiny_model)  # training has moved the model away from the frozen original
    loss, logs = method.loss(tiny_model, forget_ids, retain_ids)

    kl_u = kl_uniform_by_hand(tiny_model(input_ids=forget_ids).logits)
    p0 = torch.log_softmax(original(input_ids=retain_ids).logits[:, :-1].double(), -1)
    p = torch.log_softmax(tiny_model(input_ids=retain_ids).logits[:, :-1].double(), -1)
    kl_frozen = (p0.exp() * (p0 - p)).sum(-1).mean()
    assert kl_frozen > 1e-3
    assert_close(loss, 0.7 * kl_u + 0.3 * kl_frozen)
    assert set(logs) == {"forget_kl_uniform", "retain_kl"}


def test_every_parameter_gets_a_gradient_and_the_frozen_copy_none(tiny_model, forget_ids, retain_ids):
    method = make_method("maxent", retain_weight=0.5, retain_loss="kl", weighting="convex")
    method.setup(tiny_model)
    perturb(tiny_model)
    method.loss(tiny_model, forget_ids, retain_ids)[0].backward()
    assert params_with_grad(tiny_model) == all_param_names(tiny_model)
    assert all(p.grad is None and not p.requires_grad for p in method.frozen.parameters())


def test_convex_needs_a_weight_in_the_open_unit_interval():
    with pytest.raises(ConfigError, match="retain_weight"):
        make_method("maxent", retain_weight=1.0, weighting="convex")
