"""The paper's hyperparameter Tables 1-12 (Appendix A-D.2), regenerated from the paper-scale configs.

Every cell is read from a config resolved at scale ``paper`` through :class:`undo.pipeline.Graph`
(bases, scale overlay and defaults applied; nothing is run and the artifact store is not read).
``TABLE_CONFIGS`` below says which config file feeds which column. ``tests/test_tables.py`` holds
the paper's values and compares them cell by cell, so a config drifting from the paper fails there.

Usage::

    from pathlib import Path
    from undo.paper.tables import all_tables, to_latex, to_markdown

    tables = all_tables(Path("."))           # the repository root holding reproduce/
    print(to_markdown(tables))
    Path("tables.tex").write_text(to_latex(tables))

or ``undo tables --out figures/tables`` (``make tables``).

Display rules (how a config value becomes a cell, to read like the paper):

- learning rates in the paper's e-notation (``4e-4``), other numbers as ``%g`` (``0.1``, ``1200``);
- ``Maximum Steps`` is ``-`` when the config's step cap is the placeholder ``NO_STEP_CAP`` with
  ``epochs`` set: such a run ends after its epochs, which is what the paper's ``-`` means;
- ``Min Learning Rate`` of a config without ``min_lr`` is its ``lr`` (the schedule's floor);
- data columns name the corpora of the dataset config (``DATA_LABELS``), rarest part first, and
  the mixture ratio in that order (``All Ops + English``, ``1:3``); a single corpus has ratio ``-``;
  Table 6's interleave probabilities keep the dataset config's own part order;
- model sizes are counted from ``ModelConfig`` with the tokenizer's vocabulary (``VOCAB_SIZES``,
  tied embeddings), and named and printed to one significant figure as the paper does
  (112.9M parameters: ``Gemma-2-0.1B``, ``100M``);
- Table 5's batch is sequences per optimizer step (``batch_size`` x ``grad_accum``; that table has
  no accumulation row); an option a config holds but switches off is printed ``(unused)``.

Tables 7 and 8 list the (alpha, beta) pairs and rho values that configs of RepNoise and SAM hold.
When only one point is configured, the grid search of App. D.1 is not in the configs: the table
says so in ``Table.missing`` (the kit's code keeps the grids as ``undo.unlearn.repnoise.TABLE7_GRID``
and ``undo.unlearn.sam.TABLE8_RHOS``, but no config sweeps them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce
from pathlib import Path

from ..config import build, config_files, load_raw
from ..pipeline import Graph, Node
from ..store import Store
from ..unlearn import get_method

# ----------------------------------------------------------------------------- table -> configs

# Each table's columns and the config files (under reproduce/) each column reads. Table 3's columns
# read both oracle-matching students (Figure 2 a); the second file only adds its student's name.
_METHODS = {"graddiff": "GradDiff", "maxent": "MaxEnt", "rmu": "RMU"}
TABLE_CONFIGS: dict[int, dict[str, tuple[str, ...]]] = {
    1: {"Language": ("synthetic/language/pretrain_reference.yaml",),
        "Arithmetic": ("synthetic/arithmetic/pretrain_reference.yaml",)},
    2: {"Language Base": ("synthetic/language/pretrain_reference.yaml",),
        "Language Oracle": ("synthetic/language/pretrain_oracle.yaml",),
        "Arithmetic Base": ("synthetic/arithmetic/pretrain_reference.yaml",),
        "Arithmetic Oracle": ("synthetic/arithmetic/pretrain_oracle.yaml",)},
    3: {"Language Distillation": ("synthetic/language/distill_oracle_reference.yaml",
                                  "synthetic/language/distill_oracle_random.yaml"),
        "Arithmetic Distillation": ("synthetic/arithmetic/distill_oracle_reference.yaml",
                                    "synthetic/arithmetic/distill_oracle_random.yaml")},
    4: {"Language Relearning": ("synthetic/language/relearn.yaml[model=distill_oracle_reference]",),
        "Arithmetic Relearning": ("synthetic/arithmetic/relearn.yaml[model=distill_oracle_reference]",)},
    5: {f"{setting.title()} {label}": (f"synthetic/{setting}/unlearn_{method}.yaml",)
        for setting in ("language", "arithmetic") for method, label in _METHODS.items()},
    6: {f"{setting.title()} {label}": (f"synthetic/{setting}/distill_random.yaml[teacher=select_{method}]",)
        for setting in ("language", "arithmetic") for method, label in _METHODS.items()},
}
# Tables 7 and 8 gather every stage config of reproduce/synthetic/<setting>/ that runs this unlearning method.
GRID_METHODS = {7: "repnoise", 8: "sam"}
SETTINGS = ("language", "arithmetic")

CAPTIONS = {
    1: "Model Architecture Parameters",
    2: "Pretraining Hyperparameters",
    3: "Oracle Matching Hyperparameters",
    4: "Relearning Hyperparameters",
    5: "Unlearning Hyperparameters",
    6: "Distillation Hyperparameters",
    7: "RepNoise parameter configurations (alpha: noise loss weight, beta: ascent loss weight)",
    8: "SAM perturbation radius values explored",
    9: "Hyperparameter Settings (WMDP unlearning)",
    10: "Selected Models Ordered by Performance Trade-off",
    11: "Auxiliary Dataset Composition",
    12: "Configuration of the adversary techniques used to evaluate unlearning robustness",
}
WMDP_DOMAINS = ("bio", "cyber")
# Table 12's dataset numbers, by the relearning dataset config an adversary reads (long versions share them).
ADVERSARY_DATA = {"data_forget_retain": "1", "data_forget_retain_qa": "2", "data_wiki_qa": "3"}

# The paper's names for the corpora, by corpus config file.
DATA_LABELS = {
    "corpus_english.yaml": "English",
    "corpus_korean.yaml": "Korean",
    "corpus_arith_all.yaml": "All Ops",
    "corpus_arith_retain.yaml": "Add/Sub",
    "corpus_arith_forget.yaml": "Mul/Div",
    "corpus_arith_forget_attack.yaml": "Mul/Div",  # the relearning attack's share of the mul/div facts
}
# The paper's names for a model by the stage (and file) that makes it.
MODEL_ROLES = {"pretrain_reference.yaml": "Base", "pretrain_oracle.yaml": "Oracle", "init.yaml": "Random Init"}
# Vocabulary of a pretrained tokenizer (App. A: Gemma-2-2b's), which ModelConfig takes when vocab_size is None.
VOCAB_SIZES = {"google/gemma-2-2b": 256_000}
# The configs write this step cap, with `epochs: 1`, for the paper's "no step cap, one epoch".
NO_STEP_CAP = 1_000_000


@dataclass
class Table:
    """One of the paper's tables as generated: header, rows of cells, and where they came from."""

    number: int
    caption: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    sources: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    missing: str | None = None  # what the paper's table has that no config holds

    def cell(self, row: str, column: str) -> str:
        (found,) = [r for r in self.rows if r[0] == row]
        return found[self.header.index(column)]


