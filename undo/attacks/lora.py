"""A LoRA relearning adversary: the relearning attack through low-rank adapters (peft) instead of every weight.

Robustness evaluations of unlearning often attack with LoRA as well as with full finetuning: an adversary who
updates a few million adapter weights at a higher learning rate (commonly rank 8-16 and about ten times the full
finetuning rate). :func:`attach` injects peft's LoRA layers into the model in place (the base weights frozen, the
adapter ``B`` zero, so the wrapped model computes exactly what the unwrapped one did until the first update) and
returns the same ``transformers`` model object, so the losses, evaluators and training loop of the full-finetune
attack run unchanged on it; only the adapter weights require gradients, so the loop trains only them.

The adapters' random ``A`` matrices are drawn under the attack's seed (torch's global generator forked, so
nothing else's randomness moves). Target modules default per architecture to every attention and MLP projection
(the output head and embeddings stay frozen); a config may name others.

Usage::

    model, info = attach(model, LoraAdversary(rank=8), seed=0)   # info: what the results record
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import option

# Every attention and MLP projection of each architecture (undo.models.ModelConfig.architecture); the names are those
# of transformers' Gemma2ForCausalLM and PhiForCausalLM.
DEFAULT_TARGETS = {
    "gemma2": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "phi": ("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"),
}


@dataclass(frozen=True, kw_only=True)
class LoraAdversary:
    """Relearn through LoRA adapters (peft) instead of finetuning every weight (module docstring)."""

    rank: int = option(8, "adapter rank r", gt=0)
    alpha: float = option(16.0, "LoRA scaling numerator: the update is (alpha / rank) B A", gt=0)
    dropout: float = option(0.0, "dropout on the adapters' input", ge=0, lt=1)
    target_modules: tuple[str, ...] | None = option(
        None, "names of the linear modules to adapt; None: every attention and MLP projection of the architecture "
              "(gemma2: q,k,v,o,gate,up,down_proj; phi: q,k,v_proj, dense, fc1, fc2)")

    def validate(self) -> None:
        if self.target_modules is not None and (not self.target_modules or not all(self.target_modules)):
            raise ValueError("target_modules: at least one module name (or leave it out for the architecture's "
                             "attention and MLP projections)")


def targets(cfg: LoraAdversary, model_type: str) -> tuple[str, ...]:
    """The module names to adapt: the config's, or the architecture's defaults."""
    if cfg.target_modules is not None:
        return cfg.target_modules
    if model_type not in DEFAULT_TARGETS:
        raise ValueError(f"lora.target_modules: no default for architecture {model_type!r}; name the modules "
                         f"to adapt")
    return DEFAULT_TARGETS[model_type]


def attach(model, cfg: LoraAdversary, seed: int) -> tuple[torch.nn.Module, dict]:
    """Inject LoRA adapters into ``model`` (in place; the same object is returned) and freeze everything else.

    Returns the model and what the results record: adversary kind, rank, alpha, dropout, target modules, trainable
    and total parameter counts. A target that matches no module is one ValueError line naming it."""
    from peft import LoraConfig, get_peft_model
    from peft.tuners.tuners_utils import NoMatchingPeftModuleError

    modules = targets(cfg, model.config.model_type)
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in modules if m not in present]
    if missing:
        raise ValueError(f"lora.target_modules: no module named {', '.join(missing)} in this "
                         f"{model.config.model_type} model")
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=list(modules),
                      bias="none")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            wrapped = get_peft_model(model, lora)
        except NoMatchingPeftModuleError as err:  # pragma: no cover - the check above names the module first
            raise ValueError(f"lora.target_modules: {err}") from None
    model = wrapped.get_base_model()  # the transformers model, now holding the adapters
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return model, {"kind": "lora", "rank": cfg.rank, "alpha": cfg.alpha, "dropout": cfg.dropout,
                   "target_modules": list(modules), "trainable_parameters": trainable, "parameters": total}
