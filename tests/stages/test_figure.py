"""Stage ``figure``: gathering any stage's instances (``series``) next to Figure 5's ``panels``."""

import json
from pathlib import Path

import pytest

from undo.config import ConfigError, build, refs_of, to_plain
from undo.pipeline import Graph
from undo.stages import Context
from undo.stages import figure as stage
from undo.store import Store, write_json_atomic

REPO = Path(__file__).resolve().parents[2]


def _artifact(store, stage_name, name, files):
    """A finished artifact holding ``files`` (name -> JSON data, or a list of rows for .jsonl)."""
    art = store.artifact(stage_name, name, "ab" * 32)
    work = art.begin()
    for fname, data in files.items():
        if fname.endswith(".jsonl"):
            (work / fname).write_text("".join(json.dumps(row) + "\n" for row in data))
        else:
            write_json_atomic(work / fname, data)
    art.commit()
    return art


@pytest.fixture
def configs(tmp_path):
    for name in ("sweep.yaml", "uo.yaml", "df.yaml", "undo.yaml"):
        (tmp_path / name).write_text("")
    return tmp_path


def test_series_gathers_tags_summary_and_history(configs):
    cfg = build(stage.Config, {"script": "f.py", "output": "figX", "series": {"arithmetic/maxent": "sweep.yaml"},
                               "options": {"settings": {"arithmetic": {"label": "acc"}}}},
                file=configs / "fig.yaml")
    store = Store(configs / "artifacts")
    history = [{"step": 0, "eval/retain": 0.9, "eval/forget": 0.8}, {"step": 1, "train/loss": 2.0},
               {"step": 1, "eval/retain": 0.85, "eval/forget": 0.1}]
    arts = [_artifact(store, "unlearn", f"m-lr{lr:g}", {"metrics.json": {"eval": {"retain": lr}, "higher_is_better": True},
                                                        "metrics.jsonl": history}) for lr in (1e-3, 1e-2)]
    ref = str(cfg.series["arithmetic/maxent"])
    ctx = Context(cfg, "figX", configs, {ref: [(arts[0], {"lr": 1e-3}), (arts[1], {"lr": 1e-2})]}, scale="mini")
    results = stage.gather(ctx)
    assert list(results) == ["figure", "scale", "series", "options"] and results["scale"] == "mini"
    runs = results["series"]["arithmetic/maxent"]
    assert [r["tags"] for r in runs] == [{"lr": 1e-3}, {"lr": 1e-2}]
    assert runs[1]["summary"] == {"eval": {"retain": 1e-2}, "higher_is_better": True} and runs[0]["history"] == history
    assert runs[0]["artifact"] == "unlearn/m-lr0.001-" + "ab" * 6
    # the direction comes from the gathered summaries, next to the config's labels
    assert results["options"] == {"settings": {"arithmetic": {"label": "acc", "higher_is_better": True}}}
    json.dumps(results)  # the results file is plain JSON


def test_panels_only_keeps_the_figure5_schema(configs):
    cfg = build(stage.Config, {"script": "f.py", "output": "fig5", "panels": [
        {"setting": "arithmetic", "unlearn_only": "uo.yaml", "data_filtering": "df.yaml", "undo": "undo.yaml"}]},
        file=configs / "fig.yaml")
    store = Store(configs / "artifacts")
    res = {"curves": {"0.001": {"step": [0, 5], "forget": [0.1, 0.5]}}, "model_steps": 100, "higher_is_better": True}
    art = _artifact(store, "relearn", "r", {"results.json": res})
    panel = cfg.panels[0]
    ctx = Context(cfg, "fig5", configs, {str(panel.unlearn_only): [(art, {"seed": 0})],
                                         str(panel.data_filtering): [(art, {"seed": 0})],
                                         str(panel.undo): [(art, {"seed": 0, "alpha": 0.5, "beta": 0.1})]})
    results = stage.gather(ctx)
    assert list(results) == ["figure", "scale", "panels"]  # no series/options keys for Figure 5
    runs = results["panels"]["arithmetic"]["runs"]
    assert [r["role"] for r in runs] == ["unlearn_only", "undo", "data_filtering"]
    assert runs[1]["alpha"] == 0.5 and results["panels"]["arithmetic"]["reference_steps"] == 100
    assert results["panels"]["arithmetic"]["attacker_best"] == "max"  # from the results' direction, not the config

    ce = _artifact(store, "relearn", "ce", {"results.json": {**res, "higher_is_better": False}})
    ctx.inputs[str(panel.undo)] = [(ce, {"seed": 0, "alpha": 0.5, "beta": 0.1})]
    with pytest.raises(ValueError, match="arithmetic: the attacked models' results disagree on higher_is_better"):
        stage.gather(ctx)


