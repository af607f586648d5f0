"""Tables 1-8 regenerated from the paper-scale configs (undo/paper/tables.py) against the paper's own values.

``PAPER`` is the spec: the paper's Appendix A-D.1 tables transcribed by hand. Each cell is its own test,
so a config that drifts from the paper fails with the table, row and column named. A difference the kit
makes on purpose (said in the config's comment) is listed in ``KNOWN_DIFFERENCES`` and xfails; if it
stops differing, the test fails so that the entry is removed.
"""

import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from undo.config import to_plain
from undo.paper.tables import (
    Configs,
    Table,
    all_tables,
    fmt,
    fmt_layers,
    fmt_lr,
    latex_escape,
    mixture_ratio,
    model_name,
    parameter_count,
    to_latex,
    to_markdown,
)

REPO = Path(__file__).resolve().parents[2]
LRS = [1e-3, 7e-4, 4e-4, 1e-4, 7e-5, 5e-5, 1e-5, 7e-6, 4e-6, 1e-6]
L3, A3 = ("Language GradDiff", "Language MaxEnt", "Language RMU"), ("Arithmetic GradDiff", "Arithmetic MaxEnt",
                                                                     "Arithmetic RMU")

# The paper's Tables 1-6: columns, then row -> one value per column, in the paper's row order.
# Numbers compare numerically (4e-4 == 0.0004); a list compares element-wise; text after ALIASES.
PAPER = {
    1: (("Gemma-2-0.1B", "Gemma-2-0.3B"), {
        "Total Parameters": ("~100M", "~300M"),
        "Hidden Layers": (14, 14),
        "Attention Heads": (8, 8),
        "Hidden Size": (320, 768),
        "Intermediate Size": (1280, 3072),
        "Head Dimension": (128, 128),
    }),
    2: (("Language Base", "Language Oracle", "Arithmetic Base", "Arithmetic Oracle"), {
        "Model Architecture": ("Gemma-2-0.1B", "Gemma-2-0.1B", "Gemma-2-0.3B", "Gemma-2-0.3B"),
        "Parameters": ("100M", "100M", "300M", "300M"),
        "Training Data": ("English + Korean", "English", "All Ops + English", "Add/Sub + English"),
        "Data Mixture Ratio": ("1:1", "-", "1:3", "1:7"),
        "Learning Rate": (4e-4, 4e-4, 4e-4, 4e-4),
        "Min Learning Rate": (4e-5, 4e-5, 4e-4, 4e-4),
        "Batch Size": (5, 5, 15, 15),
        "Gradient Accum. Steps": (80, 80, 24, 24),
        "Weight Decay": (0.1, 0.1, 0, 0),
        "Epochs": (1, 1, 1, 1),
        "Maximum Steps": ("-", "-", 1000, 1000),
        "LR Schedule": ("Cosine", "Cosine", "Cosine", "Cosine"),
        "Warmup Steps": (50, 50, 50, 50),
        "Max Sequence Length": (2048, 2048, 256, 256),
    }),
    3: (("Language Distillation", "Arithmetic Distillation"), {
        "Teacher Model": ("Gemma-2-0.1B (Oracle)", "Gemma-2-0.3B (Oracle)"),
        "Student Model": ("Gemma-2-0.1B (Base or Rand Init)", "Gemma-2-0.3B (Base or Rand Init)"),
        "Distillation Data": ("English + Korean", "All Ops + English"),
        "Data Mixture Ratio": ("1:1", "1:3"),
        "Learning Rate": (4e-4, 7e-4),
        "Min Learning Rate": (4e-5, 7e-5),
        "Batch Size": (4, 15),
        "Gradient Accum. Steps": (160, 24),
        "Weight Decay": (0.1, 0),
        "Maximum Steps": ("-", 1000),
        "Epochs": (1, 1),
        "LR Schedule": ("Cosine", "Cosine"),
        "Warmup Steps": (50, 50),
        "Max Sequence Length": (2048, 256),
    }),
    4: (("Language Relearning", "Arithmetic Relearning"), {
        "Relearning Data": ("Korean", "Mul/Div + English"),
        "Data Mixture Ratio": ("-", "1:3"),
        "Batch Size": (8, 15),
        "Gradient Accumulation Steps": (1, 1),
        "Maximum Steps": (500, 500),
        "Warmup Steps": (1, 1),
        "Learning Rate": (LRS, LRS),  # one cell spanning both columns in the paper
        "Evaluation Steps": (5, 5),
        "Max Sequence Length": (2048, 256),
    }),
    5: ((*L3, *A3), {
        "Forget Data": ("Korean",) * 3 + ("Mult/Div",) * 3,
        "Retain Data": ("English",) * 3 + ("Add/Sub",) * 3,
        "Batch Size": (4, 4, 4, 40, 40, 40),
        "Max Steps": (100, 100, 500, 10, 10, 500),
        "Max Length": (2048, 2048, 2048, 256, 256, 256),
        "Alpha": ("-", "-", 1200, "-", "-", 200),
        "RMU Layers": ("-", "-", "5–11", "-", "-", "5–11"),
        "End Layer": ("-", "-", 11, "-", "-", 11),
        "c": ("-", "-", 6.5, "-", "-", 6),
    }),
    6: ((*L3, *A3), {
        "Teacher Model": ("Unlearn Only",) * 6,
        "Student Model": ("Random Init",) * 6,
        "Distillation Data": ("Kor + Eng",) * 3 + ("All Ops + Eng",) * 3,
        "Interleave Probs": ([0.5, 0.5],) * 3 + ([0.75, 0.25],) * 3,
        "Batch Size": (4, 4, 4, 15, 15, 15),
        "Grad. Accum. Steps": (60, 60, 60, 24, 24, 24),
        "Epochs": (1,) * 6,
        "Learning Rate": (9e-4, 9e-4, 9e-4, 7e-4, 7e-4, 7e-4),
        "Min Learning Rate": (7e-4, 7e-4, 7e-4, 7e-5, 7e-5, 7e-5),
        "Max Steps": ("-", "-", "-", 1000, 1000, 1000),
        "Warmup Steps": (50,) * 6,
        "Scheduler": ("Cosine",) * 6,
        "Weight Decay": (0.1, 0.1, 0.1, 0.0, 0.0, 0.0),
        "Max Seq. Length": (2048, 2048, 2048, 256, 256, 256),
    }),
}
# Table 7 (alpha, beta) pairs and Table 8 rho values (App. D.1).
PAPER_REPNOISE_GRID = [(0.1, 0.0001), (0.1, 0.001), (0.5, 0.01), (0.5, 0.1), (1.0, 0.1), (1.0, 1.0), (2.0, 2.0),
                       (4.0, 4.0)]
