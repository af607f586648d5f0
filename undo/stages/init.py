"""Stage ``init``: a freshly initialised Gemma-2 (Section 4) or a published pretrained model (Section 6).

The untrained model is the Unlearn-and-Distill student (Section 4). It is built exactly as
:mod:`undo.stages.pretrain` builds its model before the first step (same architecture block, same ``build_model``
initialiser, vocabulary from the same dataset's tokenizer), so "Random Init" in Table 6 means the distribution
pretraining starts from, not shrink-perturb noise.

With ``pretrained: {name_or_path, revision}`` the stage takes a published model instead (a hub id pinned by
``revision``, or a ``save_pretrained`` directory): loaded in fp32 with eager attention together with its own
tokenizer (:func:`undo.models.load_pretrained`) and saved into the artifact as a built model is, so every
downstream stage loads it with ``load_model``; ``data`` and ``model`` are then left out. The commit the weights were
read from is recorded as ``hub`` (:func:`undo.data.hub.hub_revision`: the one ``transformers`` reports, else one hub
lookup), so an unpinned model can be pinned after the fact. A gated hub model
(Gemma-2) without a token fails in seconds, before any download, with one line saying what to do.

With ``eval`` set, the model's retain and forget performance is recorded (for a random init, a chance-level floor).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Ref, option
from ..data.hub import hub_revision
from ..evals import EvalConfig, make_evaluator
from ..models import ModelConfig, build_model, count_parameters, load_pretrained, save_model
from . import Context
from .common import artifact_tokenizer, record_hub, write_summary

NAME = "init"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Pretrained:
    """A published model taken as is (Section 6, App. D.2: google/gemma-2-2b)."""

    name_or_path: str = option(doc="hub id (google/gemma-2-2b) or a directory written by save_pretrained")
    revision: str | None = option(None, "hub commit, branch or tag (a commit hash pins the weights); hub ids only")
    gated: bool = option(True, "the hub model needs an accepted licence and a token (Gemma-2 does): without HF_TOKEN "
                               "or a cached login, fail before any download", in_key=False)


@dataclass(frozen=True, kw_only=True)
class Config:
    data: Ref | None = option(None, "random init: dataset whose tokenizer fixes the vocabulary (the pretraining data)")
    model: ModelConfig | None = option(None, "random init: architecture (Table 1)")
    seed: int = option(0, "init seed")
    eval: EvalConfig | None = option(None, "evaluate the model (untrained: a chance-level floor)")
    pretrained: Pretrained | None = option(None, "take this published model instead of a random init "
                                                 "(Section 6: google/gemma-2-2b)", key_if_set=True)

    def validate(self) -> None:
        if self.pretrained is None:
            if self.data is None:
                raise ValueError("data: a random init needs the dataset whose tokenizer fixes its vocabulary "
                                 "(or set pretrained)")
            if self.model is None:
                raise ValueError("model: a random init needs its architecture (or set pretrained)")
            return
        if self.model is not None:
            raise ValueError("model: a pretrained model brings its own architecture; remove model")
        if self.data is not None:
            raise ValueError("data: a pretrained model brings its own tokenizer; remove data")


def _record_commit(ctx: Context, src: Pretrained, model, summary: dict) -> None:
    """The commit the weights came from: the hash ``transformers`` read them at (known offline too), else one hub
    lookup; nothing for a local directory."""
    record = hub_revision(src.name_or_path, revision=src.revision, repo_type="model",
                          read=getattr(model.config, "_commit_hash", None), offline_variables=("HF_HUB_OFFLINE",))
    record_hub(ctx, summary, record)


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    if cfg.pretrained is not None:
        src = cfg.pretrained
        model, tokenizer = load_pretrained(src.name_or_path, src.revision, ctx.device, gated=src.gated)
    else:
        tokenizer = artifact_tokenizer(ctx.input(cfg.data))
        model = build_model(cfg.model, len(tokenizer), cfg.seed, ctx.device)
    metrics = make_evaluator(cfg.eval, tokenizer, ctx.device, ctx.input)(model) if cfg.eval else {}
    save_model(model, tokenizer, ctx.workdir / "model")
    summary = {"steps": 0, "parameters": count_parameters(model), "seed": cfg.seed, "eval": metrics}
    if cfg.pretrained is not None:
        summary["pretrained"] = {"name_or_path": cfg.pretrained.name_or_path, "revision": cfg.pretrained.revision,
                                 "commit": getattr(model.config, "_commit_hash", None)}
        _record_commit(ctx, cfg.pretrained, model, summary)
    write_summary(ctx.workdir, summary)
    what = f"pretrained {cfg.pretrained.name_or_path}" if cfg.pretrained is not None else f"seed {cfg.seed}"
    ctx.log(f"{summary['parameters']:,} parameters, {what}; eval {metrics}")
    return summary
