"""Fixtures for the unlearning-method tests: fixed forget/retain batches."""

import pytest
import torch


@pytest.fixture
def forget_ids():
    return torch.randint(3, 300, (2, 10), generator=torch.Generator().manual_seed(1))


@pytest.fixture
def retain_ids():
    return torch.randint(3, 300, (2, 10), generator=torch.Generator().manual_seed(2))


@pytest.fixture
def llama_model():
    """A tiny non-Gemma causal LM with the Llama layout (model.layers.<i>.mlp.down_proj)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, max_position_embeddings=64)
    return LlamaForCausalLM(cfg)


@pytest.fixture
def gpt2_model():
    """A tiny causal LM with another layout (transformer.h.<i>.mlp.c_proj, ln_f)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                      bos_token_id=2, eos_token_id=1))
