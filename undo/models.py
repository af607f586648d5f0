"""Gemma-2 models: architecture configs, seeded random init, save and load.

The paper's models (Table 1) are scaled-down Gemma-2s that keep gemma-2-2b's other fields
(vocab 256000, 4 KV heads, query_pre_attn_scalar 256 even with head_dim 128, softcaps 50/30,
sliding window 4096, rope theta 1e4). Everything is built through ``transformers``'
``Gemma2ForCausalLM`` so every saved model loads with plain ``AutoModelForCausalLM``.
Eager attention is the reference path: ``sdpa`` drops Gemma-2's attention softcap.

Usage::

    model = build_model(ModelConfig(hidden_size=64, ...), vocab_size=1024, seed=0)
    save_model(model, tokenizer, out_dir);  model = load_model(out_dir)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .config import option

# transformers is imported inside the functions: configs are validated (and bad ones refused) before the
# ~3 s import of the Gemma-2 modelling code is paid.

# Token ids shared by Gemma-2's tokenizer and the kit's local tokenizers.
PAD_ID, EOS_ID, BOS_ID = 0, 1, 2


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Gemma-2 size fields. Defaults are gemma-2-2b's values, which the paper's models inherit (Table 1)."""

    hidden_size: int = option(768, "model width (Table 1)", gt=0)
    intermediate_size: int = option(3072, "MLP width (Table 1)", gt=0)
    num_hidden_layers: int = option(14, "decoder layers (Table 1)", gt=0)
    num_attention_heads: int = option(8, "query heads (Table 1)", gt=0)
    num_key_value_heads: int = option(4, "KV heads (GQA), inherited from gemma-2-2b", gt=0)
    head_dim: int = option(128, "per-head width (Table 1)", gt=0)
    query_pre_attn_scalar: int = option(256, "attention scale is 1/sqrt(this); 256 inherited even with head_dim 128", gt=0)
    vocab_size: int | None = option(None, "None: take the tokenizer's size", gt=0)
    max_position_embeddings: int = option(8192, "rope table length", gt=0)
    sliding_window: int = option(4096, "local-attention window of the sliding layers", gt=0)
    attn_logit_softcapping: float | None = option(50.0, "tanh cap on attention logits", gt=0)
    final_logit_softcapping: float | None = option(30.0, "tanh cap on output logits", gt=0)
    rope_theta: float = option(10000.0, "rotary base", gt=0)
    initializer_range: float = option(0.02, "std of the normal init", gt=0)

    def validate(self) -> None:
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_key_value_heads: must divide num_attention_heads")


def hf_config(cfg: ModelConfig, vocab_size: int):
    from transformers import Gemma2Config

    return Gemma2Config(
        vocab_size=cfg.vocab_size or vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        head_dim=cfg.head_dim,
        query_pre_attn_scalar=cfg.query_pre_attn_scalar,
        max_position_embeddings=cfg.max_position_embeddings,
        sliding_window=cfg.sliding_window,
        attn_logit_softcapping=cfg.attn_logit_softcapping,
        final_logit_softcapping=cfg.final_logit_softcapping,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
        initializer_range=cfg.initializer_range,
        pad_token_id=PAD_ID, eos_token_id=EOS_ID, bos_token_id=BOS_ID,
        tie_word_embeddings=True,
    )


def build_model(cfg: ModelConfig, vocab_size: int, seed: int, device: str = "cpu"):
    """A freshly initialised fp32 model; the same seed gives the same weights."""
    from transformers import Gemma2ForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Gemma2ForCausalLM._from_config(hf_config(cfg, vocab_size), attn_implementation="eager",
                                               dtype=torch.float32)
    return model.to(device)


def load_model(path: Path, device: str = "cpu"):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", dtype=torch.float32)
    return model.to(device)


def save_model(model, tokenizer, path: Path) -> None:
    """safetensors weights + config + tokenizer, loadable with plain ``from_pretrained``."""
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