PAPER_SAM_RHOS = [0.001, 0.003, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1]

# The paper writes the same thing differently from table to table.
ALIASES = {r"\bEng\b": "English", r"\bKor\b": "Korean", r"\bMult/Div\b": "Mul/Div", r"\bRand Init\b": "Random Init"}

# (table, row, column) -> why the kit differs from the paper there on purpose.
KNOWN_DIFFERENCES = {
    (5, "Alpha", "Language RMU"): "reproduce/synthetic/language/unlearn_rmu.yaml sets retain_term: false (forget-only RMU, as "
                                  "the reference code ran), so Table 5's alpha = 1200 is held but has no effect",
    (5, "Alpha", "Arithmetic RMU"): "reproduce/synthetic/arithmetic/unlearn_rmu.yaml sets retain_term: false (forget-only RMU, "
                                    "as the reference code ran), so Table 5's alpha = 200 is held but has no effect",
}


@pytest.fixture(scope="module")
def tables() -> dict[int, Table]:
    return {t.number: t for t in all_tables(REPO)}


def _normalise(text: str):
    for pattern, full in ALIASES.items():
        text = re.sub(pattern, full, text)
    return frozenset(text.split(" + ")) if " + " in text else text  # a data mixture: its order is the ratio's


def matches(expected, got: str) -> bool:
    if isinstance(expected, list):
        items = got.strip("[]").split(", ") if got.startswith("[") else []
        return len(items) == len(expected) and all(matches(e, g) for e, g in zip(expected, items, strict=True))
    if isinstance(expected, (int, float)):
        try:
            return math.isclose(float(got), expected, rel_tol=1e-9, abs_tol=1e-12)
        except ValueError:
            return False
    return _normalise(got) == _normalise(expected)


CELLS = [pytest.param(number, row, column, value, id=f"table{number}-{row}-{column}")
         for number, (columns, rows) in PAPER.items() for row, values in rows.items()
         for column, value in zip(columns, values, strict=True)]


@pytest.mark.parametrize(("number", "row", "column", "expected"), CELLS)
def test_cell_matches_the_paper(tables, number, row, column, expected):
    table = tables[number]
    got = table.cell(row, column)
    known = KNOWN_DIFFERENCES.get((number, row, column))
    if known and not matches(expected, got):
        pytest.xfail(known)
    assert not known, f"Table {number} {row!r} {column!r} now matches the paper: remove it from KNOWN_DIFFERENCES"
    files = [f for f in table.sources if f"/{column.split()[0].lower()}/" in f] or table.sources
    assert matches(expected, got), (f"Table {number}, {row!r}, {column!r}: paper {expected!r}, configs {got!r} "
                                    f"(read from {', '.join(files)})")


@pytest.mark.parametrize("number", sorted(PAPER))
def test_rows_and_columns_are_the_papers(tables, number):
    columns, rows = PAPER[number]
    assert tables[number].header[1:] == columns
    assert [r[0] for r in tables[number].rows] == list(rows)


