"""Tokenizers: Gemma-2's from the hub at paper scale, a small byte-level BPE trained locally otherwise.

The local tokenizer keeps Gemma-2's conventions that matter here: ids 0/1/2 are
``<pad>/<eos>/<bos>``, digits are split into single tokens (so arithmetic is tokenized the way
Gemma-2 tokenizes it), and any UTF-8 text round-trips (byte-level alphabet). It is saved with
``save_pretrained`` and reloads with ``AutoTokenizer.from_pretrained``.

Usage::

    tok = train_bpe(documents, vocab_size=1024)
    tok = load_tokenizer("google/gemma-2-2b")   # paper scale, needs the hub
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>"]

if TYPE_CHECKING:  # imported where used: validating a config must not pay for tokenizers/transformers
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast


def _pre_tokenizer():
    from tokenizers import pre_tokenizers

    return pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])


def _wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   padding_side="left")


def train_bpe(documents: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE with single-digit tokens; deterministic for the same documents."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(documents, trainer=trainer)
    return _wrap(tok)


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """259 tokens: the three specials and one per byte."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {s: i for i, s in enumerate(SPECIAL_TOKENS)}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return _wrap(tok)


class TokenizerError(RuntimeError):
    """A tokenizer could not be loaded; the one-line message says why and what to do."""


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def _looks_like_hub_id(name: str) -> bool:
    """``google/gemma-2-2b``: one slash, no path prefix (a missing local directory is not a hub id)."""
    return name.count("/") == 1 and not name.startswith(("/", ".", "~")) and not Path(name).exists()


def load_tokenizer(name_or_path: str | Path):
    """A saved tokenizer directory, or a hub id; every failure is one :class:`TokenizerError` line.

    A hub id is taken from the local Hugging Face cache when ``HF_HUB_OFFLINE=1``; otherwise the hub
    is probed first, so an unreachable hub fails within seconds rather than after ~46 s of retries.
    """
    name = str(name_or_path)
    local = Path(name).expanduser()
    if local.exists():
        if local.is_dir() and not any((local / f).is_file() for f in _TOKENIZER_FILES):
            raise TokenizerError(f"tokenizer directory {local} holds no tokenizer ({', '.join(_TOKENIZER_FILES)}); "
                                 "point name_or_path at a directory written by save_pretrained")
    elif not _looks_like_hub_id(name):
        raise TokenizerError(f"tokenizer {name!r} not found: no such directory, and not a hub id like 'org/name'")
    elif os.environ.get("HF_HUB_OFFLINE", "").strip().upper() not in ("1", "ON", "YES", "TRUE"):
        from .data.errors import SourceError
        from .data.hub import check_hub_reachable
        try:
            check_hub_reachable(f"tokenizer {name}", offline_variables=("HF_HUB_OFFLINE",))
        except SourceError as err:
            raise TokenizerError(str(err)) from None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(local) if local.exists() else name)
    except (OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        hint = ("; with HF_HUB_OFFLINE=1 it must already be in the Hugging Face cache (download it on a machine with "
                "hub access: huggingface-cli download)" if not local.exists() else "")
        raise TokenizerError(f"could not load tokenizer {name!r}: {first}{hint}") from None
    tok.padding_side = "left"
    return tok
