"""Section 6's WMDP setting end to end at smoke scale (Figures 8, 11, Table 13, their claims), and its graph at every
scale: Tables 9-12's values where the paper states them, the eight adversaries' data mixes."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from undo.cli import cli
from undo.paper import wmdp
from undo.pipeline import Graph
from undo.store import Store

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wmdp_smoke_end_to_end_then_report(smoke_workspace):
    args = ["--artifacts-dir", "artifacts", "--device", "cpu", "run", "reproduce/fig8.yaml", "reproduce/fig11.yaml",
            "reproduce/tab13.yaml", "--scale", "smoke"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    out = smoke_workspace / "figures" / "smoke"
    for name, exts in (("fig8", ("png", "pdf", "json", "md")), ("fig11", ("png", "pdf", "json", "md")),
                       ("tab13", ("png", "pdf", "json", "md", "tex"))):
        for ext in exts:
            assert (out / f"{name}.{ext}").stat().st_size > 0, (name, ext)

    fig11 = json.loads((out / "fig11.json").read_text())
    for domain in ("bio", "cyber"):
        for method in ("maxent", "rmu"):
            frontier = fig11["series"][f"{domain}/{method}_frontier"]
            assert {i["tags"]["point"] for i in frontier} == {"medium", "worst"}
            assert {i["tags"]["adversary"] for i in frontier} == {"forget_retain_long", "forget_retain_qa_long"}
    assert "MaxEnt (Worst)" in (out / "fig11.md").read_text()
    fig8 = json.loads((out / "fig8.json").read_text())
    assert set(fig8["series"]) == {f"{d}/{m}" for d in ("bio", "cyber") for m in ("maxent", "rmu", "undo_maxent", "undo_rmu")}
    for instances in fig8["series"].values():
        assert {i["tags"]["adversary"] for i in instances} == set(wmdp.ADVERSARIES)
        for inst in instances:
            curve = next(iter(inst["results"]["curves"].values()))
            assert curve["step"] == [0, 2, 4]  # smoke's sparse evaluation steps
    undo = fig8["series"]["bio/undo_maxent"][0]
    assert undo["results"]["model_stage"] == "distill"
    md = (out / "fig8.md").read_text()
    assert "## Bio, MaxEnt" in md and "**" in md  # the best adversary is marked
    tab13 = json.loads((out / "tab13.json").read_text())
    assert sorted({i["tags"]["alpha"] for i in tab13["series"]["distilled"]}) == [0.0, 0.25, 0.35, 0.6]
    assert r"\begin{tabular}" in (out / "tab13.tex").read_text()

    # the adversaries' data have Table 12's proportions: 50/50 forget/retain, 50/25/25 wikitext/forget/retain QA
    store = smoke_workspace / "artifacts" / "dataset"
    mixes = {}
    for meta in store.glob("*/metrics.json"):
        summary = json.loads(meta.read_text())
        name = meta.parent.name.rsplit("-", 1)[0].split("-", 1)[1]
        mixes[name] = [(p["corpus"].split("/")[1].rsplit("-", 1)[0].split("-", 1)[1], p["windows_used"] / summary["sequences"])
                       for p in summary["parts"]]
    for name, expected in (("data_forget_retain", {"corpus_forget": 0.5, "corpus_retain": 0.5}),
                           ("data_forget_retain_qa", {"corpus_forget_qa": 0.5, "corpus_retain_qa": 0.5}),
                           ("data_wiki_qa_long", {"corpus_wikitext": 0.5, "corpus_forget_qa": 0.25, "corpus_retain_qa": 0.25})):
        shares = dict(mixes[name])
        assert set(shares) == set(expected), name
        for corpus, share in expected.items():
            assert shares[corpus] == pytest.approx(share, abs=0.05), (name, corpus)

    report = CliRunner().invoke(cli, ["report", "--scale", "smoke"])
    assert report.exit_code == 0, report.output
    claims = (out / "claims.md").read_text()
    for row in ("| UNDO relearns less than its Unlearn-Only teacher under the best adversary | fig8 | WMDP-Bio, MaxEnt |",
                "| UNDO is on the forget/retain frontier after the high-compute attack | fig11 | WMDP-Cyber |",
                "| Retain after distillation falls as the shrinkage alpha rises | tab13 |"):
        assert row in claims, row


def _plan(scale: str, *configs: str):
    return Graph(Store(Path("/nonexistent-store")), scale).plan([REPO / "reproduce" / c for c in configs])


@pytest.mark.parametrize("scale, seeds", [("paper", 4), ("mini", 2), ("smoke", 1)])
def test_wmdp_graph_at_every_scale(scale, seeds):
    nodes = _plan(scale, "fig8.yaml", "fig11.yaml", "tab13.yaml")
    relearn = [n for n in nodes if n.stage == "relearn"]
    # two domains x six models (MaxEnt, RMU, UNDO of each, SAM, RepNoise) x eight adversaries x the seeds, and Table
    # 10's Medium and Worst points of MaxEnt and RMU (Figure 11) x every adversary (paper) or the two long ones
    frontier = 8 if scale == "paper" else 2
    assert len({n.key for n in relearn}) == 2 * (6 * 8 + 2 * 2 * frontier) * seeds
    assert all(n.cfg.retain_at == "start" for n in relearn)  # MMLU is read before the attack only
    points = {(n.tags["model"], n.tags.get("point")) for n in relearn if n.tags["model"].startswith("select")}
    assert points == {(f"select_{m}{suffix}", p) for m in ("maxent", "rmu")
                      for suffix, p in (("", None), ("_frontier", "medium"), ("_frontier", "worst"))}
    selects = [n for n in nodes if n.stage == "select"]
    assert {n.cfg.rule for n in selects} == {"retain_rank" if scale == "paper" else "tolerance"}
    for node in selects:  # alpha and the learning rate chosen together (App. D.2.3), among every point of the grid
        assert node.cfg.over == "retain_weight,lr"
        grid = {(n.tags["retain_weight"], n.tags["lr"]) for n in node.upstream[str(node.cfg.candidates)]}
        assert len(grid) == (3 if scale == "paper" else 2 * len({lr for _, lr in grid}))
    assert {n.tags["adversary"] for n in relearn} == set(wmdp.ADVERSARIES)
    long = {n.tags["adversary"] for n in relearn if n.upstream and "long" in n.tags["data"]}
    assert long == {"forget_retain_long", "forget_retain_qa_long", "wiki_qa_long", "sp_wiki_qa_long"}
    shrunk = {n.tags["adversary"] for n in relearn if n.cfg.shrink_alpha > 0}
    assert shrunk == {"sp_forget_retain", "sp_forget_retain_qa", "sp_wiki_qa_long"}
    assert {n.cfg.shrink_alpha for n in relearn if n.cfg.shrink_alpha > 0} == {0.05}  # App. D.2.5
    noise = [n for n in nodes if n.stage == "noise" and "noise_alpha" not in str(n.path)]
    assert {(n.cfg.alpha, n.cfg.beta) for n in noise} == {(0.25, 0.0)}  # Section 6: alpha 0.25, beta 0


def test_wmdp_paper_values():
    """Tables 9-12 and App. D.2.4 as the paper states them, read from the resolved paper-scale configs."""
    nodes = _plan("paper", "fig8.yaml", "fig11.yaml", "tab13.yaml")
    by = {}
    for n in nodes:
        by.setdefault((n.path.parent.name, n.path.stem), []).append(n)
    table10 = {("bio", "rmu"): [(0.5, 5e-5), (0.3, 1e-4), (0.1, 1e-4)],  # Best, Medium, Worst
               ("bio", "maxent"): [(0.3, 2e-5), (0.1, 2e-5), (0.75, 5e-5)],
               ("cyber", "rmu"): [(0.5, 2e-5), (0.2, 2e-5), (0.1, 2e-5)],
               ("cyber", "maxent"): [(0.2, 2e-5), (0.3, 3.5e-5), (0.3, 5e-5)]}
    for (domain, method), points in table10.items():
        runs = by[(domain, f"unlearn_{method}")]
        assert {(n.cfg.options["retain_weight"], n.cfg.optim.lr) for n in runs} == set(points)
        assert len(runs) == 3 * 4  # Table 10's three points x four seeds
    for domain in ("bio", "cyber"):
        m = by[(domain, "unlearn_maxent")][0].cfg
        assert (m.options["retain_loss"], m.options["weighting"]) == ("kl", "convex")  # App. D.2.3
        r = by[(domain, "unlearn_rmu")][0].cfg
        assert r.options["trainable_layers"] == [10, 11, 12, 13, 14, 15] and r.options["layer"] == 15
        assert r.options["steering_coeff"] == 80.0  # Table 9
        for cfg in (m, r):
            assert (cfg.optim.batch_size, cfg.optim.max_steps, cfg.optim.schedule) == (40, 90, "constant")  # Table 9
        assert {n.tags["seed"] for n in by[(domain, "unlearn_maxent")]} == {42, 43, 44, 45}
    relearn = next(n for n in nodes if n.stage == "relearn").cfg
    assert (relearn.batch_size, relearn.steps, relearn.eval_steps) == (20, 500, (10, 25, 50, 150, 500))
    distill = next(n for n in nodes if n.stage == "distill").cfg
    assert (distill.optim.lr, distill.optim.min_lr, distill.optim.max_steps) == (2e-5, 2e-6, 3000)  # App. D.2.4
    aux = next(n for n in nodes if n.stage == "dataset" and n.path.stem == "data_aux").cfg
    assert aux.seq_len == 1024 and sum(p.weight for p in aux.parts) == pytest.approx(1.0)  # Table 11
    assert sorted(p.weight for p in aux.parts) == sorted([0.35, 0.35, 0.05] + [0.04] * 6 + [0.01])
    base = next(n for n in nodes if n.stage == "init").cfg
    assert base.pretrained.name_or_path == "google/gemma-2-2b" and len(base.pretrained.revision) == 40
    alphas = sorted(n.cfg.alpha for n in nodes if n.stage == "noise" and n.path.stem == "noise_alpha")
    assert sorted(set(alphas)) == [0.0, 0.25, 0.35, 0.6]  # Table 13
