"""undo.paper.pareto: Figure 7's points (budgets read from the attacker envelope) and oriented dominance."""

import math

import pytest

from undo.paper.pareto import dominated_by, dominates, seed_medians, setting_points

STEPS = [0, 20, 40, 60]


def _instance(retain, fast, slow, tags=None):
    curves = {"0.001": {"step": STEPS, "forget": fast, "retain": [retain, 0.1, 0.1, 0.1]},
              "0.0003": {"step": STEPS, "forget": slow, "retain": [retain, 0.5, 0.5, 0.5]}}
    return {"artifact": "a", "tags": tags or {}, "results": {"curves": curves}}


def _results(best="max", moderate=40):
    series = {"arithmetic/maxent": [_instance(0.9, [0.0, 0.5, 0.6, 0.6], [0.0, 0.1, 0.7, 0.9])],
              "arithmetic/undo": [_instance(0.8, [0.0, 0.1, 0.2, 0.3], [0.0, 0.0, 0.1, 0.4], {"tolerance": 0.05})]}
    return {"series": series, "options": {"moderate_step": moderate, "settings": {"arithmetic": {"higher_is_better": best == "max"}}}}


def test_points_take_the_attacker_best_per_budget_and_retain_at_step_0():
    s = setting_points(_results())["arithmetic"]
    maxent, undo = s["points"]
    assert s["retain_higher_is_better"] is True  # retain and forget: one kind of measure (accuracy)
    assert maxent["retain"] == 0.9  # not the attacked model's 0.1/0.5 retain
    assert maxent["forget"] == {"initial": 0.0, "moderate": 0.7, "long": 0.9}
    assert maxent["best_lr"]["moderate"] == "0.0003" and maxent["step"]["long"] == 60
    assert undo["label"] == "UNDO τ=0.05" and undo["forget"]["long"] == 0.4
    low = setting_points(_results(best="min"))["arithmetic"]["points"][0]
    assert low["forget"] == {"initial": 0.0, "moderate": 0.6, "long": 0.6}


def test_dominance_is_oriented_per_setting():
    s = setting_points(_results())["arithmetic"]
    maxent, undo = s["points"]
    # accuracy: MaxEnt has more retain but relearns more -> neither dominates
    assert not dominates(maxent, undo, s, "long") and not dominates(undo, maxent, s, "long")
    # before the attack both forget 0 and MaxEnt has more retain
    assert dominates(maxent, undo, s, "initial") and dominated_by(undo, s["points"], s, "initial") == [maxent]
    ce = {**s, "attacker_best": "min", "retain_higher_is_better": False}
    assert dominates(undo, maxent, ce, "initial")  # lower retain CE is better
    assert not dominates(undo, maxent, ce, "long")  # read as CE, MaxEnt's forget 0.9 is the more robust one
    better_retain = {**maxent, "retain": 0.7}
    assert dominates(better_retain, undo, ce, "long") and not dominates(better_retain, undo, s, "long")


def test_nan_points_neither_dominate_nor_are_dominated():
    s = setting_points(_results())["arithmetic"]
    maxent, undo = s["points"]
    broken = {**undo, "forget": {**undo["forget"], "long": math.nan}}
    assert not dominates(maxent, broken, s, "long") and not dominates(broken, maxent, s, "long")


def test_unevaluated_moderate_step_is_refused():
    with pytest.raises(ValueError, match="moderate_step 30 was not evaluated"):
        setting_points(_results(moderate=30))
    with pytest.raises(ValueError, match="expected <setting>/<method>"):
        setting_points({"series": {"a/b/c/d": []}, "options": {}})
    with pytest.raises(ValueError, match="attacked by the full adversary, not lora"):  # results without attack.kind
        setting_points({**_results(), "series": {"arithmetic/maxent/lora": [_instance(0.9, [0.0] * 4, [0.0] * 4)]}})


def test_another_adversary_is_kept_apart_and_paired_with_its_full_finetune_twin():
    """A LoRA attack on UNDO's τ=0.05 student (its selector fixed the tolerance, so its tags lack it): its points are
    under adversaries["lora"], not among the figure's points, with the full-finetune attack's label, tags and forget."""
    res = _results()
    res["series"]["arithmetic/undo"][0]["results"]["model"] = "distill/undo-abc"
    lora = _instance(0.8, [0.0, 0.1, 0.1, 0.2], [0.0, 0.0, 0.1, 0.1], {"seed": 0})
    lora["results"].update(model="distill/undo-abc", attack={"kind": "lora", "rank": 8, "trainable_parameters": 10})
    res["series"]["arithmetic/undo/lora"] = [lora]
    s = setting_points(res)["arithmetic"]
    assert [p["method"] for p in s["points"]] == ["maxent", "undo"]  # the frontier and claims see full finetuning only
    (point,) = s["adversaries"]["lora"]
    assert point["label"] == "UNDO τ=0.05" and point["tags"] == {"tolerance": 0.05}
    assert point["forget"]["long"] == 0.2 and point["full_forget"]["long"] == 0.4
    (median,) = seed_medians(s["adversaries"]["lora"])
    assert median["attack"]["rank"] == 8 and median["spread"]["full_forget"]["long"]["median"] == 0.4


def test_seed_medians_aggregate_each_model_over_seeds_and_leave_the_points_per_instance():
    """Three seeds of MaxEnt (seed 2's every learning rate diverged before the last step), one of UNDO τ=0.05."""
    nan = math.nan
    res = _results()
    res["series"]["arithmetic/maxent"][0]["tags"] = {"seed": 0}
    res["series"]["arithmetic/maxent"] += [_instance(0.7, [0.0, 0.3, 0.4, 0.5], [0.0, 0.1, 0.2, 1.0], {"seed": 1}),
                                           _instance(0.8, [0.0, 0.2, 0.3, nan], [0.0, 0.1, 0.2, nan], {"seed": 2})]
    s = setting_points(res)["arithmetic"]
    assert len(s["points"]) == 4 and [p["tags"].get("seed") for p in s["points"]] == [0, 1, 2, None]
    maxent, undo = seed_medians(s["points"])
    assert maxent["n_seeds"] == 3 and maxent["seeds"] == [0, 1, 2] and [p["retain"] for p in maxent["points"]] == [0.9, 0.7, 0.8]
    assert maxent["retain"] == pytest.approx(0.8) and maxent["spread"]["retain"]["min"] == 0.7
    # attacker-best per seed after 40 steps: 0.7, 0.4, 0.3; after 60: 0.9, 1.0 and NaN (left out)
    assert maxent["forget"] == pytest.approx({"initial": 0.0, "moderate": 0.4, "long": 0.95})
    assert maxent["spread"]["forget"]["long"] == {"median": pytest.approx(0.95), "min": 0.9, "max": 1.0, "n": 2}
    assert maxent["best_lr"]["moderate"] == ["0.0003", "0.001", "0.001"] and maxent["best_lr"]["long"][2] == ""
    assert maxent["step"] == {"initial": 0, "moderate": 40, "long": 60}
    assert undo["label"] == "UNDO τ=0.05" and undo["n_seeds"] == 1 and undo["tags"] == {"tolerance": 0.05}
    # dominance compares the medians: UNDO (0.8, 0.4) against MaxEnt (0.8, 0.95) after the extensive attack
    assert dominates(undo, maxent, s, "long") and dominated_by(maxent, [maxent, undo], s, "long") == [undo]
