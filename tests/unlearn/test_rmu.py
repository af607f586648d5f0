"""RMU: steer block l's output on forget data to c*u, keep retain activations; train only down-projections."""

import copy

import pytest
import torch

from undo.unlearn.common import Batch

from .helpers import assert_close, make_method, params_with_grad, perturb

DOWN_PROJ = {"model.layers.0.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight"}


def block_output(model, layer_module, ids, attention_mask=None):
    """The output of one decoder block, captured with a hook written here."""
    seen = {}
    handle = layer_module.register_forward_hook(lambda m, a, out: seen.setdefault("h", out))
    try:
        model(input_ids=ids, attention_mask=attention_mask)
    finally:
        handle.remove()
    h = seen["h"]
    return (h[0] if isinstance(h, tuple) else h).double()


def test_forget_and_retain_terms_match_hand_computation(tiny_model, forget_ids, retain_ids):
    original = copy.deepcopy(tiny_model)
    method = make_method("rmu", layer=1, trainable_layers=[0, 1], steering_coeff=6.5, retain_weight=3.0)
    method.setup(tiny_model)
    perturb(tiny_model)  # so the retain term is not zero
    loss, logs = method.loss(tiny_model, forget_ids, retain_ids)

    control = method.control.double()
    assert torch.linalg.vector_norm(control).item() == pytest.approx(6.5)
    forget_h = block_output(tiny_model, tiny_model.model.layers[1], forget_ids)
    forget_mse = ((forget_h - control) ** 2).mean()
    retain_mse = ((block_output(tiny_model, tiny_model.model.layers[1], retain_ids)
                   - block_output(original, original.model.layers[1], retain_ids)) ** 2).mean()
    assert retain_mse > 1e-6
    assert_close(loss, forget_mse + 3.0 * retain_mse)
    assert logs == pytest.approx({"forget_mse": forget_mse.item(), "retain_mse": retain_mse.item()}, rel=1e-4)


def test_padding_is_left_out_of_the_mse(tiny_model, forget_ids):
    method = make_method("rmu", layer=0, trainable_layers=[0], retain_term=False)
    method.setup(tiny_model)
    pad = torch.ones_like(forget_ids)
    pad[0, 7:] = 0
    loss, _ = method.loss(tiny_model, Batch(forget_ids, attention_mask=pad), forget_ids)
    h = block_output(tiny_model, tiny_model.model.layers[0], forget_ids, pad)
    sq = ((h - method.control.double()) ** 2).mean(-1)
    assert_close(loss, (sq * pad).sum() / pad.sum())


def test_only_the_named_down_projections_train(tiny_model, forget_ids, retain_ids):
    method = make_method("rmu", layer=1, trainable_layers=[0, 1])
    method.setup(tiny_model)
    assert {n for n, p in tiny_model.named_parameters() if p.requires_grad} == DOWN_PROJ
    assert set(method.trainable_names) == DOWN_PROJ
    perturb(tiny_model)
    method.loss(tiny_model, forget_ids, retain_ids)[0].backward()
    assert params_with_grad(tiny_model) == DOWN_PROJ
    assert all(p.grad is None for n, p in tiny_model.named_parameters() if n not in DOWN_PROJ)


def test_reference_off_by_one_steers_the_previous_block(tiny_model, forget_ids):
    """The UNDO code reads hidden_states[layer] (block layer-1's output): block `layer` gets no gradient."""
    method = make_method("rmu", layer=1, trainable_layers=[0, 1], retain_term=False, reference_off_by_one=True)
    method.setup(tiny_model)
    loss, _ = method.loss(tiny_model, forget_ids, forget_ids)
    h = block_output(tiny_model, tiny_model.model.layers[0], forget_ids)
    assert_close(loss, ((h - method.control.double()) ** 2).mean())
    loss.backward()
    assert params_with_grad(tiny_model) == {"model.layers.0.mlp.down_proj.weight"}


def test_direction_is_seeded_and_uniform_by_default(tiny_model):
    def control(**kw):
        method = make_method("rmu", layer=1, trainable_layers=[1], **kw)
        method.setup(copy.deepcopy(tiny_model))
        return method.control

    uniform = control(steering_coeff=2.0)
    assert torch.equal(uniform, control(steering_coeff=2.0))
    assert (uniform > 0).all()  # U[0, 1)^d, as the original RMU
    assert not torch.equal(uniform, control(steering_coeff=2.0, direction_seed=1))
    gaussian = control(steering_coeff=2.0, direction="gaussian")
    assert (gaussian < 0).any() and torch.linalg.vector_norm(gaussian).item() == pytest.approx(2.0)


def test_any_llama_layout_model(llama_model, forget_ids, retain_ids):
    method = make_method("rmu", layer=1, trainable_layers=[1])
    method.setup(llama_model)
    perturb(llama_model)
    method.loss(llama_model, forget_ids, retain_ids)[0].backward()
    assert params_with_grad(llama_model) == {"model.layers.1.mlp.down_proj.weight"}


def test_other_layouts_name_their_projection(gpt2_model, forget_ids, retain_ids):
    with pytest.raises(ValueError, match=r"transformer\.h\.<i>\.mlp\.down_proj.*options\.trainable"):
        make_method("rmu", layer=1, trainable_layers=[1]).setup(gpt2_model)
    method = make_method("rmu", layer=1, trainable_layers=[0, 1], trainable="mlp.c_proj")
    method.setup(gpt2_model)
    method.loss(gpt2_model, forget_ids, retain_ids)[0].backward()
    assert params_with_grad(gpt2_model) == {"transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias",
                                            "transformer.h.1.mlp.c_proj.weight", "transformer.h.1.mlp.c_proj.bias"}


def test_layers_beyond_the_model_are_refused(tiny_model):
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        make_method("rmu").setup(tiny_model)  # Table 5's layers 5-11 on a 2-block model


def test_wmdp_weighting_is_convex(tiny_model, forget_ids, retain_ids):
    """App. D.2.3: loss = (1 - alpha) forget + alpha retain (Table 10: alpha = 0.5)."""
    original = copy.deepcopy(tiny_model)
    method = make_method("rmu", layer=1, trainable_layers=[0, 1], steering_coeff=80.0, retain_weight=0.5,
                         weighting="convex")
    method.setup(tiny_model)
    perturb(tiny_model)
    loss, _ = method.loss(tiny_model, forget_ids, retain_ids)
    forget_mse = ((block_output(tiny_model, tiny_model.model.layers[1], forget_ids) - method.control.double()) ** 2).mean()
    retain_mse = ((block_output(tiny_model, tiny_model.model.layers[1], retain_ids)
                   - block_output(original, original.model.layers[1], retain_ids)) ** 2).mean()
    assert retain_mse > 1e-6
    assert_close(loss, 0.5 * forget_mse + 0.5 * retain_mse)
