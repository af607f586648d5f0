"""App. F's TOFU setting end to end at smoke scale (Figures 12, 13, Table 14 and their claims), and its graph at every
scale: the authors' open-unlearning fork's hyperparameters at paper scale, both model families through the same
stages."""

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from undo.cli import cli
from undo.pipeline import Graph
from undo.store import Store

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("gemma", "phi")


@pytest.mark.slow
def test_tofu_smoke_end_to_end_then_report(smoke_workspace):
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig12.yaml", "reproduce/fig13.yaml",
            "reproduce/tab14.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    out = smoke_workspace / "figures" / "smoke"
    for name, exts in (("fig12", ("png", "pdf", "json", "md")), ("fig13", ("png", "pdf", "json", "md")),
                       ("tab14", ("png", "pdf", "json", "md", "tex"))):
        for ext in exts:
            assert (out / f"{name}.{ext}").stat().st_size > 0, (name, ext)

    fig13 = json.loads((out / "fig13.json").read_text())
    for family in FAMILIES:
        attacks = fig13["series"][f"{family}/relearn"]
        assert {(i["tags"]["model"], i["tags"]["seed"]) for i in attacks} == {
            (m, s) for m in ("unlearn", "distill", "pretrain_base") for s in (0, 1)}
        curve = next(iter(attacks[0]["results"]["curves"].values()))
        assert curve["step"] == [0, 3, 6] and {"forget_Q_A_Prob", "forget_truth_ratio", "model_utility"} <= set(curve)
        # retain_at: start: model utility is scored before the attack only, NaN at the later evaluations
        assert len(curve["model_utility"]) == 3 and not math.isnan(curve["retain_Q_A_Prob"][0])
        assert all(math.isnan(v) for v in curve["model_utility"][1:] + curve["retain_Q_A_Prob"][1:])
    tab14 = json.loads((out / "tab14.json").read_text())
    modes = tab14["series"]["gemma/quantize"][0]["summary"]["modes"]
    assert list(modes) == ["none", "bnb-fp4", "bnb-nf4", "rtn-int4"]
    assert {m["record"]["backend"] for m in modes.values()} == {"torch", "bitsandbytes"}
    assert "bitsandbytes" in (out / "tab14.md").read_text() and r"\begin{tabular}" in (out / "tab14.tex").read_text()

    # nothing is recomputed on a second run; the report has a row per claim and family
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    started = [line for line in again.output.splitlines() if line.startswith("[")]
    assert started and all("figure/" in line for line in started)      # only the (never cached) figures
    report = CliRunner().invoke(cli, ["--artifacts-dir", "artifacts", "report", "--scale", "smoke"])
    assert report.exit_code == 0, report.output
    claims = (out / "claims.md").read_text()
    for claim in ("Finetuning raises the forget metrics", "The distilled student keeps the control's forget metrics",
                  "the distilled model stays closer to the control", "INT4 quantization raises"):
        assert claim in claims
    assert "| Phi |" in claims or "Phi" in claims


def _nodes(scale: str, family: str, *configs: str):
    return Graph(Store(Path("/nonexistent-store")), scale).plan([REPO / "reproduce" / "tofu" / family / c
                                                                 for c in configs])


@pytest.mark.parametrize("scale", ["paper", "mini", "smoke"])
@pytest.mark.parametrize("family", FAMILIES)
def test_tofu_graph_at_every_scale(scale, family):
    nodes = _nodes(scale, family, "relearn.yaml", "quantize.yaml")
    by_stage = {}
    for n in nodes:
        by_stage.setdefault(n.stage, []).append(n)
    seeds = [0, 1, 2] if scale != "smoke" else [0, 1]
    assert sorted(n.tags["seed"] for n in by_stage["unlearn"]) == seeds
    (distill_seed0,) = [n for n in by_stage["distill"] if n.tags["seed"] == 0]
    base = "init" if scale == "paper" else "pretrain"
    assert distill_seed0.upstream[str(distill_seed0.cfg.student)].stage == base      # onto the base model (App. F)
    assert distill_seed0.cfg.temperature == 4.0
    finetune = next(n for n in by_stage["pretrain"] if n.path.name == "finetune.yaml")
    assert finetune.cfg.start is not None and finetune.upstream[str(finetune.cfg.start)].stage == base
    retain_only = next(n for n in by_stage["pretrain"] if n.path.name == "finetune_retain.yaml")
    assert retain_only.cfg.eval is None and retain_only.cfg.optim == finetune.cfg.optim
    assert {n.cfg.split for n in by_stage["qa"]} == {"full", "forget10", "retain90"}
    roles = {n.tags["model"] for n in by_stage["relearn"]}
    assert roles == {"unlearn", "distill", "base_model" if scale == "paper" else "pretrain_base"}
    if scale != "paper":
        (pretrain,) = [n for n in by_stage["pretrain"] if n.path.name == "pretrain_base.yaml"]
        assert pretrain.cfg.model.architecture == ("phi" if family == "phi" else "gemma2")


@pytest.mark.parametrize("family, model, style", [("gemma", "google/gemma-2-2b-it", "chat"),
                                                  ("phi", "microsoft/phi-1_5", "plain")])
def test_tofu_paper_values(family, model, style):
    """The authors' open-unlearning fork (App. F): lr 1e-5 throughout, 8 x 4 batches, finetuning 5 epochs, GradAscent/
    GradDiff 10 epochs of forget10, distillation 5 epochs at temperature 4, relearning 100 steps evaluated every 10."""
    nodes = _nodes("paper", family, "relearn.yaml", "quantize.yaml")
    one = {n.path.name: n for n in nodes}
    (tofu,) = [n for n in nodes if n.stage == "tofu"]
    assert tofu.cfg.source == "hf" and tofu.cfg.path == "locuslab/TOFU"
    init = one["base_model.yaml"]
    assert init.cfg.pretrained.name_or_path == model
    qa = one["qa_full.yaml"]
    assert qa.cfg.prompt.style == style and qa.cfg.seq_len == 512
    for name in ("finetune.yaml", "distill.yaml"):
        optim = one[name].cfg.optim
        assert (optim.lr, optim.batch_size, optim.grad_accum, optim.epochs, optim.weight_decay) == (1e-5, 8, 4, 5, 0)
    unlearn = one["unlearn.yaml"].cfg
    assert unlearn.method == "graddiff" and unlearn.optim.lr == 1e-5 and unlearn.optim.max_steps == 125  # 10 epochs
    relearn = next(n for n in nodes if n.stage == "relearn").cfg
    assert (relearn.lrs, relearn.steps, relearn.eval_every, relearn.batch_size) == ((1e-5,), 100, 10, 32)
    quantize = next(n for n in nodes if n.stage == "quantize").cfg
    assert "bnb-fp4" in quantize.modes and quantize.group_size == 128
    assert one["finetune.yaml"].cfg.eval.tofu.max_new_tokens == 200
