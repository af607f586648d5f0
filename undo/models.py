"""Gemma-2 models: architecture configs, seeded random init, save and load.

The paper's models (Table 1) are scaled-down Gemma-2s that keep gemma-2-2b's other fields
(vocab 256000, 4 KV heads, query_pre_attn_scalar 256 even with head_dim 128, softcaps 50/30,
sliding window 4096, rope theta 1e4). Everything is built through ``transformers``'
``Gemma2ForCausalLM`` so every saved model loads with plain ``AutoModelForCausalLM``.
Eager attention is the reference path: ``sdpa`` drops Gemma-2's attention softcap.

Section 6 starts from a published model instead (``google/gemma-2-2b``, gated on the hub):
:func:`load_pretrained` loads one, pinned by revision, in fp32 with eager attention, and fails within seconds,
before any download, when a gated hub model cannot be fetched (no token, unreachable hub).

Usage::

    model = build_model(ModelConfig(hidden_size=64, ...), vocab_size=1024, seed=0)
    save_model(model, tokenizer, out_dir);  model = load_model(out_dir)
    model, tokenizer = load_pretrained("google/gemma-2-2b", revision="<commit>")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from .config import option

# transformers is imported inside the functions: configs are validated (and bad ones refused) before the
# ~3 s import of the Gemma-2 modelling code is paid.

# Token ids shared by Gemma-2's tokenizer and the kit's local tokenizers.
PAD_ID, EOS_ID, BOS_ID = 0, 1, 2


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Gemma-2 size fields. Defaults are gemma-2-2b's values, which the paper's models inherit (Table 1).

    ``architecture: phi`` builds a Phi model (``PhiForCausalLM``, Phi-1.5's family: parallel attention and MLP,
    LayerNorm, partial rotary embeddings, untied head) from the same size fields, the second architecture of App. F;
    the Gemma-only fields (head_dim, query_pre_attn_scalar, sliding window, softcaps) do not apply to it.
    """

    architecture: Literal["gemma2", "phi"] = option("gemma2", "model family (App. F also runs Phi-1.5)",
                                                    key_if_set=True)
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
    if cfg.architecture == "phi":
        return _phi_config(cfg, vocab_size)
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


def _phi_config(cfg: ModelConfig, vocab_size: int):
    """Phi-1.5's architecture at the given size: partial rotary 0.5, gelu_new, untied head, no dropout (training here
    is deterministic, as for Gemma-2)."""
    from transformers import PhiConfig

    return PhiConfig(
        vocab_size=cfg.vocab_size or vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta, "partial_rotary_factor": 0.5},
        initializer_range=cfg.initializer_range,
        resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0,
        pad_token_id=PAD_ID, eos_token_id=EOS_ID, bos_token_id=BOS_ID,
        tie_word_embeddings=False,
    )


def build_model(cfg: ModelConfig, vocab_size: int, seed: int, device: str = "cpu"):
    """A freshly initialised fp32 model; the same seed gives the same weights."""
    from transformers import AutoModelForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(hf_config(cfg, vocab_size), attn_implementation="eager",
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


# ----------------------------------------------------------------------------- published models (Section 6)

class PretrainedError(RuntimeError):
    """A published model could not be loaded; the one-line message says why and what to do."""


def _env_true(variable: str) -> bool:
    return os.environ.get(variable, "").strip().upper() in ("1", "ON", "YES", "TRUE")


def is_hub_id(name: str) -> bool:
    """``google/gemma-2-2b``: one slash, no path prefix, and no such local path."""
    return name.count("/") == 1 and not name.startswith(("/", ".", "~")) and not Path(name).expanduser().exists()


def check_pretrained_access(name_or_path: str, *, gated: bool = True) -> bool:
    """Whether ``name_or_path`` is a local directory; for a hub id, what can be checked before any download.

    Without ``HF_HUB_OFFLINE`` (with it, the Hugging Face cache answers), a gated hub model (``gated``) needs a
    token, ``HF_TOKEN`` or a cached login (``huggingface_hub.get_token()``), and the hub must answer within
    seconds (:func:`undo.data.hub.check_hub_reachable`); otherwise one-line :class:`PretrainedError` /
    :class:`undo.data.errors.SourceError`.
    """
    name = str(name_or_path)
    local = Path(name).expanduser()
    if local.is_dir():
        return True
    if not is_hub_id(name):
        raise PretrainedError(f"{name}: no such model directory, and not a hub id like 'org/name'")
    if _env_true("HF_HUB_OFFLINE"):
        return False
    if gated:
        from huggingface_hub import get_token

        if not (os.environ.get("HF_TOKEN") or get_token()):
            raise PretrainedError(f"{name}: gated model: accept its licence on huggingface.co and set HF_TOKEN "
                                  "(see README, 'Paper scale')")
    from .data.hub import check_hub_reachable

    check_hub_reachable(f"model {name}", offline_variables=("HF_HUB_OFFLINE",))
    return False


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def load_pretrained_tokenizer(name_or_path: str, revision: str | None = None):
    """The tokenizer of a published model at ``revision``; without one, :func:`undo.tokenizer.load_tokenizer`
    (a directory or a hub id). A revision pins only a hub id; every failure is one ``TokenizerError`` line."""
    from .tokenizer import TokenizerError, load_tokenizer

    name = str(name_or_path)
    if revision is None:
        return load_tokenizer(name)
    if not is_hub_id(name):
        raise TokenizerError(f"tokenizer {name!r}: a revision ({revision}) pins a hub id like 'org/name', not a "
                             "local path; remove revision or give the hub id")
    if not _env_true("HF_HUB_OFFLINE"):
        from .data.errors import SourceError
        from .data.hub import check_hub_reachable

        try:
            check_hub_reachable(f"tokenizer {name}", offline_variables=("HF_HUB_OFFLINE",))
        except SourceError as err:
            raise TokenizerError(str(err)) from None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(name, revision=revision)
    except (OSError, ValueError) as err:
        raise TokenizerError(f"could not load tokenizer {name!r} at revision {revision}: {_first_line(err)}") from None
    tok.padding_side = "left"
    return tok


def load_pretrained(name_or_path: str, revision: str | None = None, device: str = "cpu", *, gated: bool = True):
    """``(model, tokenizer)`` of a published model (a hub id at ``revision``, or a ``save_pretrained`` directory),
    in fp32 with eager attention, as the kit's own models load (:func:`load_model`).

    The access checks of :func:`check_pretrained_access` run first, so a missing token or hub fails in seconds;
    a failed load is one :class:`PretrainedError` line."""
    from transformers import AutoModelForCausalLM

    name = str(name_or_path)
    local = check_pretrained_access(name, gated=gated)
    if local and revision is not None:
        raise PretrainedError(f"{name}: a local directory has no revisions; remove revision or give a hub id")
    source = str(Path(name).expanduser()) if local else name
    try:
        model = AutoModelForCausalLM.from_pretrained(source, revision=revision, attn_implementation="eager",
                                                     dtype=torch.float32)
    except (OSError, ValueError) as err:
        at = "" if revision is None else f" at revision {revision}"
        hint = ("; with HF_HUB_OFFLINE=1 it must already be in the Hugging Face cache (download it on a machine with "
                "hub access: huggingface-cli download)" if not local and _env_true("HF_HUB_OFFLINE") else "")
        raise PretrainedError(f"could not load model {name!r}{at}: {_first_line(err)}{hint}") from None
    tokenizer = load_pretrained_tokenizer(source, None if local else revision)
    return model.to(device), tokenizer
