"""Model families the kit builds (undo.models): Gemma-2 (the paper's) and Phi (App. F's second family), both plain
``transformers`` models that save and load with ``AutoModelForCausalLM`` and that the generic helpers can read."""

import torch

from undo.config import build
from undo.models import ModelConfig, build_model, load_model, save_model
from undo.unlearn.common import decoder_layers, final_norm

SIZE = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=64)


def test_phi_builds_a_phi_that_round_trips_through_auto_classes(tmp_path, byte_tok):
    model = build_model(ModelConfig(architecture="phi", **SIZE), vocab_size=300, seed=0)
    assert type(model).__name__ == "PhiForCausalLM"
    assert model.get_output_embeddings().weight is not model.get_input_embeddings().weight   # Phi's head is untied
    save_model(model, byte_tok, tmp_path / "m")
    again = load_model(tmp_path / "m")
    ids = torch.tensor([[2, 40, 41, 42]])
    assert torch.equal(model(input_ids=ids).logits, again(input_ids=ids).logits)
    assert decoder_layers(again)[0] == "model.layers" and isinstance(final_norm(again), torch.nn.LayerNorm)


def test_the_same_seed_gives_the_same_weights_in_either_family():
    for arch in ("gemma2", "phi"):
        cfg = ModelConfig(architecture=arch, head_dim=8, query_pre_attn_scalar=8, **SIZE)
        a, b = build_model(cfg, 300, seed=3), build_model(cfg, 300, seed=3)
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_an_unknown_family_is_refused_naming_the_key():
    import pytest

    from undo.config import ConfigError

    with pytest.raises(ConfigError, match="architecture"):
        build(ModelConfig, {"architecture": "llama"}, file="m.yaml")
