"""undo.paper.figures.fig3 on synthetic sweeps whose selection is known: the App. B.1 language and arithmetic numbers."""

import json

import pytest
from figure_helpers import load_figure

# App. B.1, arithmetic (accuracy): (lr, final retain, final forget); initial retain 0.875, forget 0.8675
B1 = {
    "graddiff": [(6e-6, 0.9125, 0.8375), (7e-6, 0.9075, 0.8325), (8e-6, 0.815, 0.015), (9e-6, 0.74, 0.0),
                 (1e-5, 0.7475, 0.0), (2e-5, 0.1825, 0.0), (3e-5, 0.8025, 0.28), (4e-5, 0.79, 0.1775)],
    "maxent": [(6e-5, 0.86, 0.1275), (7e-5, 0.83, 0.0525), (8e-5, 0.8075, 0.0175), (9e-5, 0.795, 0.0125)],
    "rmu": [(6e-6, 0.7575, 0.2275), (8e-6, 0.615, 0.0675), (1e-5, 0.4425, 0.025)],
}
# App. B.1, language (cross-entropy: lower retain is better, higher forget is more forgotten): (lr, final
# retain, final forget); initial retain 4.9359, forget 3.4672 (MaxEnt) / 3.4668 (GradDiff, RMU). The 10% budget
# is English CE <= 5.4295: every GradDiff and MaxEnt rate fits (both pick 8e-5, the most forgotten), no RMU rate.
LANG = {
    "graddiff": [(1e-5, 5.0264, 30.5592), (2e-5, 4.9924, 31.5783), (3e-5, 4.9967, 32.3159), (4e-5, 5.0085, 32.9097),
                 (5e-5, 5.0216, 33.5308), (6e-5, 5.0334, 34.1291), (7e-5, 5.0563, 34.685), (8e-5, 5.0762, 35.129)],
    "maxent": [(1e-5, 4.9439, 11.3281), (2e-5, 4.9397, 11.6977), (3e-5, 4.942, 11.9844), (4e-5, 4.9466, 12.1715),
               (5e-5, 4.9551, 12.2584), (6e-5, 4.9633, 12.3114), (7e-5, 4.976, 12.3608), (8e-5, 4.9895, 12.3808)],
    "rmu": [(1e-5, 5.4614, 7.2717), (2e-5, 6.0976, 8.8457), (3e-5, 6.8464, 9.8125), (4e-5, 7.6585, 10.2192),
            (5e-5, 8.4008, 10.6792), (6e-5, 9.0205, 10.8073), (7e-5, 9.4909, 10.958), (8e-5, 9.8514, 11.2771)],
}
LANG_FORGET0 = {"graddiff": 3.4668, "maxent": 3.4672, "rmu": 3.4668}


@pytest.fixture(scope="module")
def fig3():
    return load_figure("fig3")


def _instance(lr, retain0, forget0, retain1, forget1, steps=10, seed=None):
    """What the figure stage gathers from one unlearn artifact: tags, summary and history (linear curves)."""
    history = []
    for step in range(0, steps + 1, 5):
        t = step / steps
        history.append({"step": step, "eval/retain": retain0 + t * (retain1 - retain0),
                        "eval/forget": forget0 + t * (forget1 - forget0)})
        if step:
            history.append({"step": step, "train/loss": 1.0, "train/lr": lr})
    tags = {"lr": lr} if seed is None else {"lr": lr, "seed": seed}
    return {"artifact": f"unlearn/x-lr{lr:g}-seed{seed}", "tags": tags,
            "summary": {"eval_initial": {"retain": retain0, "forget": forget0},
                        "eval": {"retain": retain1, "forget": forget1}}, "history": history}


