"""undo.paper.figures.fig12, fig13 and tab14 (App. F, TOFU) on synthetic results dicts with known values."""

import pytest

from undo.paper import tofu
from undo.paper.figures import fig12, fig13, tab14


def _all(value: float) -> dict:
    return {m: value for m in tofu.PHASE_METRICS}


def _stage(final: dict, seed=None, start: float = 0.5) -> dict:
    """A finetuning / unlearning / distillation instance: every metric at ``start`` at step 0, ``final`` at step 10."""
    hist = [{"step": 0, **{f"eval/{m}": start for m in tofu.PHASE_METRICS}},
            {"step": 10, "train/loss": 1.0},
            {"step": 10, **{f"eval/{m}": v for m, v in final.items()}}]
    return {"artifact": "a", "tags": {} if seed is None else {"seed": seed}, "history": hist,
            "summary": {"steps": 10, "eval": dict(final)}}


def _attack(model: str, seed, curves: dict) -> dict:
    """A relearning attack on ``model``: ``curves`` maps a learning rate to the forget Q&A probability at each step;
    ROUGE stays 0.1 and the truth ratio 0.4, so the mean forget metric is (prob + 0.5) / 3."""
    out = {}
    for lr, prob in curves.items():
        steps = [0, 50, 100][: len(prob)]
        out[lr] = {"step": steps, "forget_Q_A_Prob": prob, "forget": prob, "forget_Q_A_ROUGE": [0.1] * len(prob),
                   "forget_truth_ratio": [0.4] * len(prob), "model_utility": [0.45] * len(prob),
                   **{m: [0.7] * len(prob) for m in ("forget_quality", "mia_min_k", "retain_Q_A_Prob")}}
    tags = {"model": model} if seed is None else {"model": model, "seed": seed}
    return {"artifact": "r", "tags": tags, "summary": {}, "history": [], "results": {"curves": out}}


def fig12_results(family: str = "gemma") -> dict:
    """Finetuning (no seed) ends at 0.9; unlearning's two seeds at 0.1 / 0.3; distillation's at 0.04 / 0.06; the
    control starts its attack at 0.01 / 0.03."""
    return {"scale": "smoke", "series": {
        f"{family}/finetune": [_stage(_all(0.9), start=0.0)],
        f"{family}/unlearn": [_stage(_all(0.1), 0, start=0.9), _stage(_all(0.3), 1, start=0.9)],
        f"{family}/distill": [_stage(_all(0.04), 0), _stage(_all(0.06), 1)],
        f"{family}/control": [_attack("base_model", 0, {"1e-05": [0.01, 0.2]}),
                              _attack("base_model", 1, {"1e-05": [0.03, 0.2]})]}}


def test_fig12_tables_medians_and_marks_control_and_teacher(tmp_path, saved_figures):
    paths = fig12.draw(fig12_results(), tmp_path / "fig12")
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md"} and all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "fig12.md").read_text()
    assert "| Forget Q&A prob. | 0.900 | 0.200 [0.100–0.300] | 0.050 [0.040–0.060] | 0.020 [0.010–0.030] |" in md
    fig = saved_figures[-1]
    distill = fig.axes[2]
    assert distill.get_title(loc="left") == "(c) Gemma-2: distillation"
    color = fig12.COLORS["forget_Q_A_Prob"]
    levels = {(line.get_linestyle(), round(line.get_ydata()[0], 6)) for line in distill.lines
              if line.get_color() == color and len(line.get_xdata()) == 2 and line.get_xdata()[0] == 0}
    assert ("--", 0.02) in levels and (":", 0.2) in levels  # control and teacher, medians over seeds
    medians = [line for line in distill.lines if line.get_label() == tofu.METRIC_LABELS["forget_Q_A_Prob"]]
    assert list(medians[0].get_ydata()) == pytest.approx([0.5, 0.05])


def test_fig12_one_family_and_missing_series(tmp_path):
    results = fig12_results("phi")
    assert len(fig12.draw(results, tmp_path / "fig12")) == 3
    del results["series"]["phi/control"]
    with pytest.raises(ValueError, match="phi/control"):
        fig12.draw(results, tmp_path / "fig12")
    with pytest.raises(ValueError, match="no series"):
        fig12.draw({"series": {}}, tmp_path / "fig12")


def fig13_results() -> dict:
    """The unlearned model relearns best at 3e-05 (final 0.6 / 0.8 against 0.5 at 1e-05); the distilled one at 1e-05;
    the control has one rate."""
    relearn = []
    for seed, top in ((0, 0.6), (1, 0.8)):
        relearn.append(_attack("unlearn", seed, {"1e-05": [0.05, 0.3, 0.5], "3e-05": [0.04 + 0.02 * seed, 0.5, top]}))
        relearn.append(_attack("distill", seed, {"1e-05": [0.0, 0.1, 0.2 + 0.1 * seed], "3e-05": [0.0, 0.1, 0.1]}))
        relearn.append(_attack("base_model", seed, {"1e-05": [0.0, 0.05, 0.1]}))
    return {"scale": "smoke", "series": {"gemma/relearn": relearn}}


