"""The LoRA adversary's adapters: only they train, the wrapped model starts as the unwrapped one, the adapters are
drawn from the attack's seed, and each architecture has its own default target modules."""

import copy

import pytest
import torch

from undo.attacks.lora import DEFAULT_TARGETS, LoraAdversary, attach
from undo.models import ModelConfig, build_model

IDS = torch.randint(3, 300, (2, 12), generator=torch.Generator().manual_seed(0))


def test_only_the_adapters_train_and_the_wrapped_model_starts_unchanged(tiny_model):
    before = tiny_model(input_ids=IDS).logits.detach()
    model, info = attach(copy.deepcopy(tiny_model), LoraAdversary(rank=4, alpha=8.0), seed=0)
    trained = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trained and all(".lora_A." in n or ".lora_B." in n for n in trained)
    assert torch.equal(model(input_ids=IDS).logits.detach(), before)  # B = 0: no change until the first update
    # tiny Gemma-2: 2 layers; r (in + out) per adapted projection: q 32->32, k 32->16, v 32->16, o 32->32,
    # gate 32->64, up 32->64, down 64->32
    per_layer = 4 * ((32 + 32) + (32 + 16) + (32 + 16) + (32 + 32) + (32 + 64) + (32 + 64) + (64 + 32))
    assert info["trainable_parameters"] == 2 * per_layer
    assert info["parameters"] == sum(p.numel() for p in tiny_model.parameters()) + 2 * per_layer
    assert (info["kind"], info["rank"], info["target_modules"]) == ("lora", 4, list(DEFAULT_TARGETS["gemma2"]))


def test_the_adapters_are_drawn_from_the_seed_and_leave_the_global_generator_alone(tiny_model):
    def adapters(seed):
        model, _ = attach(copy.deepcopy(tiny_model), LoraAdversary(), seed=seed)
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = adapters(0), adapters(0), adapters(1)
    assert torch.equal(torch.rand(1), expected_next)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a if "lora_A" in n)


def test_phi_gets_its_own_projections_and_a_missing_module_is_one_line():
    phi = build_model(ModelConfig(architecture="phi", hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64), 300, 0)
    model, info = attach(copy.deepcopy(phi), LoraAdversary(rank=2), seed=0)
    adapted = {n.split(".lora_A.")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters() if ".lora_A." in n}
    assert adapted == set(DEFAULT_TARGETS["phi"]) == set(info["target_modules"])
    with pytest.raises(ValueError, match=r"^lora.target_modules: no module named gate_proj in this phi model$"):
        attach(copy.deepcopy(phi), LoraAdversary(target_modules=("q_proj", "gate_proj")), seed=0)
    model, info = attach(phi, LoraAdversary(target_modules=("q_proj", "v_proj")), seed=0)
    assert info["target_modules"] == ["q_proj", "v_proj"]
    assert {n.split(".lora_A.")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters() if ".lora_A." in n} == \
        {"q_proj", "v_proj"}
