"""undo bench: presets, the MFU bookkeeping, and a tiny end-to-end run on the CPU."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from undo import bench
from undo.cli import cli
from undo.models import hf_config


def meta_model(cfg, vocab):
    """The preset's model on the meta device: parameter counts without allocating 100M+ weights."""
    from transformers import Gemma2ForCausalLM

    with torch.device("meta"):
        return Gemma2ForCausalLM._from_config(hf_config(cfg, vocab))


def test_presets_are_the_paper_configs():
    presets, groups, mem = bench.load_presets()
    assert groups["paper"] == ["0.1b", "0.3b"]
    small, arith = presets["0.1b"].model, presets["0.3b"].model
    # Table 1, plus gemma-2-2b's inherited fields
    assert (small.hidden_size, small.intermediate_size, small.num_hidden_layers, small.num_attention_heads,
            small.head_dim) == (320, 1280, 14, 8, 128)
    assert (arith.hidden_size, arith.intermediate_size, arith.num_hidden_layers, arith.head_dim) == (768, 3072, 14, 128)
    for p in (small, arith):
        assert (p.num_key_value_heads, p.query_pre_attn_scalar, p.attn_logit_softcapping,
                p.final_logit_softcapping) == (4, 256, 50.0, 30.0)
    assert presets["0.1b"].seq_len == 2048 and presets["0.3b"].seq_len == 256
    assert presets["0.1b"].batch == {"pretrain": 5, "distill": 4, "relearn": 8}  # Tables 2-4
    assert mem["vocab"] == 256000


def test_flops_per_token_counts_the_lm_head():
    """Analytic budgets: 1.030 GFLOP/token (0.1B, T=2048) and 2.016 (0.3B, T=256), with the
    256k LM head about half of it (48% and 59%)."""
    presets, _, _ = bench.load_presets()
    for name, expected, head_share in (("0.1b", 1.030e9, 0.48), ("0.3b", 2.016e9, 0.59)):
        p = presets[name]
        model = meta_model(p.model, p.vocab_size)
        train = bench.flops_per_token(model, p.vocab_size, p.seq_len, train=True)
        assert train == pytest.approx(expected, rel=0.005)
        assert 6 * p.vocab_size * p.model.hidden_size / train == pytest.approx(head_share, abs=0.01)
        assert bench.flops_per_token(model, p.vocab_size, p.seq_len, train=False) == pytest.approx(train / 3)


@pytest.mark.parametrize("name,peak", [("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H100 PCIe", 756e12),
                                       ("NVIDIA H200", 989e12), ("NVIDIA H200 NVL", 836e12),
                                       ("NVIDIA A100-SXM4-80GB", 312e12), ("Tesla T4", None)])
def test_peak_flops_table(name, peak):
    assert bench.peak_flops(name) == peak


def test_tiny_bench_writes_a_report(tmp_path, monkeypatch):
    monkeypatch.delenv("UNDO_ACCEL", raising=False)
    out = tmp_path / "bench.md"
    result = CliRunner().invoke(cli, ["--device", "cpu", "bench", "--preset", "tiny", "--out", str(out),
                                      "--no-loss-memory"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for workload in bench.WORKLOADS:
        for path in ("fast", "reference"):
            assert f"| tiny | 2 x 32 | {workload} | {path} |" in text
    assert "out of memory" not in text and "MFU" in text and "torch: " in text
    assert "paper-size rows are pending" in text  # no GPU here


def test_bench_refuses_unknown_names(tmp_path):
    for args in (["--preset", "7b"], ["--preset", "tiny", "--workloads", "pretrain,finetune"],
                 ["--preset", "tiny", "--paths", "turbo"], ["--preset", "paper"]):
        result = CliRunner().invoke(cli, ["--device", "cpu", "bench", "--out", str(tmp_path / "x.md"), *args])
        assert result.exit_code == 2 and ("unknown" in result.output or "GPU-sized" in result.output)