def results():
    series = {f"language/{method}": [_instance(lr, 4.9359, LANG_FORGET0[method], r, f) for lr, r, f in rows]
              for method, rows in LANG.items()}
    for method, rows in B1.items():
        series[f"arithmetic/{method}"] = [_instance(lr, 0.875, 0.8675, r, f) for lr, r, f in rows]
    return {"figure": "fig3", "scale": "paper", "created": "2026-11-23T10:00:00Z", "series": series,
            "options": {"tolerance": 0.1, "settings": {
                "arithmetic": {"higher_is_better": True, "retain": "Add/Sub accuracy", "forget": "Mul/Div accuracy"},
                "language": {"higher_is_better": False, "retain": "English CE", "forget": "Korean CE"}}}}


def test_selection_matches_the_papers_bold_choices(fig3):
    chosen = {s["name"]: s["selected"] for s in fig3.sweeps(results())}  # no seed tags: one seed, None
    assert chosen == {"arithmetic/graddiff": {None: 8e-6}, "arithmetic/maxent": {None: 9e-5}, "arithmetic/rmu": {None: None},
                      "language/graddiff": {None: 8e-5}, "language/maxent": {None: 8e-5}, "language/rmu": {None: None}}


def test_language_selection_follows_the_cross_entropy_direction(fig3):
    """CE: retain may rise at most 10% (falling is fine), and the highest forget CE wins. Read as accuracies,
    the same numbers would pick the lowest forget value (1e-4) and admit every rate (retain never drops)."""
    rows = [(1e-4, 3.00, 3.5),    # admissible, barely forgotten
            (3e-4, 2.90, 9.0),    # admissible: retain CE fell (better)
            (1e-3, 3.29, 12.0),   # admissible: +9.7%, the most forgotten admissible one -> selected
            (3e-3, 3.45, 20.0)]   # most forgotten, but retain CE +11.3%: outside the budget
    res = {"scale": "mini", "series": {"language/maxent": [_instance(lr, 3.1, 3.0, r, f) for lr, r, f in rows]},
           "options": {"tolerance": 0.1, "settings": {"language": {"higher_is_better": False, "retain": "English CE",
                                                                   "forget": "Korean CE"}}}}
    (s,) = fig3.sweeps(res)
    assert s["selected_lrs"] == [1e-3] and [r["admissible"] for r in s["rows"]] == [[True], [True], [True], [False]]
    assert s["options"]["ylabel"] == "cross-entropy"
    res["options"]["settings"]["language"]["higher_is_better"] = True
    assert fig3.sweeps(res)[0]["selected_lrs"] == [1e-4]


def test_language_panels_and_tables_come_first(fig3, tmp_path):
    """Rows in the paper's order, (a-c) language then (d-f) arithmetic, whatever order the series come in."""
    res = results()
    res["series"] = dict(reversed(list(res["series"].items())))  # arithmetic/rmu first
    fig3.draw(res, tmp_path / "fig3")
    md = (tmp_path / "fig3.md").read_text()
    heads = [line.split(" (")[1].split(",")[0] + "/" + line[3:].split(" (")[0]
             for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["Language/GradDiff", "Language/MaxEnt", "Language/RMU",
                     "Arithmetic/GradDiff", "Arithmetic/MaxEnt", "Arithmetic/RMU"]
    assert "## RMU (Language, cross-entropy; retain: English CE, forget: Korean CE)" in md
    assert "| **8e-5** | 1 | **4.9359 → 5.0762** | **3.4668 → 35.1290** | yes | **selected** |" in md  # GradDiff
    assert "| 1e-5 | 1 | 4.9359 → 5.4614 | 3.4668 → 7.2717 | no |  |" in md  # RMU: English CE +10.6%
    tex = (tmp_path / "fig3.tex").read_text()
    labels = [line for line in tex.splitlines() if line.startswith(r"\label")]
    assert labels[0] == r"\label{tab:b1-language-graddiff}" and labels[-1] == r"\label{tab:b1-arithmetic-rmu}"


def test_draw_writes_figure_and_b1_tables(fig3, tmp_path):
    paths = fig3.draw(results(), tmp_path / "out" / "fig3")
    assert sorted(p.name for p in paths) == ["fig3.md", "fig3.pdf", "fig3.png", "fig3.tex"]
    assert all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "out" / "fig3.md").read_text()
    assert "## MaxEnt (Arithmetic, accuracy; retain: Add/Sub accuracy, forget: Mul/Div accuracy)" in md
    assert "| **9e-5** | 1 | **0.8750 → 0.7950** | **0.8675 → 0.0125** | yes | **selected** |" in md
    assert "| 2e-5 | 1 | 0.8750 → 0.1825 | 0.8675 → 0.0000 | no |  |" in md  # GradDiff: forgot all, kept too little
    assert "1 seed." in md
    assert "Selected: lr 8e-6 (rule: retain within 10% of its initial value, then the lowest final forget" in md
    assert "Selected: lr 8e-5 (rule: retain within 10% of its initial value, then the highest final forget" in md
    assert md.count("none selected") == 2 and md.count("**selected**") == 4  # RMU: nothing within 10%, both settings
    tex = (tmp_path / "out" / "fig3.tex").read_text()
    assert r"\textbf{9e-5} & \textbf{1} & \textbf{0.8750 $\to$ 0.7950}" in tex and tex.count(r"\begin{table}") == 6
    assert r"\label{tab:b1-arithmetic-rmu}" in tex and "10\\%" in tex
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_main_reads_the_json(fig3, tmp_path):
    src = tmp_path / "fig3.json"
    res = results()
    for method in LANG:
        del res["series"][f"language/{method}"]
    src.write_text(json.dumps(res))
    fig3.main([str(src), str(tmp_path / "fig3")])
    assert (tmp_path / "fig3.png").stat().st_size > 0 and (tmp_path / "fig3.tex").stat().st_size > 0


