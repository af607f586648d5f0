"""RepNoise on top of MaxEnt: MMD of MLP outputs to noise, logit-lens ascent, retain CE; hooks never leak."""

import math

import pytest
import torch

from undo.unlearn.repnoise import TABLE7_GRID, gaussian_mmd

from .helpers import all_param_names, assert_close, make_method, params_with_grad, shifted_ce


def mmd_by_hand(x, y):
    """Biased MMD^2 with the reference's 5-bandwidth Gaussian mixture, by explicit pairwise differences."""
    total = torch.cat([x, y]).double()
    dist = ((total[None, :, :] - total[:, None, :]) ** 2).sum(-1)
    n = total.size(0)
    base = dist.sum() / (n * n - n) / 2.0 ** 2
    kernel = sum(torch.exp(-dist / (base * 2.0 ** i)) for i in range(5))
    b = x.size(0)
    return (kernel[:b, :b] + kernel[b:, b:] - kernel[:b, b:] - kernel[b:, :b]).mean()


def test_mmd_matches_hand_computation_and_vanishes_for_equal_samples():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, 8, generator=gen), torch.randn(3, 8, generator=gen) + 1
    assert_close(gaussian_mmd(x, y), mmd_by_hand(x, y))
    assert gaussian_mmd(x, x).abs() < 1e-6


def test_loss_matches_hand_computation(tiny_model, forget_ids, retain_ids):
    method = make_method("repnoise", noise_weight=0.5, ascent_weight=2.0, maxent_weight=1.0, retain_weight=1.5)
    method.setup(tiny_model)
    retain_ids = retain_ids.clone()
    retain_ids[:, 3] = forget_ids[:, 3]  # a shared token: masked by the reference's pair mask
    torch.manual_seed(123)
    loss, logs = method.loss(tiny_model, forget_ids, retain_ids)

    layers = tiny_model.model.layers
    outs = {}
    handles = [layer.mlp.register_forward_hook(lambda m, a, o, i=i: outs.__setitem__(i, o))
               for i, layer in enumerate(layers)]
    out = tiny_model(input_ids=forget_ids, output_hidden_states=True)
    for h in handles:
        h.remove()
    mask = (forget_ids != retain_ids).double()
    torch.manual_seed(123)  # the module draws one N(0, I) sample per layer, in layer order
    noise = 0.0
    for i in range(len(layers)):
        act = outs[i].double() * mask[..., None]
        gauss = torch.randn_like(outs[i], dtype=torch.float32).double() * mask[..., None]
        noise = noise + mmd_by_hand(act.flatten(1), gauss.flatten(1))
    noise = noise / len(layers)
    lens = [tiny_model.lm_head(tiny_model.model.norm(h)) for h in out.hidden_states[:-1]]
    readouts = [shifted_ce(logits, forget_ids, mask) for logits in [*lens, out.logits]]
    assert len(readouts) == len(layers) + 1
    ascent = sum(readouts) / len(readouts)
    logp = torch.log_softmax(out.logits[:, :-1].double(), -1)
    maxent = (-math.log(logp.size(-1)) - logp.mean(-1)).mean()
    ce_r = shifted_ce(tiny_model(input_ids=retain_ids).logits, retain_ids)
    expected = maxent + 1.5 * ce_r + 0.5 * noise - 2.0 * torch.log(ascent + 1)
    assert_close(loss, expected)
    assert logs["noise_mmd"] == pytest.approx(noise.item(), rel=1e-4)


def test_every_parameter_gets_a_gradient(tiny_model, forget_ids, retain_ids):
    method = make_method("repnoise")
    method.setup(tiny_model)
    method.loss(tiny_model, forget_ids, retain_ids)[0].backward()
    assert params_with_grad(tiny_model) == all_param_names(tiny_model)


def hooks_left(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in model.modules())


def test_no_hooks_left_after_100_calls_or_a_failing_forward(tiny_model):
    method = make_method("repnoise")
    method.setup(tiny_model)
    forget, retain = torch.randint(3, 300, (2, 4)), torch.randint(3, 300, (2, 4))
    with torch.no_grad():
        for _ in range(100):
            method.loss(tiny_model, forget, retain)
    assert hooks_left(tiny_model) == 0
    with pytest.raises(IndexError):
        method.loss(tiny_model, torch.full((2, 4), 10_000), retain)  # token id beyond the vocabulary
    assert hooks_left(tiny_model) == 0


def test_works_on_other_layouts(gpt2_model, forget_ids, retain_ids):
    method = make_method("repnoise")
    method.setup(gpt2_model)
    loss, _ = method.loss(gpt2_model, forget_ids, retain_ids)
    assert torch.isfinite(loss)
    assert hooks_left(gpt2_model) == 0


def test_defaults_are_a_table7_grid_point():
    cfg = make_method("repnoise").cfg
    assert (cfg.noise_weight, cfg.ascent_weight) in TABLE7_GRID