def test_series_config_errors_name_the_key(configs):
    def make(body):
        return build(stage.Config, {"script": "f.py", "output": "o", **body}, file=configs / "fig.yaml")

    with pytest.raises(ConfigError, match=r"fig.yaml: series: a figure needs `panels` or `series`"):
        make({})
    with pytest.raises(ConfigError, match=r"fig.yaml: series.a/b: upstream config not found: nope.yaml"):
        make({"series": {"a/b": "nope.yaml"}})
    with pytest.raises(ConfigError, match=r"series: expected a mapping of names to path to a config file"):
        make({"series": ["sweep.yaml"]})
    cfg = make({"series": {"a/x": "sweep.yaml", "b/y": "uo.yaml"}})
    assert [(path, Path(ref).name) for path, ref in refs_of(cfg)] == [("series.a/x", "sweep.yaml"),
                                                                      ("series.b/y", "uo.yaml")]


def test_fig3_gathers_every_learning_rate_of_every_method(tmp_path):
    # mini and smoke: every learning rate in every pipeline seed (smoke 2 seeds, mini 3); paper: one pipeline
    for scale, per_method, seeds in (("smoke", 2, 2), ("mini", 4, 3), ("paper", 8, 1)):
        nodes = Graph(Store(tmp_path), scale).plan([REPO / "reproduce" / "fig3.yaml"])
        fig = nodes[-1]
        assert fig.stage == "figure" and fig.artifact is None
        assert list(fig.cfg.series) == [f"{setting}/{method}" for setting in ("language", "arithmetic")
                                        for method in ("graddiff", "maxent", "rmu")]
        assert "higher_is_better" not in fig.cfg.options["settings"]["language"]  # the gathered results carry it
        for ref in fig.cfg.series.values():
            ups = fig.upstream[str(ref)]
            tags = {"lr"} if seeds == 1 else {"lr", "seed"}
            assert len(ups) == per_method * seeds and all(set(n.tags) == tags and n.cfg.eval_every > 0 for n in ups)
            assert sorted(n.cfg.optim.lr for n in ups) == sorted(n.tags["lr"] for n in ups)
        by_key = {}  # only identical work shares a key (both settings' paper-scale Gemma-2-2b tokenizer)
        for n in nodes:
            by_key.setdefault(n.key, []).append(n)
        assert all(len({(n.stage, repr(to_plain(n.cfg))) for n in same}) == 1 for same in by_key.values())


STAMP_SCRIPT = '''
from undo.paper import plotting


def draw(results, out_base):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [len(results["series"]["s"]), 1])
    paths = plotting.save(fig, out_base)
    plt.close(fig)
    return paths + plotting.write_texts(out_base, {".md": "# table\\n"})
'''


@pytest.fixture
def drawable(tmp_path, monkeypatch):
    """A figure config with a small drawing script, one gathered artifact and a function running the stage."""
    import sys

    (tmp_path / "figstamp_script.py").write_text(STAMP_SCRIPT)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("figstamp_script", None)
    (tmp_path / "sweep.yaml").write_text("")
    cfg = build(stage.Config, {"script": "figstamp_script", "output": "figS", "series": {"s": "sweep.yaml"}},
                file=tmp_path / "fig.yaml")
    art = _artifact(Store(tmp_path / "artifacts"), "unlearn", "m", {"metrics.json": {"x": 1}})
    out = tmp_path / "figures"

    def run():
        return stage.run(Context(cfg, "figS", out, {str(cfg.series["s"]): [(art, {})]}, scale="mini"))

    return out, run


def test_a_figure_killed_between_its_json_and_its_drawing_is_redrawn(drawable, monkeypatch):
    out, run = drawable
    real_draw = stage.draw

    def killed(script, results_path):
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, "draw", killed)
    with pytest.raises(KeyboardInterrupt):
        run()
    assert (out / "figS.json").is_file() and not (out / "figS.png").exists()
    monkeypatch.setattr(stage, "draw", real_draw)
    assert run()["redrawn"] is True
    assert all((out / f"figS.{ext}").is_file() for ext in ("png", "pdf", "md", "stamp"))
    assert run()["redrawn"] is False  # drawn from this JSON: nothing to do

    # a stale table (drawn, then the kill left an old PNG beside a new JSON) is caught by the stamp's digests too
    (out / "figS.png").write_bytes(b"an older drawing")
    assert run()["redrawn"] is True


def test_a_missing_output_is_redrawn_leftovers_go_and_every_output_is_0644(drawable):
    import os
    out, run = drawable
    run()
    created = json.loads((out / "figS.json").read_text())["created"]
    (out / "figS.md").unlink()
    (out / ".figS.png.abc123.png").write_bytes(b"half")  # an interrupted write's temporary file
    (out / ".figS.json.tmp").write_text("{")
    old_mask = os.umask(0o022)
    try:
        assert run()["redrawn"] is True
    finally:
        os.umask(old_mask)
    assert (out / "figS.md").is_file() and not list(out.glob(".figS.*"))
    assert json.loads((out / "figS.json").read_text())["created"] == created  # the same results keep their time
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert set(modes.values()) == {0o644}, modes