def test_paper_lr_notation(fig3):
    assert [fig3.fmt_lr(x) for x in (9e-5, 1e-4, 1.5e-3, 0.01)] == ["9e-5", "1e-4", "1.5e-3", "1e-2"]


def test_runs_without_lr_tag_or_evaluation_are_refused(fig3):
    res = results()
    res["series"]["arithmetic/maxent"][0]["tags"] = {}
    with pytest.raises(ValueError, match="no `lr` tag"):
        fig3.sweeps(res)
    res = results()
    res["series"]["arithmetic/maxent"][0]["summary"] = {}
    with pytest.raises(ValueError, match="no retain/forget evaluation"):
        fig3.sweeps(res)


# ----------------------------------------------------------------------------- several seeds
# Two seeds, each a pipeline with its own reference model (initial retain 0.80 / 0.90, forget 0.70 / 0.80):
# (lr, final retain, final forget) per seed. The 10% budget is 0.72 for seed 0 and 0.81 for seed 1, so seed 0 keeps
# 3e-4 (1e-3 drops its retain to 0.60) and seed 1 takes 1e-3, the most forgotten of its admissible rates.
SEEDED = {0: (0.80, 0.70, [(1e-4, 0.79, 0.5), (3e-4, 0.75, 0.2), (1e-3, 0.60, 0.0)]),
          1: (0.90, 0.80, [(1e-4, 0.89, 0.6), (3e-4, 0.85, 0.3), (1e-3, 0.82, 0.1)])}
# RMU: seed 0 keeps its retain at 1e-4, seed 1 at no rate
SEEDED_RMU = {0: (0.80, 0.70, [(1e-4, 0.78, 0.4), (1e-3, 0.50, 0.1)]),
              1: (0.90, 0.80, [(1e-4, 0.70, 0.5), (1e-3, 0.40, 0.1)])}


def seeded_results():
    series = {name: [_instance(lr, r0, f0, r1, f1, seed=seed) for seed, (r0, f0, rows) in sweep.items()
                     for lr, r1, f1 in rows]
              for name, sweep in (("arithmetic/maxent", SEEDED), ("arithmetic/rmu", SEEDED_RMU))}
    return {"figure": "fig3", "scale": "mini", "series": series, "options": {"tolerance": 0.1, "settings": {
        "arithmetic": {"higher_is_better": True, "retain": "Add/Sub accuracy", "forget": "Mul/Div accuracy"}}}}


