"""One config file for several upstream models (a swept reference) and `file.yaml[tag=value]` selectors."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from undo.cli import cli
from undo.config import ConfigError, Ref
from undo.pipeline import Graph
from undo.store import Store

NOISE = "stage: noise\nmodel: {model}\nalpha: 0.5\nbeta: 0.1\nseed: 3\n"


@pytest.fixture
def configs(tmp_path):
    (tmp_path / "init_a.yaml").write_text("stage: init\nmodel: {hidden_size: 8}\ndata: t.yaml\n")
    (tmp_path / "init_b.yaml").write_text("stage: init\nmodel: {hidden_size: 16}\ndata: t.yaml\n")
    (tmp_path / "t.yaml").write_text("stage: tokenizer\nkind: bytes\n")
    (tmp_path / "noised.yaml").write_text("stage: noise\nalpha: 0.5\nbeta: 0.1\nseed: 3\n"
                                          "sweep: {model: [init_a.yaml, init_b.yaml]}\n")
    return tmp_path


def test_a_swept_reference_tags_instances_by_file_stem_and_keeps_each_models_key(configs):
    graph = Graph(Store(configs / "artifacts"), "smoke")
    swept = graph.resolve(configs / "noised.yaml")
    assert [n.tags for n in swept] == [{"model": "init_a"}, {"model": "init_b"}]
    # unnamed: the name is the config's directory and file stem, then the tags
    assert [n.name for n in swept] == [f"{configs.name}-noised-init_a", f"{configs.name}-noised-init_b"]
    for stem, node in zip(("init_a", "init_b"), swept, strict=True):  # same key as a file naming one model
        (configs / f"one_{stem}.yaml").write_text(NOISE.format(model=f"{stem}.yaml"))
        assert graph.resolve(configs / f"one_{stem}.yaml")[0].key == node.key


def test_an_explicit_name_wins_over_the_derived_one(configs):
    (configs / "named.yaml").write_text("name: my-students\n" + (configs / "noised.yaml").read_text())
    swept = Graph(Store(configs / "artifacts"), "smoke").resolve(configs / "named.yaml")
    assert [n.name for n in swept] == ["my-students-init_a", "my-students-init_b"]


def test_a_selector_picks_instances_by_tag(configs):
    graph = Graph(Store(configs / "artifacts"), "smoke")
    picked = graph.resolve_ref(f"{configs / 'noised.yaml'}[model=init_b]")
    assert [n.tags["model"] for n in picked] == ["init_b"]
    # block style (in a flow mapping `{...}` YAML reads `[` as a list: quote the value there)
    (configs / "fig.yaml").write_text("stage: figure\nscript: x\noutput: o\nseries:\n  b: noised.yaml[model=init_b]\n")
    fig = graph.resolve(configs / "fig.yaml")[0]
    assert [n.tags for n in fig.deps] == [{"model": "init_b"}]
    with pytest.raises(ConfigError, match=r"no instance has tags \{'model': 'init_c'\}"):
        graph.resolve_ref(f"{configs / 'noised.yaml'}[model=init_c]")


def test_selector_syntax_errors_name_the_file_and_key(configs):
    for bad in ("noised.yaml[model]", "noised.yaml[model=a", "noised.yaml[]", "nope.yaml[model=a]"):
        (configs / "fig.yaml").write_text(f"stage: figure\nscript: x\noutput: o\nseries: {{b: '{bad}'}}\n")
        with pytest.raises(ConfigError, match=r"fig.yaml: series.b: (a selector is \[tag=value,...\]|upstream config "
                                               r"not found: nope.yaml)"):
            Graph(Store(configs / "artifacts"), "smoke").resolve(configs / "fig.yaml")
    assert Ref("/a/b.yaml[x=1,y=z]").selector == {"x": "1", "y": "z"} and Ref("/a/b.yaml").selector == {}
    assert Ref("/a/b.yaml[x=1]").path == Path("/a/b.yaml")


def test_the_command_line_takes_a_selector(configs):
    runner = CliRunner()
    ok = runner.invoke(cli, ["--artifacts-dir", str(configs / "a"), "run", "--dry-run", "--scale", "smoke",
                             f"{configs / 'noised.yaml'}[model=init_a]"])
    assert ok.exit_code == 0, ok.output
    assert "noised-init_a" in ok.output and "noised-init_b" not in ok.output
    missing = runner.invoke(cli, ["run", "--dry-run", f"{configs / 'nope.yaml'}[model=init_a]"])
    assert missing.exit_code == 2 and "no such config file" in missing.output
