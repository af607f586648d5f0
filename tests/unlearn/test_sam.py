"""SAM for unlearning: perturb along the forget gradient, exact under gradient accumulation."""

import copy

import numpy as np
import pytest
import torch

from undo.config import ConfigError, build
from undo.losses import cross_entropy
from undo.stages.unlearn import Config as UnlearnConfig
from undo.train import Batches, OptimConfig, train

from .helpers import all_param_names, make_method, params_with_grad


def graddiff_parts(model, forget, retain, alpha):
    """GradDiff's forget and retain parts, written out here."""
    forget_part = -cross_entropy(model(input_ids=forget).logits, forget)
    retain_part = alpha * cross_entropy(model(input_ids=retain).logits, retain)
    return forget_part, retain_part


def test_gradient_matches_hand_computation(tiny_model, forget_ids, retain_ids):
    rho, alpha = 0.05, 2.0
    reference = copy.deepcopy(tiny_model)
    method = make_method("sam", base="graddiff", base_options={"retain_weight": alpha}, rho=rho)
    method.setup(tiny_model)
    before = copy.deepcopy(tiny_model.state_dict())
    loss, logs = method.step(tiny_model, [(forget_ids, retain_ids)])

    params = list(reference.parameters())
    forget_part, retain_part = graddiff_parts(reference, forget_ids, retain_ids, alpha)
    g = torch.autograd.grad(forget_part, params)
    norm = torch.sqrt(sum((x.double() ** 2).sum() for x in g))
    perturbed = copy.deepcopy(reference)
    with torch.no_grad():
        for p, x in zip(perturbed.parameters(), g, strict=True):
            p.add_(rho * x / norm)
    g_perturbed = torch.autograd.grad(graddiff_parts(perturbed, forget_ids, retain_ids, alpha)[0],
                                      list(perturbed.parameters()))
    g_retain = torch.autograd.grad(retain_part, params)

    for (name, p), a, b in zip(tiny_model.named_parameters(), g_perturbed, g_retain, strict=True):
        torch.testing.assert_close(p.grad, a + b, rtol=1e-4, atol=1e-6, msg=name)
        torch.testing.assert_close(p.detach(), before[name], rtol=0, atol=0)  # theta restored exactly
    assert loss == pytest.approx((forget_part + retain_part).item(), rel=1e-5)
    assert logs["sam_forget_grad_norm"] == pytest.approx(norm.item(), rel=1e-5)
    assert params_with_grad(tiny_model) == all_param_names(tiny_model)


def run_sam(model, tokens, *, batch_size, grad_accum, rho=0.05, steps=2):
    method = make_method("sam", base="maxent", rho=rho)
    method.setup(model)
    forget, retain = Batches(tokens[0], batch_size, 0), Batches(tokens[1], batch_size, 1)
    cfg = OptimConfig(lr=1e-3, schedule="constant", batch_size=batch_size, grad_accum=grad_accum, max_steps=steps)
    return train(model, lambda pair: method.loss(model, *pair), lambda i: (forget(i), retain(i)), cfg,
                 total_steps=steps, seed=0, workdir=None, step_fn=lambda pairs: method.step(model, pairs), log_every=1)


@pytest.fixture
def windows():
    rng = np.random.default_rng(0)
    return rng.integers(3, 300, size=(16, 12)), rng.integers(3, 300, size=(16, 12))


def test_step_gradient_of_four_micro_batches_equals_one_big_batch(tiny_model, windows):
    forget, retain = torch.from_numpy(windows[0][:8]), torch.from_numpy(windows[1][:8])
    one, four = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    for model, pairs in ((one, [(forget, retain)]),
                         (four, [(forget[i:i + 2], retain[i:i + 2]) for i in range(0, 8, 2)])):
        method = make_method("sam", base="maxent", rho=0.05)
        method.setup(model)
        method.step(model, pairs)
    for (name, a), b in zip(one.named_parameters(), four.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7, msg=name)


def test_accumulating_four_micro_batches_equals_one_big_batch(tiny_model, windows):
    one, four = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    big = run_sam(one, windows, batch_size=8, grad_accum=1)
    small = run_sam(four, windows, batch_size=2, grad_accum=4)
    for (name, a), b in zip(one.state_dict().items(), four.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    assert [r["train/loss"] for r in big.history] == pytest.approx([r["train/loss"] for r in small.history], rel=1e-5)
    assert not torch.equal(one.model.embed_tokens.weight, tiny_model.model.embed_tokens.weight)  # it did train


def test_rho_zero_is_the_base_method(tiny_model, windows):
    sam_model, base_model = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    run_sam(sam_model, windows, batch_size=4, grad_accum=2, rho=0.0)
    base = make_method("maxent")
    forget, retain = Batches(windows[0], 4, 0), Batches(windows[1], 4, 1)
    cfg = OptimConfig(lr=1e-3, schedule="constant", batch_size=4, grad_accum=2, max_steps=2)
    train(base_model, lambda pair: base.loss(base_model, *pair), lambda i: (forget(i), retain(i)), cfg,
          total_steps=2, seed=0, workdir=None)
    for (name, a), b in zip(sam_model.state_dict().items(), base_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)


def test_sam_wraps_a_frozen_parameter_base(tiny_model, forget_ids, retain_ids):
    method = make_method("sam", base="rmu", base_options={"layer": 1, "trainable_layers": [1]})
    method.setup(tiny_model)
    method.step(tiny_model, [(forget_ids, retain_ids)])
    assert params_with_grad(tiny_model) == {"model.layers.1.mlp.down_proj.weight"}


@pytest.mark.parametrize(("options", "message"), [
    ({"base": "nope"}, "options.base: unknown unlearning method 'nope'"),
    ({"base": "repnoise"}, "options.base: 'repnoise' has no separate forget and retain parts"),
    ({"base": "maxent", "base_options": {"retain_wieght": 1}}, "options.base_options.retain_wieght: unknown key"),
    ({"base": "maxent", "base_options": {"weighting": "convex", "retain_weight": 2.0}},
     "options.base_options.retain_weight: convex weighting"),
])
def test_config_errors_name_the_key(tmp_path, options, message):
    for name in ("m", "f", "r"):
        (tmp_path / f"{name}.yaml").write_text("stage: dataset\n")
    data = {"model": "m.yaml", "forget": "f.yaml", "retain": "r.yaml", "method": "sam", "options": options,
            "optim": {"lr": 1e-4}}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(UnlearnConfig, data, file=tmp_path / "u.yaml")