GRID_POINTS = ([pytest.param(7, p, s, id=f"table7-{s}-alpha{p[0]:g}-beta{p[1]:g}")
                for s in ("language", "arithmetic") for p in PAPER_REPNOISE_GRID]
               + [pytest.param(8, (r,), s, id=f"table8-{s}-rho{r:g}")
                  for s in ("language", "arithmetic") for r in PAPER_SAM_RHOS])


def _configured(table: Table) -> list[tuple[tuple[float, ...], list[str]]]:
    """(grid point, settings that configure it) per row of Table 7 or 8."""
    return [(tuple(float(c) for c in row[:-1]), row[-1].split(", ")) for row in table.rows]


def _same_point(a, b) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("number", "point", "setting"), GRID_POINTS)
def test_grid_point_is_in_the_configs(tables, number, point, setting):
    table = tables[number]
    found = any(_same_point(point, p) and setting in settings for p, settings in _configured(table))
    if not found and table.missing:
        pytest.xfail(f"Table {number}: {table.missing}")
    assert found, f"Table {number}: paper point {point} is not configured for {setting} ({table.rows})"


@pytest.mark.parametrize(("number", "grid"), [(7, PAPER_REPNOISE_GRID), (8, [(r,) for r in PAPER_SAM_RHOS])])
def test_configured_grid_points_are_the_papers(tables, number, grid):
    assert tables[number].header[-1] == "Settings"
    for point, _ in _configured(tables[number]):
        assert any(_same_point(point, p) for p in grid), (number, point)


def test_the_codes_grids_are_the_papers():
    from undo.unlearn.repnoise import TABLE7_GRID
    from undo.unlearn.sam import TABLE8_RHOS

    assert list(TABLE7_GRID) == PAPER_REPNOISE_GRID
    assert list(TABLE8_RHOS) == PAPER_SAM_RHOS


@pytest.mark.parametrize("setting", ["language", "arithmetic"])
def test_both_oracle_matching_students_share_table3s_recipe(setting):
    configs = Configs(REPO)
    onto_reference = to_plain(configs.node(f"synthetic/{setting}/distill_oracle_reference.yaml").cfg)
    onto_random = to_plain(configs.node(f"synthetic/{setting}/distill_oracle_random.yaml").cfg)
    assert onto_reference.pop("student") != onto_random.pop("student")
    assert onto_reference == onto_random


@pytest.mark.parametrize("setting", ["language", "arithmetic"])
def test_every_relearning_attack_uses_table4s_settings(setting):
    configs = Configs(REPO)
    keys = ("data", "lrs", "steps", "batch_size", "warmup_steps", "eval_every")
    table4 = configs.node(f"synthetic/{setting}/relearn.yaml[model=distill_oracle_reference]").cfg
    attacks = configs.graph.resolve(REPO / "reproduce" / "synthetic" / setting / "relearn.yaml")
    assert len({n.tags["model"] for n in attacks}) == 13  # every attacked config
    for node in attacks:
        assert {k: getattr(node.cfg, k) for k in keys} == {k: getattr(table4, k) for k in keys}, node.name


def test_parameter_count_is_the_built_models():
    from undo.models import ModelConfig, build_model, count_parameters

    cfg = ModelConfig(hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=64,
                      sliding_window=64)
    assert parameter_count(cfg, 300) == count_parameters(build_model(cfg, vocab_size=300, seed=0))


def test_formats():
    assert [fmt_lr(x) for x in (4e-4, 1e-3, 2.5e-5, 0.0009)] == ["4e-4", "1e-3", "2.5e-5", "9e-4"]
    assert [fmt(x) for x in (0.0, 0.1, 1200.0, 6.5, 1.0, 0.0001, 24, None)] == ["0", "0.1", "1200", "6.5", "1", "0.0001",
                                                                                "24", "-"]
    assert mixture_ratio([("English", 0.75), ("All Ops", 0.25)]) == "1:3"
    assert mixture_ratio([("English", 0.875), ("Add/Sub", 0.125)]) == "1:7"
    assert mixture_ratio([("English", 0.6), ("Korean", 0.4)]) == "2:3"
    assert mixture_ratio([("Korean", 1.0)]) == "-"
    assert fmt_layers((5, 6, 7, 8, 9, 10, 11)) == "5–11" and fmt_layers((1, 3)) == "1, 3"
    assert model_name(112_904_000) == "Gemma-2-0.1B" and model_name(328_772_352) == "Gemma-2-0.3B"


SAMPLE = Table(9, "A 5% sample_caption", ("Parameter", "col_a", "Alpha (α)"),
               [("lr_max", "4e-4", "5%"), ("pipe", "a|b", "~100M")], ("reproduce/x_y.yaml",), ["note with_underscore"],
               "not in the configs: grid_x")


