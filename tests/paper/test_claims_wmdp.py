"""undo.paper.claims_wmdp and undo.paper.wmdp: the WMDP rules on synthetic results just inside and outside their
margins (forget accuracy, raised by the attacker; margin 0.01), and Figures 8, 11 and Table 13 drawn from them."""

import json

import pytest

from undo.paper import claims_wmdp, wmdp
from undo.paper.claims import AGREE, DISAGREE, UNDETERMINED
from undo.paper.figures import fig8, fig11, tab13

STEPS = [0, 5, 10, 30]
SEEDS = (0, 1)


def attack(seed, adversary, final, start=0.3, retain=0.6, lrs=("0.001", "0.003")):
    """One adversary's attack in one seed: its best learning rate ends at ``final``, the other 0.05 below."""
    curves = {}
    for i, lr in enumerate(lrs):
        end = final - 0.05 * i
        curves[lr] = {"step": STEPS, "forget": [start, start, (start + end) / 2, end], "retain": [retain] * len(STEPS)}
    return {"artifact": "a", "tags": {"seed": seed, "adversary": adversary, "shrink_alpha": 0.05 if adversary.startswith("sp_") else 0.0},
            "summary": {}, "history": [], "results": {"higher_is_better": True, "adversary": adversary, "curves": curves}}


def model(finals, retain=0.6, best="forget_retain_qa"):
    """Attacks on one model: per seed, ``best`` ends at ``finals[seed]`` and every other adversary 0.1 lower."""
    return [attack(seed, adv, finals[seed] if adv == best else finals[seed] - 0.1, retain=retain)
            for seed in SEEDS for adv in wmdp.ADVERSARIES]


def test_best_adversary_and_strongest_attack():
    by_adv = wmdp.adversary_curves(model({0: 0.7, 1: 0.6}))
    assert list(by_adv) == list(wmdp.ADVERSARIES)  # Table 12's order
    assert wmdp.best_adversary(by_adv) == "forget_retain_qa"
    assert wmdp.value_at(by_adv["forget_retain_qa"]) == pytest.approx(0.65)  # mean over seeds of the attacker's best rate
    assert wmdp.value_at(by_adv["forget_retain_qa"], step=0) == 0.3
    assert wmdp.unattacked(model({0: 0.7, 1: 0.6}, retain=0.55), "retain") == {0: 0.55, 1: 0.55}


def fig8_results(undo_finals):
    series = {}
    for domain in ("bio", "cyber"):
        for method in ("maxent", "rmu"):
            series[f"{domain}/{method}"] = model({0: 0.70, 1: 0.70})
            series[f"{domain}/undo_{method}"] = model(undo_finals, best="wiki_qa_long")
    return {"scale": "test", "series": series}


def test_fig8_rule_margin_both_ways():
    def verdicts(finals):
        return {c.verdict for c in claims_wmdp.fig8_claims(fig8_results(finals))}

    assert verdicts({0: 0.685, 1: 0.60}) == {AGREE}          # 0.015 and 0.1 below the teacher
    assert verdicts({0: 0.695, 1: 0.60}) == {UNDETERMINED}    # seed 0 within the margin
    assert verdicts({0: 0.80, 1: 0.70}) == {DISAGREE}
    rows = claims_wmdp.fig8_claims(fig8_results({0: 0.6, 1: 0.6}))
    assert len(rows) == 4 and "(wiki_qa_long)" in rows[0].measured


def fig11_results(undo_retain, undo_final):
    series = {}
    for domain in ("bio", "cyber"):
        for method, retain, final in (("maxent", 0.6, 0.7), ("rmu", 0.55, 0.5), ("sam", 0.58, 0.72),
                                      ("repnoise", 0.5, 0.45)):
            series[f"{domain}/{method}"] = model({0: final, 1: final}, retain=retain)
        series[f"{domain}/undo_maxent"] = model({0: undo_final, 1: undo_final}, retain=undo_retain)
    return {"scale": "test", "series": series, "options": {"low_step": 5}}


def test_fig11_frontier_rule():
    def verdicts(retain, final):
        return {c.verdict for c in claims_wmdp.fig11_claims(fig11_results(retain, final))}

    assert verdicts(0.62, 0.7) == {AGREE}      # the most retain of all: undominated whatever its forget
    assert verdicts(0.56, 0.52) == {AGREE}     # RMU has less retain; nobody with more retain forgets as little
    assert verdicts(0.54, 0.505) == {DISAGREE}  # RMU: more retain, forget within the margin of UNDO's
    assert verdicts(0.54, 0.485) == {AGREE}    # ... but not when UNDO forgets more than the margin better