def test_fig13_reads_the_best_learning_rate_and_tables_medians(tmp_path, saved_figures):
    paths = fig13.draw(fig13_results(), tmp_path / "fig13")
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md"} and all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "fig13.md").read_text()
    # prob 0.04 / 0.06 -> 0.6 / 0.8 at the best rate; mean forget (prob + 0.5) / 3
    assert ("| Unlearned only (GradDiff) | 2 | 3e-05 | 0.050 [0.040–0.060] | 0.700 [0.600–0.800] | "
            "0.183 [0.180–0.187] | 0.400 [0.367–0.433] |") in md
    assert "| Unlearned + distilled | 2 | 1e-05 | 0.000 | 0.250 [0.200–0.300] |" in md
    (ax,) = [a for a in saved_figures[-1].axes if a.get_title(loc="left")]
    assert "unlearned 3e-05; distilled 1e-05; control 1e-05" in ax.get_title(loc="left")
    bold = [line for line in ax.lines if line.get_label() == fig13.LABELS["unlearn"]]
    assert list(bold[0].get_ydata()) == pytest.approx([0.55 / 3, 1.0 / 3, 1.2 / 3])
    light = [line for line in ax.lines if line.get_alpha() == pytest.approx(0.35)]
    assert len(light) == len(tofu.ROLES) * len(tofu.FORGET_METRICS)


def test_fig13_missing_role_or_series(tmp_path):
    results = fig13_results()
    attacks = results["series"]["gemma/relearn"]
    results["series"]["gemma/relearn"] = [i for i in attacks if i["tags"]["model"] != "distill"]
    with pytest.raises(ValueError, match="distill"):
        fig13.draw(results, tmp_path / "fig13")
    with pytest.raises(ValueError, match="phi/relearn"):
        fig13.draw({"series": {"phi/unlearn": [{}]}}, tmp_path / "fig13")


def _quantized(model: str, seed, truth: dict) -> dict:
    """A quantization attack on ``model``: per mode its forget truth ratio; the other metrics fixed."""
    backend = {"none": "torch", "bnb-fp4": "bitsandbytes", "rtn-int4": "torch"}
    modes = {mode: {"record": {"mode": mode, "backend": backend[mode], "scheme": mode},
                    "eval": {"forget_Q_A_Prob": 0.01, "forget_truth_ratio": tr, "model_utility": 0.4}}
             for mode, tr in truth.items()}
    tags = {"model": model} if seed is None else {"model": model, "seed": seed}
    return {"artifact": "q", "tags": tags, "summary": {"modes": modes}, "history": []}


def tab14_results(family: str = "gemma") -> dict:
    def modes(x):
        return {"none": 0.0, "bnb-fp4": x, "rtn-int4": x / 2}

    return {"scale": "smoke", "series": {f"{family}/quantize": [
        _quantized("finetune", None, modes(0.9)), _quantized("unlearn", 0, modes(0.1)),
        _quantized("unlearn", 1, modes(0.3)), _quantized("distill", 0, modes(0.02)),
        _quantized("distill", 1, modes(0.04)), _quantized("pretrain_base", None, modes(0.5))]}}


def test_tab14_rows_backends_and_paper(tmp_path):
    paths = tab14.draw(tab14_results(), tmp_path / "tab14")
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md", ".tex"} and all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "tab14.md").read_text()
    assert ("| Gemma-2 | GradDiff | INT4 (bnb FP4) | 2 | 0.010 | 0.200 [0.100–0.300] | 0.400 | bitsandbytes | "
            "INT4: 0.008 / 0.185 / 0.242 |") in md
    assert "| Gemma-2 | GradDiff + Distilled | full precision | 2 | 0.010 | 0.000 | 0.400 | torch | FP16: 0.000 / 0.001 / 0.442 |" in md
    assert "| Gemma-2 | GradDiff | INT4 (RTN) | 2 | 0.010 | 0.100 [0.050–0.150] | 0.400 | torch | — |" in md
    tex = (tmp_path / "tab14.tex").read_text()
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    rows = [line for line in body.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 4 * 3  # every role x mode
    for role in ("Finetuned", "GradDiff", "GradDiff + Distilled", "Control (base)"):
        for mode, backend in (("full precision", "torch"), ("INT4 (bnb FP4)", "bitsandbytes"), ("INT4 (RTN)", "torch")):
            assert sum(f"& {role} & {mode} &" in r and f"& {backend} &" in r for r in rows) == 1
    assert r"0.200 [0.100--0.300]" in tex and r"\toprule" in tex


def test_tab14_one_family_and_missing_series(tmp_path):
    tab14.draw(tab14_results("phi"), tmp_path / "tab14")
    assert "INT4: 0.008" not in (tmp_path / "tab14.md").read_text()  # the paper's values are Gemma's
    with pytest.raises(ValueError, match="gemma/quantize"):
        tab14.draw({"series": {"gemma/relearn": [{}]}}, tmp_path / "tab14")
