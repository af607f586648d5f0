"""What a planned run will fetch and cost, before it runs (``undo run ... --dry-run``).

For every stage instance of a plan: the hub assets it fetches (models, tokenizers and datasets, each with its
revision, or "unpinned (default branch)" when its config pins none) and the local files it reads; the training
tokens and FLOPs; the GPU-hours those FLOPs take; and the disk its artifact keeps. Nothing is read from the
network or the artifact store: everything comes from the resolved configs.

Compute counts the matmul work of the model, with N its parameter count (tied embedding included: it is also
the LM head's matmul) and attention's T x T terms left out (about 4% for gemma-2-2b at 1024 tokens):

- training: 6 N per token, tokens = steps x batch_size x grad_accum x seq_len (seq_len: the dataset's window
  length); unlearning reads a forget and a retain micro-batch per step, SAM takes a second forward and backward
  on the forget batch (its ascent step);
- forward only: 2 N per token, for a distillation teacher (Section 3), for the frozen model of MaxEnt's KL
  retain term and of RMU's retain term (App. D.2.3), and for evaluations;
- relearning (Table 4, App. D.2.5): learning rates x steps x batch_size x seq_len, each rate from the same
  model; a ``bracket`` may add rates, which are not counted; a LoRA adversary 4 N per token (no gradient of the
  frozen weights);
- evaluations, roughly: per evaluation, items x choices x prompt length forward tokens, with item counts of the
  published benchmarks (``BENCHMARK_ITEMS``), an assumed ``ITEM_TOKENS`` per question with its choices, and
  ``shots + 1`` such blocks for a few-shot prompt. The kit's own scorer runs one sequence per choice; the harness
  scores the one-token letter continuations of one context with one forward pass. Benchmarks of the other
  sources (local files, the generated world) and other evaluation kinds are not counted.

Steps are the configured maximum, or ``epochs`` passes over the dataset's estimated windows: a stop rule may end a
stage earlier.

GPU-hours = FLOPs / (peak x MFU): peak is the dense bf16 rate of an H100 or H200 SXM, 989 TFLOP/s (NVIDIA's
datasheets; :mod:`undo.bench` uses the same table); the MFU is an assumption (0.35), to be replaced by what
``undo bench`` measures on the machine at hand. Both are options of the dry run.

Disk: a model artifact holds fp32 safetensors weights (the kit loads and saves models in fp32:
:func:`undo.models.save_model`), 4 bytes per parameter; while a stage trains past ``checkpoint_every`` steps it
also keeps a resumable checkpoint (weights + AdamW's two moments, 12 bytes per parameter) that is deleted when the
stage commits (:meth:`undo.store.Artifact.commit`): scratch, not kept. A select stage hard-links its chosen model
(no new bytes). A dataset keeps int32 tokens (4 bytes each); a corpus its documents, about
``CHARS_PER_TOKEN`` bytes per token and ``TOKENS_PER_DOCUMENT`` tokens per document (``max_documents`` of a
hub corpus; the byte size of a local file that exists). A corpus without a document cap or a dataset of such
corpora has a size only known once read: counted as unknown.

Usage::

    costs = Costs(peak_flops=989e12, mfu=0.35)
    costs.of(node)                    # Estimate(assets, train_tokens, flops, eval_flops, disk_bytes, scratch_bytes)
    lines = costs.report(nodes, describe(nodes), to_run=lambda n: status(n) != "done", gpu=True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Published models the kit loads by name: gemma-2-2b has 2.61e9 parameters (2,614,341,888: its model card on the
# hub lists 2.61B; the Gemma-2 formula below at its shape, reproduce/wmdp/model.yaml, gives the same count) and a
# 256,000-token vocabulary.
# gemma-2-2b-it is the same network instruction-tuned; phi-1_5 has 1.42e9 parameters (1,418,270,720 by the Phi
# formula below at its shape, reproduce/tofu/phi/model.yaml; its model card says 1.3B without the embeddings) and a
# 51,200-token vocabulary (its config.json).
PUBLISHED_MODELS = {"google/gemma-2-2b": {"parameters": 2.61e9, "vocab_size": 256_000},
                    "google/gemma-2-2b-it": {"parameters": 2.61e9, "vocab_size": 256_000},
                    "microsoft/phi-1_5": {"parameters": 1.42e9, "vocab_size": 51_200}}

# TOFU (locuslab/TOFU, its dataset card): 200 authors x 20 pairs; forget01/05/10 are 1/5/10% of them, the holdout
# sets as many unseen authors; the perturbed sets of retain (400), real authors (100) and world facts (117).
TOFU_SPLIT_ITEMS = {"full": 4000, "forget01": 40, "forget05": 200, "forget10": 400, "retain99": 3960, "retain95": 3800,
                    "retain90": 3600, "holdout01": 40, "holdout05": 200, "holdout10": 400, "retain_perturbed": 400,
                    "real_authors_perturbed": 100, "world_facts_perturbed": 117, "real_authors": 100,
                    "world_facts": 117}
TOFU_OPTIONS = 5 + 1 + 1        # per perturbed item: the answer, its paraphrase and five perturbed answers

H100_BF16_PEAK_FLOPS = 989e12   # dense bf16, H100/H200 SXM (NVIDIA datasheets)
ASSUMED_MFU = 0.35              # an assumption; `undo bench` measures the real one

FP32_BYTES = 4                  # weights as saved (fp32 safetensors)
CHECKPOINT_BYTES_PER_PARAMETER = 4 + 8  # fp32 weights + AdamW's exp_avg and exp_avg_sq
TOKEN_BYTES = 4                 # datasets store int32 token ids (tokens.npy)
TOKENS_PER_DOCUMENT = 1000      # web text: FineWeb-Edu's sample-10BT is ~10B tokens in ~10M documents
CHARS_PER_TOKEN = 4             # English text per token, roughly, for documents.jsonl sizes

# Items of the published benchmarks (their hub dataset cards): WMDP (cais/wmdp) 1,273 bio, 1,987 cyber, 408 chem;
# MMLU (cais/mmlu, config all) 14,042 test items. Keyed by (hub path, config) and by the harness's task name.
BENCHMARK_ITEMS = {("cais/wmdp", "wmdp-bio"): 1273, ("cais/wmdp", "wmdp-cyber"): 1987,
                   ("cais/wmdp", "wmdp-chem"): 408, ("cais/mmlu", "all"): 14042}
HARNESS_TASK_ITEMS = {"wmdp_bio": 1273, "wmdp_cyber": 1987, "wmdp_chem": 408, "mmlu": 14042}
ITEM_TOKENS = 128               # assumed tokens of one question with its four choices (a rough average)
CHOICES = 4

UNPINNED = "unpinned (default branch)"


@dataclass(frozen=True)
class Asset:
    """Something a stage reads from outside the store: a hub model, tokenizer or dataset, a PyPI package, or a
    local file."""

    kind: str                   # model, tokenizer, dataset, package, or file
    name: str                   # hub id with config and split, package==version, or a local path
    revision: str | None = None  # hub: commit, branch or tag; package: its sha256

    def __str__(self) -> str:
        if self.kind == "file":
            return self.name + ("" if Path(self.name).expanduser().is_file() else "  (not there yet)")
        if self.kind == "package":
            return f"package {self.name} from PyPI, sha256 {self.revision}"
        return f"{self.kind} {self.name} @ {self.revision or UNPINNED}"


@dataclass
class Estimate:
    """One stage instance's cost; ``disk_bytes`` None: not known before the stage reads its data."""

    assets: list[Asset] = field(default_factory=list)
    train_tokens: int = 0
    flops: float = 0.0
    eval_flops: float = 0.0
    disk_bytes: float | None = 0.0
    scratch_bytes: float = 0.0  # a resumable checkpoint, deleted when the stage commits

    @property
    def total_flops(self) -> float:
        return self.flops + self.eval_flops