def test_each_seed_selects_from_its_own_sweep(fig3):
    maxent, rmu = fig3.sweeps(seeded_results())
    assert maxent["selected"] == {0: 3e-4, 1: 1e-3} and maxent["selected_lrs"] == [3e-4, 1e-3]
    assert rmu["selected"] == {0: 1e-4, 1: None}
    top = maxent["rows"][-1]
    assert top["seeds"] == [0, 1] and top["admissible"] == [False, True] and top["selected_by"] == [1]
    assert top["final_retain"] == {"median": pytest.approx(0.71), "min": 0.60, "max": 0.82, "n": 2}
    assert top["retain"]["step"] == [0, 5, 10] and top["retain"]["median"] == pytest.approx([0.85, 0.78, 0.71])


def test_several_seeds_draw_median_lines_with_bands(fig3, tmp_path, saved_figures):
    fig3.draw(seeded_results(), tmp_path / "fig3")
    ax = saved_figures[-1].axes[0]  # (a) Arithmetic: MaxEnt
    retain = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata()) == 3]
    assert [line.get_linewidth() for line in retain] == [0.9, 2.4, 2.4]  # 3e-4 and 1e-3 selected for some seed
    assert list(retain[2].get_ydata()) == pytest.approx([0.85, 0.78, 0.71])  # 1e-3: the median over seeds
    bands = ax.collections  # one min–max band per learning rate and measure
    assert len(bands) == 6
    ys = bands[4].get_paths()[0].vertices[:, 1]  # 1e-3 retain: from the seeds' 0.80 / 0.90 to 0.60 / 0.82
    assert min(ys) == pytest.approx(0.60) and max(ys) == pytest.approx(0.90)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["lr 1e-4", "lr 3e-4 (selected by 1/2 seeds)", "lr 1e-3 (selected by 1/2 seeds)"]
    assert "2 seeds: median line, band min–max" in saved_figures[-1].get_suptitle()


def test_several_seeds_tabulate_median_min_max_and_each_seeds_pick(fig3, tmp_path):
    fig3.draw(seeded_results(), tmp_path / "fig3")
    md = (tmp_path / "fig3.md").read_text()
    assert "2 seeds (0, 1)." in md
    assert ("| **3e-4** | 2 | **0.8500 [0.8000–0.9000] → 0.8000 [0.7500–0.8500]** | **0.7500 [0.7000–0.8000] → "
            "0.2500 [0.2000–0.3000]** | yes | **selected**: seed 0 |") in md
    assert ("| **1e-3** | 2 | **0.8500 [0.8000–0.9000] → 0.7100 [0.6000–0.8200]** | **0.7500 [0.7000–0.8000] → "
            "0.0500 [0.0000–0.1000]** | seed 1 of 2 | **selected**: seed 1 |") in md
    assert "Selected: lr 3e-4 for seed 0; lr 1e-3 for seed 1 (rule: retain within 10%" in md
    assert ("Selected: lr 1e-4 for seed 0; none for seed 1 (no learning rate keeps retain within 10% of its initial "
            "value) (rule:") in md
    assert md.count("## ") == 2 and md.count("Selected: ") == 2
    tex = (tmp_path / "fig3.tex").read_text()
    assert (r"\textbf{1e-3} & \textbf{2} & \textbf{0.8500 [0.8000--0.9000] $\to$ 0.7100 [0.6000--0.8200]} & "
            r"\textbf{0.7500 [0.7000--0.8000] $\to$ 0.0500 [0.0000--0.1000]} & \textbf{seed 1 of 2} \\") in tex
    assert "selected lr 3e-4 for seed 0; lr 1e-3 for seed 1 (bold)" in tex


def test_a_repeated_lr_and_seed_is_refused(fig3):
    res = seeded_results()
    res["series"]["arithmetic/maxent"].append(res["series"]["arithmetic/maxent"][0])
    with pytest.raises(ValueError, match="several runs share a learning rate and seed"):
        fig3.sweeps(res)
