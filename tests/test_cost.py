"""The dry run's cost estimate (undo/cost.py): the parameter formula, training FLOPs, and what `undo run --dry-run`
prints at paper and smoke scale, offline and without touching the store."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from undo.cli import cli
from undo.cost import Costs, gemma2_parameters, gpu_hours, phi_parameters
from undo.models import ModelConfig, build_model, count_parameters
from undo.pipeline import Graph
from undo.store import Store

REPO = Path(__file__).resolve().parents[1]

TINY = ModelConfig(hidden_size=32, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
                   num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=64,
                   sliding_window=64)


@pytest.mark.parametrize("cfg, vocab", [(TINY, 300), (ModelConfig(hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                                                                   num_attention_heads=2, num_key_value_heads=1, head_dim=8,
                                                                   vocab_size=97), 1000)])
def test_the_gemma2_formula_counts_what_transformers_builds(cfg, vocab):
    assert gemma2_parameters(cfg, vocab) == count_parameters(build_model(cfg, vocab, seed=0))


def test_the_formula_at_gemma_2_2b_shape_is_its_published_size():
    shape = ModelConfig(hidden_size=2304, intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8,
                        num_key_value_heads=4, head_dim=256)
    assert gemma2_parameters(shape, 256_000) == 2_614_341_888  # the 2.61e9 the dry run assumes for google/gemma-2-2b


@pytest.mark.parametrize("heads, kv", [(4, 4), (4, 2)])
def test_the_phi_formula_counts_what_transformers_builds(heads, kv):
    cfg = ModelConfig(architecture="phi", hidden_size=32, intermediate_size=80, num_hidden_layers=3,
                      num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=64)
    assert phi_parameters(cfg, 300) == count_parameters(build_model(cfg, 300, seed=0))


def test_the_phi_formula_at_phi_1_5_shape_is_its_published_size():
    import yaml

    shape = yaml.safe_load((REPO / "reproduce" / "tofu" / "phi" / "model.yaml").read_text())["model"]
    assert phi_parameters(ModelConfig(**shape), 51_200) == 1_418_270_720   # 1.42e9, as the dry run assumes


def test_the_tofu_dry_run_counts_the_generated_pairs_and_lists_the_hub_assets(tmp_path):
    nodes = Graph(Store(tmp_path / "a"), "mini").plan([REPO / "reproduce" / "tofu" / "gemma" / "finetune.yaml"])
    (qa,) = [n for n in nodes if n.stage == "qa" and n.cfg.split == "full"]
    assert Costs().dataset_tokens(qa) == 60 * 10 * 96           # 60 authors x 10 pairs, rows of 96 tokens
    out = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "a"), "run", str(REPO / "reproduce/tab14.yaml"),
                                   "--scale", "paper", "--dry-run"])
    assert out.exit_code == 0, out.output
    for asset in ("dataset locuslab/TOFU (full, forget10, retain90", "model google/gemma-2-2b-it",
                  "model microsoft/phi-1_5"):
        assert asset in out.output


def _write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).write_text(text)


def test_a_training_stage_costs_six_n_per_token(tmp_path):
    _write(tmp_path, {
        "tok.yaml": "stage: tokenizer\nkind: bytes\n",
        "text.yaml": "stage: corpus\nsource: {kind: stdlib_pydoc}\nmax_documents: 50\n",
        "data.yaml": "stage: dataset\ntokenizer: tok.yaml\nseq_len: 32\nparts: [{corpus: text.yaml}]\n",
        "pre.yaml": "stage: pretrain\ndata: data.yaml\n"
                    "model: {hidden_size: 32, intermediate_size: 96, num_hidden_layers: 3, num_attention_heads: 4,\n"
                    "        num_key_value_heads: 2, head_dim: 16, query_pre_attn_scalar: 16,\n"
                    "        max_position_embeddings: 64, sliding_window: 64}\n"
                    "optim: {lr: 1.0e-3, batch_size: 4, grad_accum: 2, max_steps: 10, checkpoint_every: 5}\n",
    })
    (node,) = [n for n in Graph(Store(tmp_path / "artifacts"), "smoke").plan([tmp_path / "pre.yaml"])
               if n.stage == "pretrain"]
    n = count_parameters(build_model(TINY, 259, seed=0))  # the byte tokenizer: 3 specials + 256 bytes
    est = Costs().of(node)
    assert est.train_tokens == 10 * 4 * 2 * 32
    assert est.flops == 6 * n * 2560 and est.eval_flops == 0
    assert est.disk_bytes == 4 * n and est.scratch_bytes == 12 * n  # fp32 weights; + AdamW moments while running
    assert gpu_hours(3600 * 989e12 * 0.5, 989e12, 0.5) == pytest.approx(1.0)
    assert not (tmp_path / "artifacts").exists()


def _dry_run(tmp_path, *args):
    return CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "artifacts"), "run",
                                    str(REPO / "reproduce/fig8.yaml"), "--dry-run", *args])


def test_the_paper_dry_run_lists_assets_gpu_hours_and_disk(tmp_path):
    result = _dry_run(tmp_path, "--scale", "paper")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "model google/gemma-2-2b @ c5ebcd40d208330abc697524c919956e692655cf" in out
    assert re.search(r"dataset cais/wmdp \(wmdp-bio, test\) @ ", out) and "dataset cais/mmlu (all, test, dev) @" in out
    assert "tokenizer google/gemma-2-2b @ unpinned (default branch)" in out
    hours = re.search(r"compute: ([\d,]+) GPU-hours to run \(([\d,]+) for all\)", out)
    assert hours and float(hours[1].replace(",", "")) > 0 and hours[1] == hours[2]
    assert re.search(r"disk: [\d.]+ (GB|TB) to write", out)
    assert re.search(r"missing  distill/\S+ .* GPU-h, disk 10.4 GB", out)  # a stage line keeps its format
    assert not (tmp_path / "artifacts").exists()  # the store is not touched
    cheaper = _dry_run(tmp_path, "--scale", "paper", "--mfu", "0.7")
    assert re.search(r"compute: ([\d,]+) GPU-hours", cheaper.output)[1] != hours[1]


def test_a_smoke_dry_run_still_works_and_bad_assumptions_are_refused(tmp_path):
    result = _dry_run(tmp_path, "--scale", "smoke")
    assert result.exit_code == 0, result.output
    assert "hub assets (0): none" in result.output and "GPU-hours are estimated at scale paper only" in result.output
    for bad in (["--mfu", "0"], ["--mfu", "1.5"], ["--gpu-peak-tflops", "-1"]):
        refused = _dry_run(tmp_path, "--scale", "smoke", *bad)
        assert refused.exit_code == 2 and refused.output.startswith("error: ") and refused.output.count("\n") == 1


def test_a_harness_evaluation_counts_the_items_its_questions_stages_keep():
    """Paper scale scores released models with lm-eval on the questions stages' items (reproduce/wmdp/eval_harness.yaml):
    MMLU's first 40% of every subject five-shot, WMDP-Bio whole and zero-shot, one sequence per item; the attacks'
    kit scorer runs one sequence per choice."""
    from undo.cost import BENCHMARK_ITEMS, CHOICES, ITEM_TOKENS

    nodes = Graph(Store(Path("/nonexistent-store")), "paper").resolve_ref(str(REPO / "reproduce/wmdp/bio/unlearn_maxent.yaml"))
    node = nodes[0]
    assert node.cfg.eval.kind == "harness"
    mmlu, bio = BENCHMARK_ITEMS[("cais/mmlu", "all")], BENCHMARK_ITEMS[("cais/wmdp", "wmdp-bio")]
    expected = (-(-mmlu * 4 // 10) * 6 + bio) * ITEM_TOKENS
    assert Costs(989e12, 0.35).eval_tokens(node, node.cfg.eval) == pytest.approx(expected)
    attack = Graph(Store(Path("/nonexistent-store")), "paper").resolve_ref(str(REPO / "reproduce/wmdp/bio/relearn.yaml"))[0]
    assert Costs(989e12, 0.35).eval_tokens(attack, attack.cfg.eval, roles=("forget",)) == bio * CHOICES * ITEM_TOKENS


def _hub_reads(data: dict) -> dict | None:
    """The mapping of a stage config (raw YAML) that names a hub asset and must spell out ``revision``; else None."""
    stage, source = data.get("stage"), data.get("source")
    if stage == "corpus" and isinstance(source, dict) and source.get("kind") == "hf":
        return source
    if stage == "tokenizer" and data.get("kind") == "pretrained":
        return data
    if stage in {"questions", "tofu"} and source == "hf":
        return data
    if stage == "init" and isinstance(data.get("pretrained"), dict):
        return data["pretrained"]
    return None


def test_every_hub_asset_of_the_paper_configs_has_a_revision_key():
    """Every config that reads the hub at paper scale says `revision:` (a commit pins it, null reads the default
    branch), so pinning is one edit in a visible place; the dry run lists what is still unpinned."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "reproduce"
    found, missing = [], []
    for path in sorted(root.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        reads = _hub_reads(data) if isinstance(data, dict) else None
        if reads is not None:
            found.append(path)
            if "revision" not in reads:
                missing.append(str(path.relative_to(root)))
    assert len(found) >= 20, found  # the check sees the hub configs (corpora, tokenizers, benchmarks, models)
    assert not missing, f"no revision key: {missing}"


def test_a_lora_attack_costs_four_n_per_token_against_full_finetunings_six():
    """The same attack (data, steps, batch, grid size) through LoRA adapters takes no gradient of the frozen weights."""
    graph = Graph(Store(Path("/nonexistent-store")), "paper")
    full = graph.resolve_ref(str(REPO / "reproduce/synthetic/arithmetic/relearn.yaml[model=pretrain_oracle,seed=111]"))
    lora = graph.resolve_ref(str(REPO / "reproduce/synthetic/arithmetic/relearn_lora.yaml[model=pretrain_oracle,seed=111]"))
    costs = Costs(989e12, 0.35)
    (a,), (b,) = [costs.of(n) for n in full], [costs.of(n) for n in lora]
    assert b.train_tokens == a.train_tokens > 0 and b.eval_flops == a.eval_flops
    assert b.flops * 6 == pytest.approx(a.flops * 4)
