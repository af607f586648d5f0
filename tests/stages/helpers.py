"""What the stage tests share: run configs written into a temporary directory at smoke scale, through the pipeline
or through the CLI, and check that a failure left nothing in the store."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from undo.cli import cli
from undo.pipeline import Graph, run_nodes
from undo.store import Store


def run_smoke(tmp_path: Path, *configs: str) -> list:
    """Plan and run ``configs`` (file names under ``tmp_path``) at smoke scale into ``tmp_path/artifacts``."""
    nodes = Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / c for c in configs])
    run_nodes(nodes, device="cpu", scale="smoke", echo=lambda *_: None)
    return nodes


def cli_errors(tmp_path: Path, config: str) -> tuple[int, list[str]]:
    """``undo run CONFIG --scale smoke``: the exit code and the output's error lines (progress lines start with '['
    or a space)."""
    result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "artifacts"), "run", str(tmp_path / config),
                                      "--scale", "smoke"])
    return result.exit_code, [line for line in result.output.splitlines() if line.strip() and not line.startswith(("[", " "))
                              and "stage instances" not in line]


def no_artifacts(tmp_path: Path) -> bool:
    """Nothing finished and no partial artifact left in ``tmp_path/artifacts``."""
    store = tmp_path / "artifacts"
    return not any(store.rglob("DONE")) and not any(p.is_dir() for p in store.glob("*/.partial/*"))


TINY_MODEL = ("{hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, "
              "num_key_value_heads: 1, head_dim: 16, query_pre_attn_scalar: 16, max_position_embeddings: 128, "
              "sliding_window: 128}")


def write_tofu_configs(tmp_path: Path, prompt: str = "{style: plain}") -> None:
    """A small generated TOFU set, the byte tokenizer, prompt/answer datasets of its full and forget10 splits and a
    random tiny Gemma-2 (``model.yaml``) to evaluate: the upstreams of a TOFU evaluation, in ``tmp_path``."""
    files = {
        "tofu.yaml": "stage: tofu\nsource: generated\nauthors: 20\nquestions_per_author: 4\nperturbed_per_item: 3\n"
                     "world_entities: 4\n",
        "tok.yaml": "stage: tokenizer\nkind: bytes\n",
        "qa_full.yaml": f"stage: qa\nitems: tofu.yaml\nsplit: full\ntokenizer_from: tok.yaml\nseq_len: 128\n"
                        f"prompt: {prompt}\n",
        "qa_forget.yaml": "base: [qa_full.yaml]\nsplit: forget10\n",
        "model.yaml": f"stage: init\ndata: qa_full.yaml\nmodel: {TINY_MODEL}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
