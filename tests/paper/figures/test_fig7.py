"""undo.paper.figures.fig7 on a synthetic results dict whose points, frontier and table are known."""

import copy
import math

import pytest
from figure_helpers import load_figure

STEPS = [0, 20, 40, 60]


def _load():
    return load_figure("fig7")


def _instance(retain, forget, tags=None):
    curves = {"0.001": {"step": STEPS, "forget": forget, "retain": [retain] * 4},
              "0.0003": {"step": STEPS, "forget": [forget[0]] * 4, "retain": [retain] * 4}}
    return {"artifact": "relearn/x", "tags": tags or {"seed": 0}, "summary": {}, "history": [],
            "results": {"curves": curves}}


def results():
    series = {}
    for setting, sign in (("language", -1), ("arithmetic", 1)):
        base = 6.0 if sign < 0 else 0.0  # language: CE falls from 6 under the attack; arithmetic: accuracy rises
        r = 3.6 if sign < 0 else 0.88
        series[f"{setting}/maxent"] = [_instance(r, [base + sign * x for x in (0.0, 0.6, 0.7, 0.8)])]
        series[f"{setting}/sam"] = [_instance(r, [base + sign * x for x in (0.0, 0.4, 0.6, 0.7)])]
        series[f"{setting}/undo"] = [_instance(r + sign * -0.05 * k, [base + sign * x for x in (0.0, 0.05, 0.1, 0.15)],
                                               {"alpha": 0.6, "seed": 0, "tolerance": t})
                                     for k, t in ((1, 0.05), (3, 0.33))]
        series[f"{setting}/data_filtering"] = [_instance(r, [base + sign * x for x in (0.0, 0.0, 0.01, 0.02)])]
    return {"figure": "fig7", "scale": "smoke", "series": series,
            "options": {"moderate_step": 40, "settings": {
                "language": {"higher_is_better": False, "forget_label": "Korean CE",
                             "retain_label": "English CE"},
                "arithmetic": {"higher_is_better": True,
                               "forget_label": "Mul/Div accuracy", "retain_label": "Add/Sub accuracy"}}}}


def test_draw_writes_figure_and_table(tmp_path):
    fig7 = _load()
    paths = fig7.draw(results(), tmp_path / "fig7")
    assert sorted(p.suffix for p in paths) == [".md", ".pdf", ".png"]
    assert all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "fig7.md").read_text()
    assert "| model | retain | forget @0 | forget @40 | forget @60 | best lr @60 | frontier @60 |" in md
    # arithmetic: MaxEnt ends at 0.8, UNDO τ=0.05 at 0.15 with retain 0.83; Data Filtering dominates everyone
    assert "| MaxEnt | 0.880 | 0.000 | 0.700 | 0.800 | 0.001 | no |" in md
    assert "| UNDO τ=0.05 | 0.830 | 0.000 | 0.100 | 0.150 | 0.001 | no |" in md
    assert "| Data Filtering | 0.880 | 0.000 | 0.010 | 0.020 | 0.001 | yes |" in md
    # language (CE): forget falls from 6, so the attacker-best is the minimum; UNDO τ=0.05's retain CE is 3.65
    assert "| UNDO τ=0.05 | 3.650 | 6.000 | 5.900 | 5.850 | 0.001 | no |" in md
    assert md.index("## Language") < md.index("## Arithmetic")
    assert "Korean CE, higher is more robust" in md and "Mul/Div accuracy, lower is more robust" in md


def test_frontier_without_the_oracle(tmp_path):
    fig7 = _load()
    res = results()
    for setting in ("language", "arithmetic"):
        del res["series"][f"{setting}/data_filtering"]
    fig7.draw(res, tmp_path / "fig7")
    md = (tmp_path / "fig7.md").read_text()
    assert "| UNDO τ=0.05 | 0.830 | 0.000 | 0.100 | 0.150 | 0.001 | yes |" in md
    assert "| SAM | 0.880 | 0.000 | 0.600 | 0.700 | 0.001 | yes |" in md  # more retain than UNDO
    assert "| MaxEnt | 0.880 | 0.000 | 0.700 | 0.800 | 0.001 | no |" in md  # SAM: same retain, less relearned


def seeded_results():
    """Every model with a second seed: retain 0.02 lower, forget 0.1 higher after step 0. Seed 1 of arithmetic MaxEnt
    also had its grid extended by 0.01, which diverged after step 20."""
    res = results()
    for instances in res["series"].values():
        for inst in list(instances):
            other = copy.deepcopy(inst)
            other["tags"]["seed"] = 1
            for curve in other["results"]["curves"].values():
                curve["retain"] = [r - 0.02 for r in curve["retain"]]
                curve["forget"] = [f + (0.1 if step else 0.0) for step, f in zip(STEPS, curve["forget"], strict=True)]
            instances.append(other)
    maxent = res["series"]["arithmetic/maxent"][1]["results"]
    maxent["curves"]["0.01"] = {"step": STEPS, "forget": [0.0, 0.95, math.nan, math.nan], "retain": [0.86] * 4,
                                "diverged": True}
    maxent["extra_lrs"] = {"up": 1, "down": 0}
    return res