def test_markdown_writer_makes_one_table_per_section():
    lines = to_markdown([SAMPLE]).splitlines()
    start = lines.index("## Table 9: A 5% sample_caption")
    header, rule, *body = lines[start + 2:start + 6]
    assert header == "| Parameter | col_a | Alpha (α) |" and rule == "| --- | --- | --- |"
    assert body == ["| lr_max | 4e-4 | 5% |", "| pipe | a\\|b | ~100M |"]
    assert "**Not in the configs: grid_x.**" in lines


def test_latex_writer_escapes_and_balances():
    tex = to_latex([SAMPLE])
    assert r"lr\_max & 4e-4 & 5\% \\" in tex and r"pipe & a|b & $\sim$100M \\" in tex
    assert r"Parameter & col\_a & Alpha ($\alpha$) \\" in tex and r"\caption{A 5\% sample\_caption}" in tex
    assert latex_escape("a_b & c%") == r"a\_b \& c\%"
    _assert_valid_latex(tex, tables=1)


def _assert_valid_latex(tex: str, tables: int):
    body = [line for line in tex.splitlines() if not line.startswith("%")]
    text = "\n".join(body)
    assert text.count(r"\begin{table}") == text.count(r"\end{table}") == tables
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == tables
    assert not re.search(r"(?<!\\)[_%#]", text), "unescaped _ % or #"
    for spec, rows in re.findall(r"\\begin\{tabular\}\{(\w+)\}\n\\toprule\n(.*?)\\bottomrule", text, re.S):
        for row in rows.splitlines():
            if row != r"\midrule":
                assert row.endswith(r" \\") and len(re.findall(r"(?<!\\)&", row)) == len(spec) - 1, row


def test_generated_tables_write_as_markdown_and_latex(tables):
    generated = [tables[n] for n in sorted(tables)]
    markdown = to_markdown(generated)
    assert [int(n) for n in re.findall(r"^## Table (\d+):", markdown, re.M)] == list(range(1, 13))
    _assert_valid_latex(to_latex(generated), tables=12)


def test_cli_writes_tables(tmp_path, monkeypatch):
    from undo.cli import cli

    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["tables", "--out", str(tmp_path / "tables")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "tables" / "tables.md").read_text(encoding="utf-8")
    assert "## Table 1: Model Architecture Parameters" in markdown and "## Table 8:" in markdown
    assert (tmp_path / "tables" / "tables.tex").read_text(encoding="utf-8").count(r"\begin{tabular}") == 12


def test_wmdp_tables_9_to_12_hold_the_papers_values():
    """Tables 9-12 (App. D.2) cell by cell against the paper."""
    from undo.paper.tables import all_tables

    tables = {t.number: t for t in all_tables(REPO)}
    t9 = tables[9]
    for column in ("Bio MaxEnt", "Bio RMU", "Cyber MaxEnt", "Cyber RMU"):
        assert [t9.cell(r, column) for r in ("Batch size", "Sequence length", "Steps", "Learning rate", "Weight decay",
                                             "Warmup steps")] == ["40", "256", "90", "Fixed (no scheduler)", "0", "0"]
    assert [t9.cell(r, "Bio RMU") for r in ("c value", "RMU layers", "RMU end layer")] == ["80", "10–15", "15"]
    assert [r[2:] for r in tables[10].rows] == [  # Table 10, three points per domain and method
        ("alpha = 0.5, lr = 5e-5", "Best"), ("alpha = 0.3, lr = 1e-4", "Medium"), ("alpha = 0.1, lr = 1e-4", "Worst"),
        ("alpha = 0.3, lr = 2e-5", "Best"), ("alpha = 0.1, lr = 2e-5", "Medium"), ("alpha = 0.75, lr = 5e-5", "Worst"),
        ("alpha = 0.5, lr = 2e-5", "Best"), ("alpha = 0.2, lr = 2e-5", "Medium"), ("alpha = 0.1, lr = 2e-5", "Worst"),
        ("alpha = 0.2, lr = 2e-5", "Best"), ("alpha = 0.3, lr = 3.5e-5", "Medium"), ("alpha = 0.3, lr = 5e-5", "Worst")]
    assert not tables[10].missing
    t11 = dict(tables[11].rows)
    assert t11['HuggingFaceFW/fineweb-edu (subset_name="sample-10BT")'] == "0.35" and t11["Total"] == "1"
    assert sorted(float(v) for k, v in t11.items() if k.startswith("Magpie-Align/")) == [0.04] * 6 + [0.05]
    t12 = {r[0]: r[1:] for r in tables[12].rows}
    assert t12["forget/retain-qa-long"] == ("2", "long", "1024", "no")
    assert t12["sp-wiki-qa-long"] == ("3", "long", "1024", "yes (alpha = 0.05)")
    assert len(t12) == 8