# ----------------------------------------------------------------------------- reading configs

class Configs:
    """The paper-scale configs under ``root/reproduce``, resolved once each."""

    def __init__(self, root: Path):
        self.reproduce = Path(root).resolve() / "reproduce"
        # Resolving only reads YAML; the store is named but never opened.
        self.graph = Graph(Store(Path(root) / "artifacts"), "paper")

    def node(self, ref: str | Path) -> Node:
        """The first instance of a config (a path under reproduce/, or an upstream reference; either may carry a
        ``[tag=value]`` selector)."""
        path = str(ref) if Path(str(ref)).is_absolute() else str(self.reproduce / str(ref))
        return self.graph.resolve_ref(path)[0]

    def rel(self, path: str | Path) -> str:
        return Path(path).resolve().relative_to(self.reproduce.parent).as_posix()


def _parts(configs: Configs, data_ref) -> list[tuple[str, float]]:
    """(corpus label, weight) of a dataset config, in its own order."""
    return [(DATA_LABELS.get(Path(p.corpus).name, Path(p.corpus).stem), p.weight)
            for p in configs.node(data_ref).cfg.parts]


def _rarest_first(parts):
    return sorted(parts, key=lambda part: part[1])


def data_label(parts, sep: str = " + ") -> str:
    return sep.join(label for label, _ in _rarest_first(parts))