def test_several_seeds_median_points_error_bars_and_table(tmp_path, saved_figures):
    fig7 = _load()
    fig7.draw(seeded_results(), tmp_path / "fig7")
    md = (tmp_path / "fig7.md").read_text()
    assert "| model | retain | forget @0 | forget @40 | forget @60 | best lr @60 | frontier @60 | seeds |" in md
    # arithmetic MaxEnt: retain 0.88 / 0.86, forget after 40 steps 0.7 / 0.8 (the diverged 0.01 is skipped), 60: 0.8 / 0.9
    assert "| MaxEnt | 0.870 [0.860–0.880] | 0.000 | 0.750 [0.700–0.800] | 0.850 [0.800–0.900] | 0.001 | no | 2 |" in md
    assert "| Data Filtering | 0.870 [0.860–0.880] | 0.000 | 0.060 [0.010–0.110] | 0.070 [0.020–0.120] | 0.001 | yes | 2 |" in md
    assert "seeds: 2 seeds" in md
    assert "- arithmetic/maxent (seed 1): attack grid extended by 1 above (3 learning rates)" in md
    assert "- arithmetic/maxent (seed 1): learning rate 0.01 diverged" in md
    fig = saved_figures[-1]
    assert "median over 2 seeds, bars min–max" in fig.get_suptitle()
    ax = fig.axes[5]  # (f) arithmetic after the extensive attack
    assert ax.get_title(loc="left").startswith("(f) Arithmetic")
    (maxent,) = [c for c in ax.collections if c.get_label() == "MaxEnt"]
    assert maxent.get_offsets().tolist() == [[pytest.approx(0.85), pytest.approx(0.87)]]  # the medians
    bars = [seg for c in ax.collections if type(c).__name__ == "LineCollection" for seg in c.get_segments()]
    spans = {(round(float(a[0]), 3), round(float(a[1]), 3), round(float(b[0]), 3), round(float(b[1]), 3)) for a, b in bars}
    assert (0.8, 0.87, 0.9, 0.87) in spans and (0.85, 0.86, 0.85, 0.88) in spans  # MaxEnt: forget and retain min–max


def test_a_lora_adversary_is_drawn_apart_and_tabled_next_to_full_finetuning(tmp_path, saved_figures):
    """A LoRA attack on arithmetic MaxEnt (relearning less: 0.5 after 60 steps against full finetuning's 0.8) and on
    UNDO τ=0.05: its own table and hollow markers in the extensive-attack panel only; the frontier is unchanged."""
    fig7 = _load()
    plain = results()
    fig7.draw(plain, tmp_path / "plain")
    res = results()
    attack = {"kind": "lora", "rank": 8, "alpha": 16.0, "target_modules": ["q_proj", "v_proj"],
              "trainable_parameters": 1234}
    for method, forget in (("maxent", (0.0, 0.3, 0.4, 0.5)), ("undo", (0.0, 0.02, 0.05, 0.1))):
        full = res["series"][f"arithmetic/{method}"][0]
        full["results"]["model"] = f"select/{method}-abc"
        lora = _instance(full["results"]["curves"]["0.001"]["retain"][0], list(forget), {"seed": 0})
        lora["results"].update(model=f"select/{method}-abc", attack=attack)
        res["series"][f"arithmetic/{method}/lora"] = [lora]
    fig7.draw(res, tmp_path / "fig7")
    md = (tmp_path / "fig7.md").read_text()
    assert "LoRA r=8 adversary (alpha 16.0, on q_proj, v_proj)" in md
    assert "| MaxEnt | 0.880 | 0.000 | 0.400 | 0.500 | 0.001 | 0.800 | 1234 | 1 |" in md
    assert "| UNDO τ=0.05 | 0.830 | 0.000 | 0.050 | 0.100 | 0.001 | 0.150 | 1234 | 1 |" in md
    # the full-finetune tables (and so the frontier) are those of the figure without the LoRA adversary
    assert md.split("LoRA r=8")[0].split("## Arithmetic")[1].strip() == \
        (tmp_path / "plain.md").read_text().split("## Arithmetic")[1].split("Relearning attacks")[0].strip()
    arithmetic_long = saved_figures[-1].axes[5]  # (f): arithmetic after the extensive attack
    assert "(f)" in arithmetic_long.get_title(loc="left")
    hollow = [c for c in arithmetic_long.collections if len(c.get_offsets()) and not len(c.get_facecolors())]
    hollow_x = sorted(float(x) for c in hollow for x, _ in c.get_offsets())
    assert 0.1 in hollow_x and 0.5 in hollow_x
    moderate = saved_figures[-1].axes[4]
    assert not any(0.4 == float(x) for c in moderate.collections for x, _ in c.get_offsets() if not len(c.get_facecolors()))