def gemma2_parameters(model_cfg, vocab_size: int) -> int:
    """Parameters of a Gemma-2 with tied embeddings (:func:`undo.models.hf_config`): the embedding, per layer the
    q/k/v/o projections (no biases), the gated MLP's three matrices and four RMSNorm weights, and the final norm."""
    d, heads, kv, head_dim = (model_cfg.hidden_size, model_cfg.num_attention_heads, model_cfg.num_key_value_heads,
                              model_cfg.head_dim)
    attention = d * heads * head_dim * 2 + d * kv * head_dim * 2   # q and o; k and v
    mlp = 3 * d * model_cfg.intermediate_size                      # gate, up, down
    norms = 4 * d                                                  # pre/post attention, pre/post MLP
    vocab = model_cfg.vocab_size or vocab_size
    return vocab * d + model_cfg.num_hidden_layers * (attention + mlp + norms) + d


def phi_parameters(model_cfg, vocab_size: int) -> int:
    """Parameters of a Phi (:func:`undo.models.hf_config`, ``architecture: phi``): the embedding and the untied head
    with its bias, per layer the q/k/v/dense projections and the two MLP matrices with biases and one LayerNorm, and
    the final LayerNorm."""
    d, ff, kv_dim = model_cfg.hidden_size, model_cfg.intermediate_size, (
        model_cfg.hidden_size // model_cfg.num_attention_heads * model_cfg.num_key_value_heads)
    vocab = model_cfg.vocab_size or vocab_size
    attention = (d * d + d) * 2 + (d * kv_dim + kv_dim) * 2            # q and dense; k and v
    mlp = d * ff + ff + ff * d + d
    return 2 * vocab * d + vocab + model_cfg.num_hidden_layers * (attention + mlp + 2 * d) + 2 * d


def model_parameters(model_cfg, vocab_size: int) -> int:
    """Parameters of a model the kit builds, of either family."""
    if getattr(model_cfg, "architecture", "gemma2") == "phi":
        return phi_parameters(model_cfg, vocab_size)
    return gemma2_parameters(model_cfg, vocab_size)


def gpu_hours(flops: float, peak_flops: float, mfu: float) -> float:
    return flops / (peak_flops * mfu) / 3600


def _upstream(node, ref) -> Any:
    """The upstream node a config field names (the first one, for a stage that chooses among several)."""
    up = node.upstream.get(str(ref))
    return up[0] if isinstance(up, list) else up


def _artifact_key(node) -> tuple:
    """Instances that share an artifact (same stage and key) are one piece of work; a figure is its own."""
    return (node.stage, node.key) if node.artifact is not None else (node.stage, id(node))


def _size(n: float | None) -> str:
    if n is None:
        return "?"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


class Costs:
    """Estimates for the nodes of one plan, under one assumed GPU."""

    def __init__(self, peak_flops: float = H100_BF16_PEAK_FLOPS, mfu: float = ASSUMED_MFU):
        if not peak_flops > 0:
            raise ValueError(f"GPU peak must be positive, got {peak_flops:g} FLOP/s")
        if not 0 < mfu <= 1:
            raise ValueError(f"MFU must be in (0, 1], got {mfu:g}")
        self.peak_flops, self.mfu = peak_flops, mfu
        self._memo: dict[int, Estimate] = {}

    # ------------------------------------------------------------------ sizes read from the configs

    def vocab_size(self, tokenizer_node) -> int | None:
        cfg = tokenizer_node.cfg
        if cfg.kind == "pretrained":
            return PUBLISHED_MODELS.get(cfg.name_or_path, {}).get("vocab_size")
        return 259 if cfg.kind == "bytes" else cfg.vocab_size  # undo.tokenizer.byte_tokenizer: 3 specials + 256

    def parameters(self, node) -> float | None:
        """N of the model a stage trains, perturbs or attacks (None: a published model of unknown size)."""
        cfg = node.cfg
        if node.stage == "init" and cfg.pretrained is not None:
            return PUBLISHED_MODELS.get(cfg.pretrained.name_or_path, {}).get("parameters")
        if node.stage == "pretrain" and cfg.start is not None:  # finetuning: the start model's size
            return self.parameters(_upstream(node, cfg.start))
        if node.stage in ("init", "pretrain"):  # a random init: its vocabulary is its data's tokenizer's
            data = _upstream(node, cfg.data)
            tokenizer = _upstream(data, data.cfg.tokenizer) if data.stage == "dataset" else data
            vocab = cfg.model.vocab_size or (self.vocab_size(tokenizer) if tokenizer.stage == "tokenizer" else None)
            return None if vocab is None else model_parameters(cfg.model, vocab)
        field_name = {"unlearn": "model", "noise": "model", "relearn": "model", "distill": "student",
                      "select": "candidates", "quantize": "model"}.get(node.stage)
        if field_name is None:
            return None
        return self.parameters(_upstream(node, getattr(cfg, field_name)))

    def steps(self, node) -> int:
        """Optimizer steps a training stage runs at most."""
        cfg = node.cfg
        if node.stage == "pretrain" and cfg.match is not None:
            return cfg.match.max_steps
        if node.stage == "distill" and cfg.max_steps_from is not None:
            return self.steps(_upstream(node, cfg.max_steps_from))
        if node.stage == "select":
            return self.steps(_upstream(node, cfg.candidates))
        optim = getattr(cfg, "optim", None)
        if optim is None:
            return 0
        data = _upstream(node, cfg.data) if node.stage in ("pretrain", "distill") else None
        tokens = self.dataset_tokens(data) if optim.epochs is not None and data is not None else None
        if not tokens:  # no epoch limit, or a dataset of unknown size: the step cap
            return optim.max_steps
        return optim.total_steps(int(tokens // data.cfg.seq_len))  # ``epochs`` passes over the estimated windows

    def corpus_tokens(self, node) -> float | None:
        src = node.cfg.source
        if src.kind == "jsonl":
            file = Path(src.path).expanduser()
            return file.stat().st_size / CHARS_PER_TOKEN if file.is_file() else None
        if node.cfg.max_documents is not None:
            per_document = TOKENS_PER_DOCUMENT
            if src.kind in ("pypi", "pypi_sdist", "stdlib_pydoc"):  # text split into documents of max_chars at most
                per_document = min(per_document, src.max_chars / CHARS_PER_TOKEN)
            return node.cfg.max_documents * per_document
        return None  # a whole hub split, generated or packaged text: known once read

    @staticmethod
    def tofu_items(tofu_node, split: str) -> int | None:
        """Items of a TOFU split: the hub's counts, or the generated set's (authors x questions, by share)."""
        cfg = tofu_node.cfg
        if cfg.source == "hf":
            return TOFU_SPLIT_ITEMS.get(split)
        if cfg.source != "generated":
            return None
        from .data.tofu import share

        per_author = cfg.questions_per_author
        for prefix, pct_of in (("forget", None), ("holdout", None), ("retain", 100)):
            if split.startswith(prefix) and split[len(prefix):].isdigit():
                pct = int(split[len(prefix):])
                authors = cfg.authors - share(cfg.authors, pct_of - pct) if pct_of else share(cfg.authors, pct)
                return authors * per_author
        return cfg.authors * per_author if split == "full" else None

    def dataset_tokens(self, node) -> float | None:
        """Tokens a dataset keeps: ``max_sequences`` windows, or what its mix of corpora gives (mixing stops when
        the first corpus runs out, or the last one: the smallest or largest tokens/weight); a ``qa`` dataset has a
        row of ``seq_len`` per pair of its split."""
        cfg = node.cfg
        if node.stage == "qa":
            items = self.tofu_items(_upstream(node, cfg.items), cfg.split)
            return None if items is None else items * cfg.seq_len
        if cfg.max_sequences is not None:
            return cfg.max_sequences * cfg.seq_len
        per_weight = []
        for part in cfg.parts:
            tokens = self.corpus_tokens(_upstream(node, part.corpus))
            if tokens is None:
                return None
            if part.weight > 0:
                per_weight.append(tokens / part.weight)
        total = sum(p.weight for p in cfg.parts)
        pick = min if cfg.stopping == "first_exhausted" else max
        return pick(per_weight) * total if per_weight else 0.0

    # ------------------------------------------------------------------ evaluations

    def _benchmark_tokens(self, node, questions_ref, shots: int, per_choice: bool) -> float:
        """Forward tokens of one pass over a questions stage's benchmark (0: not counted, see module doc)."""
        q = _upstream(node, questions_ref)
        if q is None or q.cfg.source != "hf":
            return 0.0
        items = BENCHMARK_ITEMS.get((q.cfg.path, q.cfg.config_name))
        if items is None:
            return 0.0
        items = math.ceil(items * (q.cfg.fraction or 1.0))
        if q.cfg.max_items is not None:
            items = min(items, q.cfg.max_items)
        return items * (CHOICES if per_choice else 1) * (shots + 1) * ITEM_TOKENS

    def eval_tokens(self, node, eval_cfg, roles=("retain", "forget")) -> float:
        """Forward tokens of one evaluation (rough: module doc)."""
        if eval_cfg is None:
            return 0.0
        if eval_cfg.kind == "multiple_choice":
            mc = eval_cfg.multiple_choice
            cap = mc.max_items
            tokens = {"retain": self._benchmark_tokens(node, mc.retain, mc.retain_shots, per_choice=True),
                      "forget": self._benchmark_tokens(node, mc.forget, 0, per_choice=True)}
            if cap is not None:  # the first max_items of each benchmark
                tokens = {role: min(t, cap * CHOICES * ITEM_TOKENS * ((mc.retain_shots if role == "retain" else 0) + 1))
                          for role, t in tokens.items()}
            return sum(tokens[r] for r in roles)
        if eval_cfg.kind == "tofu":
            t = eval_cfg.tofu
            items = t.max_items or 400     # TOFU's forget10 and retain perturbed sets; real authors and world facts
            sets = {"forget": 1 + (2 if t.holdout_split else 0), "retain": 3}    # fewer: an upper bound
            # scoring every option of an item, then a greedy answer (cached keys: prompt + new tokens, once each)
            per_set = items * (TOFU_OPTIONS * ITEM_TOKENS + (ITEM_TOKENS + t.max_new_tokens if t.rouge else 0))
            return sum(sets[r] for r in roles) * per_set
        if eval_cfg.kind == "harness":
            h = eval_cfg.harness
            tasks = {"retain": (h.retain, h.retain_task, h.retain_limit, h.retain_fewshot),
                     "forget": (h.forget, h.forget_task, h.forget_limit, h.forget_fewshot)}
            total = 0.0
            for role in roles:
                questions, task, limit, shots = tasks[role]
                if questions is not None:  # tasks built from a questions stage's items (already cut to its fraction)
                    total += self._benchmark_tokens(node, questions, shots, per_choice=False) * limit
                else:  # the harness's own task, by name
                    total += math.ceil(HARNESS_TASK_ITEMS.get(task, 0) * limit) * (shots + 1) * ITEM_TOKENS
            return total
        return 0.0

    @staticmethod
    def _eval_points(steps: int, every: int, extra: tuple[int, ...] = ()) -> int:
        """Evaluations of a training loop: step 0, every ``every`` steps, the last step and ``extra`` steps."""
        return len({0, steps, *extra, *(range(every, steps + 1, every) if every else ())})

    # ------------------------------------------------------------------ one stage instance

    def of(self, node) -> Estimate:
        """The estimate of one instance; a stage registered from outside the kit (``undo.stages.register``) costs
        nothing that can be known here."""
        if id(node) not in self._memo:
            own = node.module.__name__ == f"undo.stages.{node.stage}"
            self._memo[id(node)] = self._estimate(node) if own else Estimate()
        return self._memo[id(node)]

    def _estimate(self, node) -> Estimate:
        cfg, stage, est = node.cfg, node.stage, Estimate()
        n = self.parameters(node)
        if stage == "init":
            if cfg.pretrained is not None:
                est.assets.append(Asset("model", cfg.pretrained.name_or_path, cfg.pretrained.revision))
            est.eval_flops = 2 * (n or 0) * self.eval_tokens(node, cfg.eval)
        elif stage == "tokenizer" and cfg.kind == "pretrained" and not Path(cfg.name_or_path).expanduser().exists():
            est.assets.append(Asset("tokenizer", cfg.name_or_path, cfg.revision))
        elif stage == "corpus":
            src = cfg.source
            if src.kind == "hf":
                if src.data_files:
                    est.assets += [Asset("file", f) for f in src.data_files]
                else:
                    est.assets.append(Asset("dataset", f"{src.path} ({src.config_name or 'default'}, {src.split})",
                                            src.revision))
            elif src.kind == "jsonl":
                est.assets.append(Asset("file", src.path))
            elif src.kind in ("pypi", "pypi_sdist"):
                dist = src.dist if src.kind == "pypi" else "sdist"
                est.assets.append(Asset("package", f"{src.package}=={src.version} ({dist})", src.sha256))
            tokens = self.corpus_tokens(node)
            est.disk_bytes = None if tokens is None else tokens * CHARS_PER_TOKEN
        elif stage == "questions" and cfg.source == "hf":
            if cfg.data_files:
                est.assets += [Asset("file", f) for files in cfg.data_files.values() for f in files]
            else:
                splits = ", ".join(s for s in (cfg.split, cfg.shots_split) if s)
                est.assets.append(Asset("dataset", f"{cfg.path} ({cfg.config_name or 'default'}, {splits})",
                                        cfg.revision))
        elif stage == "questions" and cfg.source == "jsonl":
            est.assets.append(Asset("file", cfg.path))
        elif stage in ("dataset", "qa"):
            tokens = self.dataset_tokens(node)
            est.disk_bytes = None if tokens is None else tokens * TOKEN_BYTES * (2 if stage == "qa" else 1)
        elif stage == "tofu" and cfg.source == "hf":
            if cfg.data_files:
                est.assets += [Asset("file", f) for files in cfg.data_files.values() for f in files]
            else:
                est.assets.append(Asset("dataset", f"{cfg.path or 'locuslab/TOFU'} ({', '.join(cfg.splits)}; train)",
                                        cfg.revision))
        if n is None:
            return est
        if stage in ("init", "noise", "pretrain", "unlearn", "distill"):
            est.disk_bytes = n * FP32_BYTES
        if stage in ("pretrain", "unlearn", "distill"):
            self._training(node, n, est)
        elif stage == "relearn":
            seq_len = _upstream(node, cfg.data).cfg.seq_len
            rates = len(cfg.lrs)
            est.train_tokens = rates * cfg.steps * cfg.batch_size * seq_len
            # a LoRA adversary (relearn's lora) takes no gradient of the frozen weights: forward 2N, backward to the
            # activations 2N (the adapters' own few parameters left out)
            est.flops = (4 if cfg.lora is not None else 6) * n * est.train_tokens
            points = self._eval_points(cfg.steps, 0 if cfg.eval_steps else cfg.eval_every, cfg.eval_steps or ())
            retain_points = 1 if cfg.retain_at == "start" else points
            est.eval_flops = 2 * n * rates * (points * self.eval_tokens(node, cfg.eval, ("forget",))
                                              + retain_points * self.eval_tokens(node, cfg.eval, ("retain",)))
            est.disk_bytes = 0.0  # curves and results JSON: the attacked weights are never saved
        elif stage == "quantize":
            est.eval_flops = 2 * n * len(cfg.modes) * self.eval_tokens(node, cfg.eval)
            est.disk_bytes = 0.0  # metrics only: the quantized weights are never saved
        return est

    def _training(self, node, n: float, est: Estimate) -> None:
        cfg, stage = node.cfg, node.stage
        steps, optim = self.steps(node), cfg.optim
        micro = steps * optim.grad_accum * optim.batch_size
        forward_flops = 0.0  # of models that run without gradients: a teacher, a frozen copy
        if stage == "unlearn":
            forget = micro * _upstream(node, cfg.forget).cfg.seq_len
            retain = micro * _upstream(node, cfg.retain).cfg.seq_len
            est.train_tokens = forget + retain
            options = dict(cfg.options)
            if cfg.method == "sam":  # a second forward and backward on the forget batch (the ascent step)
                est.train_tokens += forget
                options = dict(options.get("base_options", {}), method=options.get("base", "maxent"))
            method = options.get("method", cfg.method)
            frozen_on_retain = ((method == "maxent" and options.get("retain_loss") == "kl")
                                or (method == "rmu" and options.get("retain_term", True)))
            forward_flops = 2 * n * retain if frozen_on_retain else 0.0
        else:
            est.train_tokens = micro * _upstream(node, cfg.data).cfg.seq_len
            if stage == "distill":
                teacher = self.parameters(_upstream(node, cfg.teacher)) or n
                forward_flops = 2 * teacher * est.train_tokens
        est.flops = 6 * n * est.train_tokens + forward_flops
        evals = self._eval_points(steps, cfg.eval_every) + (1 if stage == "distill" else 0)  # + the teacher's
        est.eval_flops = 2 * n * evals * self.eval_tokens(node, cfg.eval)
        if steps > optim.checkpoint_every:
            est.scratch_bytes = n * CHECKPOINT_BYTES_PER_PARAMETER

    # ------------------------------------------------------------------ what the dry run prints

    def report(self, nodes: list, stage_lines: list[str], to_run: Callable[[Any], bool], gpu: bool) -> list[str]:
        """The dry run: each stage line with its cost and, below it, what it reads; then the totals. An instance
        whose artifact an earlier line already names (one file read through two setting directories) is counted
        once."""
        out, seen = [], set()
        for node, line in zip(nodes, stage_lines, strict=True):
            if _artifact_key(node) in seen:
                out.append(line + "  ~ the same artifact as above")
                continue
            seen.add(_artifact_key(node))
            out.append(line + self._cost_text(node, gpu))
            out += [f"{'':20}reads {asset}" for asset in self.of(node).assets]
        distinct = list({_artifact_key(n): n for n in reversed(nodes)}.values())[::-1]
        return out + self.totals(distinct, to_run, gpu, instances=len(nodes))

    def _cost_text(self, node, gpu: bool) -> str:
        """The cost appended to a stage's dry-run line ('' for a stage that costs nothing worth saying)."""
        est = self.of(node)
        parts = []
        if est.total_flops:
            hours = f" = {gpu_hours(est.total_flops, self.peak_flops, self.mfu):.3g} GPU-h" if gpu else ""
            parts.append(f"{est.train_tokens:.3g} train tokens, {est.total_flops:.3g} FLOP{hours}")
        if est.disk_bytes != 0:
            parts.append(f"disk {_size(est.disk_bytes)}")
        if est.scratch_bytes:
            parts.append(f"+{_size(est.scratch_bytes)} checkpoint while running")
        return f"  ~ {', '.join(parts)}" if parts else ""

    def totals(self, nodes: list, to_run: Callable[[Any], bool], gpu: bool, instances: int | None = None) -> list[str]:
        """Compute, disk and assets of ``nodes`` (distinct artifacts), and of those ``to_run`` says are not done."""
        todo = [n for n in nodes if to_run(n)]
        flops_all = sum(self.of(n).total_flops for n in nodes)
        flops_todo = sum(self.of(n).total_flops for n in todo)
        train = sum(self.of(n).flops for n in nodes)
        lines = [f"total: {instances or len(nodes)} stage instances, {len(nodes)} distinct, {len(todo)} to run"]
        if gpu:
            lines.append(
                f"  compute: {gpu_hours(flops_todo, self.peak_flops, self.mfu):,.0f} GPU-hours to run "
                f"({gpu_hours(flops_all, self.peak_flops, self.mfu):,.0f} for all): {flops_todo:.3g} FLOP "
                f"({flops_all:.3g} all; {train / flops_all if flops_all else 0:.0%} training with its teacher and frozen-model "
                f"forwards, the rest evaluation) "
                f"at {self.peak_flops / 1e12:g} TFLOP/s peak x MFU {self.mfu:g}")
        else:
            lines.append(f"  compute: {flops_todo:.3g} FLOP to run ({flops_all:.3g} all); "
                         "GPU-hours are estimated at scale paper only")
        kept = [self.of(n).disk_bytes for n in nodes]
        kept_todo = [self.of(n).disk_bytes for n in todo]
        unknown = sum(1 for b in kept if b is None)
        scratch = max((self.of(n).scratch_bytes for n in todo), default=0)
        lines.append(f"  disk: {_size(sum(b for b in kept_todo if b))} to write ({_size(sum(b for b in kept if b))} "
                     f"for all)" + (f", plus {unknown} corpora/datasets of unknown size (a whole hub split or a local "
                                    "file not there yet)" if unknown else "")
                     + (f"; a resumable checkpoint needs up to {_size(scratch)} more while its stage runs"
                        if scratch else ""))
        assets = sorted({a for n in nodes for a in self.of(n).assets}, key=lambda a: (a.kind, a.name))
        hub = [a for a in assets if a.kind not in ("file", "package")]
        lines.append(f"  hub assets ({len(hub)}):" + ("" if hub else " none"))
        lines += [f"    {a}" for a in hub]
        for kind, title in (("package", "PyPI packages"), ("file", "local files")):
            listed = [a for a in assets if a.kind == kind]
            if listed:
                lines.append(f"  {title} ({len(listed)}):")
                lines += [f"    {a}" for a in listed]
        return lines