def mixture_ratio(parts) -> str:
    """Integer ratio of the part weights, rarest first (0.25, 0.75 -> 1:3); '-' for one part."""
    if len(parts) < 2:
        return "-"
    weights = [Fraction(w).limit_denominator(1000) for _, w in _rarest_first(parts)]
    lcm = reduce(math.lcm, (w.denominator for w in weights))
    ints = [int(w * lcm) for w in weights]
    gcd = reduce(math.gcd, ints)
    return ":".join(str(i // gcd) for i in ints)


def parameter_count(model_cfg, vocab_size: int) -> int:
    """Parameters of the Gemma-2 that ModelConfig builds: tied embeddings, no biases, 4 norms per block."""
    m = model_cfg
    attention = 2 * m.hidden_size * m.num_attention_heads * m.head_dim + 2 * m.hidden_size * m.num_key_value_heads * m.head_dim
    mlp = 3 * m.hidden_size * m.intermediate_size
    return vocab_size * m.hidden_size + m.num_hidden_layers * (attention + mlp + 4 * m.hidden_size) + m.hidden_size


def _one_significant(n: float) -> float:
    return round(n, -int(math.floor(math.log10(abs(n))))) if n else 0.0


def _model_size(configs: Configs, node: Node) -> int:
    """Parameter count of a pretrain or init stage's model, with its data's tokenizer vocabulary."""
    model = node.cfg.model
    vocab = model.vocab_size
    if vocab is None:
        tokenizer = configs.node(configs.node(node.cfg.data).cfg.tokenizer).cfg
        vocab = VOCAB_SIZES[tokenizer.name_or_path] if tokenizer.kind == "pretrained" else tokenizer.vocab_size
    return parameter_count(model, vocab)


def model_name(params: int) -> str:
    return f"Gemma-2-{_one_significant(params) / 1e9:g}B"


def _role(configs: Configs, ref) -> str:
    node = configs.node(ref)
    if node.stage in ("unlearn", "select"):  # an unlearned model, or the one a learning-rate sweep chose
        return "Unlearn Only"
    return MODEL_ROLES.get(Path(ref).name, Path(ref).stem)


# ----------------------------------------------------------------------------- formatting

def fmt_lr(x: float) -> str:
    """The paper's learning-rate notation: 4e-4, 1e-3."""
    mantissa, exponent = f"{x:e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and x.is_integer() and abs(x) >= 1:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def fmt_steps(optim) -> str:
    return "-" if optim.epochs is not None and optim.max_steps >= NO_STEP_CAP else str(optim.max_steps)


def fmt_schedule(optim) -> str:
    return optim.schedule.capitalize()


def fmt_layers(layers) -> str:
    contiguous = list(layers) == list(range(layers[0], layers[-1] + 1))
    return f"{layers[0]}–{layers[-1]}" if contiguous and len(layers) > 1 else ", ".join(map(str, layers))


def _table(number: int, header, columns: list[dict[str, str]], sources, notes=(), missing=None) -> Table:
    names = list(columns[0])
    rows = [(name, *(col[name] for col in columns)) for name in names]
    return Table(number, CAPTIONS[number], tuple(header), rows, tuple(sources), list(notes), missing)


def _sources(number: int) -> list[str]:
    return [f"reproduce/{f}" for files in TABLE_CONFIGS[number].values() for f in files]


# ----------------------------------------------------------------------------- Tables 1-8

def table1(configs: Configs) -> Table:
    """Table 1 (App. A): the architecture of the pretrained models."""
    columns, header = [], ["Parameter"]
    for (file,) in TABLE_CONFIGS[1].values():
        node = configs.node(file)
        m, params = node.cfg.model, _model_size(configs, node)
        header.append(model_name(params))
        columns.append({"Total Parameters": f"~{_one_significant(params) / 1e6:g}M",
                        "Hidden Layers": fmt(m.num_hidden_layers), "Attention Heads": fmt(m.num_attention_heads),
                        "Hidden Size": fmt(m.hidden_size), "Intermediate Size": fmt(m.intermediate_size),
                        "Head Dimension": fmt(m.head_dim)})
    notes = ["Total Parameters: counted from the model config with the 256,000-token Gemma-2-2b vocabulary "
             "(tied embeddings) and rounded as the paper does: "
             + ", ".join(f"{h} {_model_size(configs, configs.node(f)):,}"
                         for h, (f,) in zip(header[1:], TABLE_CONFIGS[1].values(), strict=True)) + "."]
    return _table(1, header, columns, _sources(1), notes)


def _optim_rows(optim, lr_label="Learning Rate") -> dict[str, str]:
    return {lr_label: fmt_lr(optim.lr), "Min Learning Rate": fmt_lr(optim.min_lr if optim.min_lr is not None else optim.lr)}


def table2(configs: Configs) -> Table:
    """Table 2 (App. A): pretraining of the reference (Base) and data-filtering (Oracle) models."""
    columns = []
    for (file,) in TABLE_CONFIGS[2].values():
        node = configs.node(file)
        o, parts, params = node.cfg.optim, _parts(configs, node.cfg.data), _model_size(configs, node)
        columns.append({"Model Architecture": model_name(params), "Parameters": f"{_one_significant(params) / 1e6:g}M",
                        "Training Data": data_label(parts), "Data Mixture Ratio": mixture_ratio(parts),
                        **_optim_rows(o), "Batch Size": fmt(o.batch_size), "Gradient Accum. Steps": fmt(o.grad_accum),
                        "Weight Decay": fmt(o.weight_decay), "Epochs": fmt(o.epochs), "Maximum Steps": fmt_steps(o),
                        "LR Schedule": fmt_schedule(o), "Warmup Steps": fmt(o.warmup_steps),
                        "Max Sequence Length": fmt(configs.node(node.cfg.data).cfg.seq_len)})
    notes = [f"Maximum Steps '-': the config caps steps at {NO_STEP_CAP:,} with epochs: 1, so one epoch ends training."]
    return _table(2, ["Hyperparameter", *TABLE_CONFIGS[2]], columns, _sources(2), notes)


def table3(configs: Configs) -> Table:
    """Table 3 (App. A): oracle matching, the oracle distilled into the Base model or a random init."""
    columns = []
    for files in TABLE_CONFIGS[3].values():
        node = configs.node(files[0])
        o, parts = node.cfg.optim, _parts(configs, node.cfg.data)
        students = [configs.node(f).cfg.student for f in files]
        student_name = model_name(_model_size(configs, configs.node(students[0])))
        columns.append({
            "Teacher Model": f"{model_name(_model_size(configs, configs.node(node.cfg.teacher)))} "
                             f"({_role(configs, node.cfg.teacher)})",
            "Student Model": f"{student_name} ({' or '.join(_role(configs, s) for s in students)})",
            "Distillation Data": data_label(parts), "Data Mixture Ratio": mixture_ratio(parts), **_optim_rows(o),
            "Batch Size": fmt(o.batch_size), "Gradient Accum. Steps": fmt(o.grad_accum),
            "Weight Decay": fmt(o.weight_decay), "Maximum Steps": fmt_steps(o), "Epochs": fmt(o.epochs),
            "LR Schedule": fmt_schedule(o), "Warmup Steps": fmt(o.warmup_steps),
            "Max Sequence Length": fmt(configs.node(node.cfg.data).cfg.seq_len)})
    return _table(3, ["Hyperparameter", *TABLE_CONFIGS[3]], columns, _sources(3))


def table4(configs: Configs) -> Table:
    """Table 4 (App. A): the relearning attack (one relearn.yaml per setting attacks every model)."""
    columns = []
    for (file,) in TABLE_CONFIGS[4].values():
        cfg = configs.node(file).cfg
        parts = _parts(configs, cfg.data)
        columns.append({"Relearning Data": data_label(parts), "Data Mixture Ratio": mixture_ratio(parts),
                        "Batch Size": fmt(cfg.batch_size), "Gradient Accumulation Steps": "1",
                        "Maximum Steps": fmt(cfg.steps), "Warmup Steps": fmt(cfg.warmup_steps),
                        "Learning Rate": "[" + ", ".join(fmt_lr(lr) for lr in cfg.lrs) + "]",
                        "Evaluation Steps": fmt(cfg.eval_every),
                        "Max Sequence Length": fmt(configs.node(cfg.data).cfg.seq_len)})
    notes = ["Gradient Accumulation Steps: the relearn stage has no accumulation; each step is one batch."]
    return _table(4, ["Hyperparameter", *TABLE_CONFIGS[4]], columns, _sources(4), notes)


def table5(configs: Configs) -> Table:
    """Table 5 (App. B): the unlearning methods (learning rates: App. B.1)."""
    columns, notes = [], []
    for (file,) in TABLE_CONFIGS[5].values():
        cfg = configs.node(file).cfg
        o, forget, retain = cfg.optim, _parts(configs, cfg.forget), _parts(configs, cfg.retain)
        column = {"Forget Data": data_label(forget), "Retain Data": data_label(retain),
                  "Batch Size": fmt(o.batch_size * o.grad_accum), "Max Steps": fmt(o.max_steps),
                  "Max Length": fmt(configs.node(cfg.forget).cfg.seq_len),
                  "Alpha": "-", "RMU Layers": "-", "End Layer": "-", "c": "-"}
        if o.grad_accum > 1:
            notes.append(f"Batch Size of reproduce/{file}: {o.batch_size} sequences x {o.grad_accum} accumulation steps.")
        if cfg.method == "rmu":
            rmu = build(get_method("rmu").Config, cfg.options, file=configs.reproduce / file)
            column.update({"Alpha": fmt(rmu.retain_weight) + ("" if rmu.retain_term else " (unused)"),
                           "RMU Layers": fmt_layers(rmu.trainable_layers), "End Layer": fmt(rmu.layer),
                           "c": fmt(rmu.steering_coeff)})
            if not rmu.retain_term:
                notes.append(f"Alpha of reproduce/{file}: retain_term: false, so the retain term and its alpha "
                             "are off (forget-only RMU, as the reference code ran).")
            if rmu.reference_off_by_one:
                notes.append(f"End Layer of reproduce/{file}: reference_off_by_one: true steers hidden_states"
                             f"[{rmu.layer}], the output of block {rmu.layer - 1} (0-based), as the reference code did; "
                             f"block {rmu.layer}'s down-projection then gets no gradient.")
        columns.append(column)
    return _table(5, ["Hyperparameter", *TABLE_CONFIGS[5]], columns, _sources(5), notes)


def table6(configs: Configs) -> Table:
    """Table 6 (App. B.2): Unlearn-and-Distill, each unlearned model distilled into a random init."""
    columns = []
    for (file,) in TABLE_CONFIGS[6].values():
        cfg = configs.node(file).cfg
        o, parts = cfg.optim, _parts(configs, cfg.data)
        columns.append({"Teacher Model": _role(configs, cfg.teacher), "Student Model": _role(configs, cfg.student),
                        "Distillation Data": data_label(parts),
                        "Interleave Probs": "[" + ", ".join(fmt(w) for _, w in parts) + "]",
                        "Batch Size": fmt(o.batch_size), "Grad. Accum. Steps": fmt(o.grad_accum),
                        "Epochs": fmt(o.epochs), **_optim_rows(o), "Max Steps": fmt_steps(o),
                        "Warmup Steps": fmt(o.warmup_steps), "Scheduler": fmt_schedule(o),
                        "Weight Decay": fmt(o.weight_decay), "Max Seq. Length": fmt(configs.node(cfg.data).cfg.seq_len)})
    orders = {column.split()[0].lower(): ", ".join(label for label, _ in _parts(configs, configs.node(f).cfg.data))
              for column, (f,) in TABLE_CONFIGS[6].items()}
    notes = ["Interleave Probs: in the dataset config's part order ("
             + "; ".join(f"{setting}: {order}" for setting, order in orders.items()) + ").",
             f"Max Steps '-': the config caps steps at {NO_STEP_CAP:,} with epochs: 1, so one epoch ends training."]
    return _table(6, ["Parameter", *TABLE_CONFIGS[6]], columns, _sources(6), notes)


def _method_configs(configs: Configs, method: str, setting: str) -> list[tuple[str, Node]]:
    """Every instance of every stage config of reproduce/synthetic/<setting>/ (its own and the shared ones) that unlearns with ``method``."""
    found = []
    for path in config_files(configs.reproduce / "synthetic" / setting):
        if "stage" not in load_raw(path, "paper").data:  # an include such as model.yaml, not a stage
            continue
        found += [(configs.rel(path), n) for n in configs.graph.resolve(path)
                  if n.stage == "unlearn" and n.cfg.method == method]
    return found


def _grid_table(configs: Configs, number: int, header, point, code_grid: str) -> Table:
    """The grid points configured for a method, each with the settings that configure it."""
    method, options = GRID_METHODS[number], get_method(GRID_METHODS[number]).Config
    settings_of: dict[tuple, set[str]] = {}
    sources = []
    for setting in SETTINGS:
        for file, node in _method_configs(configs, method, setting):
            settings_of.setdefault(point(build(options, node.cfg.options, file=node.path)), set()).add(setting)
            sources.append(file)
    rows = [(*map(fmt, p), ", ".join(s for s in SETTINGS if s in settings)) for p, settings in sorted(settings_of.items())]
    # The paper searches one grid in both settings (App. D.1); a setting with a single point has none.
    without = [s for s in SETTINGS if sum(s in settings for settings in settings_of.values()) < 2]
    missing = None
    if without:
        shown = "; ".join(f"{fmt(p[0]) if len(p) == 1 else '(' + ', '.join(map(fmt, p)) + ')'} in "
                          f"{', '.join(s for s in SETTINGS if s in settings)}" for p, settings in sorted(settings_of.items()))
        missing = (f"not in the configs: no {method} config of {' or '.join(without)} sweeps the App. D.1 grid "
                   f"(configured: {shown})")
    notes = [f"The kit's code lists the grid as {code_grid}; a grid is in the configs once a config sweeps it."]
    return Table(number, CAPTIONS[number], (*header, "Settings"), rows, tuple(dict.fromkeys(sources)), notes, missing)


def table7(configs: Configs) -> Table:
    """Table 7 (App. D.1): the RepNoise (alpha, beta) pairs the configs hold."""
    return _grid_table(configs, 7, ("Alpha (α)", "Beta (β)"), lambda o: (o.noise_weight, o.ascent_weight),
                       "undo.unlearn.repnoise.TABLE7_GRID")


def table8(configs: Configs) -> Table:
    """Table 8 (App. D.1): the SAM rho values the configs hold."""
    return _grid_table(configs, 8, ("Rho (ρ)",), lambda o: (o.rho,), "undo.unlearn.sam.TABLE8_RHOS")


def table9(configs: Configs) -> Table:
    """Table 9 (App. D.2.3): what every WMDP unlearning run shares, and RMU's own settings."""
    columns, sources = [], []
    for domain in WMDP_DOMAINS:
        for method in ("maxent", "rmu"):
            file = f"wmdp/{domain}/unlearn_{method}.yaml"
            cfg, sources = configs.node(file).cfg, sources + [f"reproduce/{file}"]
            o = cfg.optim
            column = {"Batch size": fmt(o.batch_size * o.grad_accum), "Sequence length": fmt(configs.node(cfg.forget).cfg.seq_len),
                      "Steps": fmt(o.max_steps), "Learning rate": "Fixed (no scheduler)" if o.schedule == "constant"
                      else fmt_schedule(o), "Weight decay": fmt(o.weight_decay), "Warmup steps": fmt(o.warmup_steps),
                      "c value": "-", "RMU layers": "-", "RMU end layer": "-"}
            if method == "rmu":
                rmu = build(get_method("rmu").Config, cfg.options, file=configs.reproduce / file)
                column.update({"c value": fmt(rmu.steering_coeff), "RMU layers": fmt_layers(rmu.trainable_layers),
                               "RMU end layer": fmt(rmu.layer)})
            columns.append(column)
    header = ["Parameter", *(f"{d.title()} {_METHODS[m]}" for d in WMDP_DOMAINS for m in ("maxent", "rmu"))]
    return _table(9, header, columns, sources)


def table10(configs: Configs) -> Table:
    """Table 10 (App. D.2.3): each domain's three unlearning points per method, (alpha, learning rate), in the
    order the config lists them: Table 10's, by retain (Best, the UNDO teacher; Medium; Worst). The run ranks them
    by the retain it measures (select_*.yaml, ``rule: retain_rank``)."""
    rows, sources = [], []
    for domain in WMDP_DOMAINS:
        for method in ("rmu", "maxent"):
            file = f"wmdp/{domain}/unlearn_{method}.yaml"
            sources.append(f"reproduce/{file}")
            points = dict.fromkeys((n.cfg.options["retain_weight"], n.cfg.optim.lr)
                                   for n in configs.graph.resolve(configs.reproduce / file))
            for (alpha, lr), rank in zip(points, ("Best", "Medium", "Worst"), strict=False):
                rows.append((domain.title(), _METHODS[method], f"alpha = {fmt(alpha)}, lr = {fmt_lr(lr)}", rank))
    return Table(10, CAPTIONS[10], ("Domain", "Method", "Configuration", "Retain Performance Ranking"), rows,
                 tuple(sources), [])


def table11(configs: Configs) -> Table:
    """Table 11 (App. D.2.4): UNDO's distillation mix, one row per part of the dataset config."""
    file = "wmdp/data_aux.yaml"
    rows = []
    for part in configs.node(file).cfg.parts:
        src = configs.node(part.corpus).cfg.source
        name = src.path + (f' (subset_name="{src.config_name}")' if src.config_name else "")
        if src.kind == "jsonl":
            name = "Wikipedia question-answer (local JSONL)" if "wiki" in Path(src.path).name else src.path
        rows.append((name, fmt(part.weight)))
    rows.append(("Total", fmt(round(sum(p.weight for p in configs.node(file).cfg.parts), 6))))
    return Table(11, CAPTIONS[11], ("Dataset", "Proportion"), rows, (f"reproduce/{file}",))


def table12(configs: Configs) -> Table:
    """Table 12 (App. D.2.5): each adversary's dataset, sequence length and shrink-perturb, from relearn.yaml."""
    file = "wmdp/bio/relearn.yaml"
    seen, rows = {}, []
    for node in configs.graph.resolve(configs.reproduce / file):
        seen.setdefault(node.tags["adversary"], node)
    for name, node in seen.items():
        data = configs.node(node.cfg.data).cfg
        stem = Path(str(node.cfg.data)).stem.removesuffix("_long")
        rows.append((name.replace("_", "-").replace("forget-retain", "forget/retain"), ADVERSARY_DATA.get(stem, stem),
                     "long" if "long" in Path(str(node.cfg.data)).stem else "standard", fmt(data.seq_len),
                     f"yes (alpha = {fmt(node.cfg.shrink_alpha)})" if node.cfg.shrink_alpha else "no"))
    return Table(12, CAPTIONS[12], ("Adversary Name", "Dataset", "Sequence Length", "Tokens", "Shrink-perturb"), rows,
                 (f"reproduce/{file}",))


TABLES = (table1, table2, table3, table4, table5, table6, table7, table8, table9, table10, table11, table12)


def all_tables(root: Path = Path(".")) -> list[Table]:
    """Tables 1-12 from the configs under ``root/reproduce`` (paper scale)."""
    configs = Configs(root)
    return [make(configs) for make in TABLES]


# ----------------------------------------------------------------------------- writers

HEADER = "Generated by `undo tables` (make tables) from the paper-scale configs; do not edit by hand."


def to_markdown(tables: list[Table]) -> str:
    def row(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = ["# Hyperparameter tables (paper Tables 1-12, App. A-D.2)", "", HEADER, ""]
    for t in tables:
        out += [f"## Table {t.number}: {t.caption}", "", row(t.header), row(["---"] * len(t.header))]
        out += [row(r) for r in t.rows]
        out += [""]
        if t.missing:
            out += [f"**{t.missing[0].upper() + t.missing[1:]}.**", ""]
        out += [f"- {note}" for note in t.notes]
        out += [f"- Read from: {', '.join(t.sources)}.", ""]
    return "\n".join(out)


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"$\sim$", "^": r"\^{}", "α": r"$\alpha$", "β": r"$\beta$",
                  "ρ": r"$\rho$", "–": "--"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def to_latex(tables: list[Table]) -> str:
    """One table environment per table (needs \\usepackage{booktabs})."""
    out = [f"% {HEADER}", "% Needs \\usepackage{booktabs}.", ""]
    for t in tables:
        out += [r"\begin{table}[ht]", r"\centering", r"\small",
                r"\begin{tabular}{l" + "c" * (len(t.header) - 1) + "}", r"\toprule",
                " & ".join(latex_escape(h) for h in t.header) + r" \\", r"\midrule"]
        out += [" & ".join(latex_escape(c) for c in r) + r" \\" for r in t.rows]
        out += [r"\bottomrule", r"\end{tabular}"]
        extra = ([t.missing[0].upper() + t.missing[1:] + "."] if t.missing else []) + t.notes
        if extra:
            out += [r"\par\smallskip\footnotesize " + " ".join(latex_escape(n) for n in extra)]
        out += [rf"\caption{{{latex_escape(t.caption)}}}", rf"\label{{tab:hyperparameters-{t.number}}}",
                r"\end{table}", ""]
    return "\n".join(out)


def write_tables(out_dir: Path, root: Path = Path(".")) -> list[Path]:
    """Write ``tables.md`` and ``tables.tex`` into ``out_dir``; returns their paths."""
    tables = all_tables(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, tex = out_dir / "tables.md", out_dir / "tables.tex"
    md.write_text(to_markdown(tables), encoding="utf-8")
    tex.write_text(to_latex(tables), encoding="utf-8")
    return [md, tex]