def with_frontier(results, retain, final, point="medium"):
    """Table 10's Medium and Worst MaxEnt points (series ``<domain>/maxent_frontier``, tagged ``point``); the other
    point has no retain to speak of."""
    for domain in ("bio", "cyber"):
        instances = []
        for p, r, f in ((point, retain, final), ("worst" if point == "medium" else "medium", 0.3, 0.3)):
            for inst in model({0: f, 1: f}, retain=r):
                inst["tags"]["point"] = p
                instances.append(inst)
        results["series"][f"{domain}/maxent_frontier"] = instances
    return results


def test_fig11_counts_table_10s_frontier_points_as_baselines():
    """A Medium MaxEnt point with UNDO's retain and less forget after the attack dominates UNDO; one with less
    retain does not."""
    assert {c.verdict for c in claims_wmdp.fig11_claims(with_frontier(fig11_results(0.56, 0.52), 0.57, 0.50))} == {DISAGREE}
    rows = claims_wmdp.fig11_claims(with_frontier(fig11_results(0.56, 0.52), 0.50, 0.40))
    assert {c.verdict for c in rows} == {AGREE}
    dominated = claims_wmdp.fig11_claims(with_frontier(fig11_results(0.56, 0.52), 0.57, 0.50, point="worst"))
    assert "MaxEnt (Worst) (0.570, 0.500)" in dominated[0].measured
    split = wmdp.method_series(with_frontier(fig11_results(0.56, 0.52), 0.5, 0.4)["series"])
    assert {"bio/maxent_medium", "bio/maxent_worst", "bio/maxent"} <= set(split)
    assert [wmdp.method_label(m) for m in ("maxent", "rmu_medium", "undo_rmu", "sam")] == [
        "MaxEnt", "RMU (Medium)", "UNDO (RMU)", "SAM"]
    with pytest.raises(ValueError, match="point"):
        wmdp.method_series({"bio/maxent_frontier": model({0: 0.5, 1: 0.5})})


def tab13_results(by_seed):
    distilled = [{"tags": {"seed": s, "alpha": a}, "summary": {"eval": {"retain": r}}}
                 for s, values in by_seed.items() for a, r in values.items()]
    return {"scale": "test", "series": {"distilled": distilled,
                                        "teacher": [{"tags": {"seed": 0}, "summary": {"eval": {"retain": 0.6}}}]}}


def test_tab13_rule():
    falls = {0.0: 0.55, 0.25: 0.49, 0.35: 0.37, 0.6: 0.25}
    assert claims_wmdp.tab13_claims(tab13_results({0: falls, 1: falls}))[0].verdict == AGREE
    rises = {a: 0.2 + a for a in falls}
    assert claims_wmdp.tab13_claims(tab13_results({0: falls, 1: rises}))[0].verdict == UNDETERMINED
    assert claims_wmdp.tab13_claims(tab13_results({0: rises, 1: rises}))[0].verdict == DISAGREE


def test_figures_draw_from_results(tmp_path):
    fig11_in = with_frontier(fig11_results(0.62, 0.5), 0.5, 0.4)
    for module, results, name in ((fig8, fig8_results({0: 0.6, 1: 0.6}), "fig8"), (fig11, fig11_in, "fig11"),
                                  (tab13, tab13_results({0: {0.0: 0.55, 0.25: 0.5}, 1: {0.0: 0.5, 0.25: 0.45}}), "tab13")):
        (tmp_path / f"{name}.json").write_text(json.dumps(results))
        paths = module.draw(results, tmp_path / name)
        assert all(p.stat().st_size > 0 for p in paths)
    assert "**wiki-qa-long**" in (tmp_path / "fig8.md").read_text()
    md11 = (tmp_path / "fig11.md").read_text()
    assert "| UNDO (MaxEnt) | 0.620 |" in md11 and "| yes |" in md11
    assert "| MaxEnt (Medium) | 0.500 |" in md11 and "| MaxEnt (Worst) | 0.300 |" in md11
    tex = (tmp_path / "tab13.tex").read_text()
    assert "0.25 & 0.475 [0.450--0.500] & 0.49" in tex


def test_tab13_flat_retain_is_no_fall():
    flat = {a: 0.344 for a in (0.0, 0.25, 0.35, 0.6)}
    (row,) = claims_wmdp.tab13_claims(tab13_results({0: flat, 1: flat}))
    assert row.verdict == DISAGREE and "ρ = +0.00" in row.measured
