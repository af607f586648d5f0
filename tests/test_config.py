"""Config loading: includes, overlays, sweeps and one-line errors naming file and key."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from undo.cli import cli
from undo.config import ConfigError, build, config_files, load_raw, locate, to_plain
from undo.pipeline import Graph
from undo.stages import noise as noise_stage
from undo.store import Store

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


ROOT = "stage: corpus\nsource: {kind: stdlib_pydoc}\n"


@pytest.fixture
def chain(tmp_path):
    """A directory with an upstream config (a corpus) that noise configs can point at."""
    write(tmp_path / "up.yaml", ROOT)
    return tmp_path


def test_unknown_key_names_file_and_key(chain):
    path = write(chain / "bad.yaml", "stage: noise\nmodel: up.yaml\nalpah: 0.5\n")
    with pytest.raises(ConfigError) as err:
        Graph(Store(chain / "a"), "paper").resolve(path)
    assert str(err.value).startswith(f"{path.resolve()}: alpah: unknown key")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("body, key, words", [
    ("alpha: 1.5", "alpha", "<= 1"),
    ("alpha: -0.1", "alpha", ">= 0"),
    ("alpha: 0.5\nbeta: -1", "beta", ">= 0"),
    ("alpha: high", "alpha", "expected a number"),
])
def test_out_of_range_and_wrong_type(chain, body, key, words):
    path = write(chain / "bad.yaml", f"stage: noise\nmodel: up.yaml\n{body}\n")
    with pytest.raises(ConfigError, match=rf": {key}: .*{words}"):
        Graph(Store(chain / "a"), "paper").resolve(path)


def test_missing_upstream_file(chain):
    path = write(chain / "bad.yaml", "stage: noise\nmodel: nowhere.yaml\nalpha: 0.5\n")
    with pytest.raises(ConfigError, match=r": model: upstream config not found: nowhere.yaml"):
        Graph(Store(chain / "a"), "paper").resolve(path)


def test_nonpositive_learning_rate(tmp_path):
    from undo.stages.pretrain import Config

    with pytest.raises(ConfigError, match=r"f.yaml: optim.lr: must be > 0"):
        build(Config, {"data": "f.yaml", "model": {}, "optim": {"lr": 0}}, file=write(tmp_path / "f.yaml", ""))


def test_base_scales_and_sweep(tmp_path):
    write(tmp_path / "base.yaml", "beta: 0.3\nscales:\n  smoke: {beta: 0.0}\n")
    write(tmp_path / "up.yaml", ROOT)
    path = write(tmp_path / "n.yaml", "base: base.yaml\nstage: noise\nmodel: up.yaml\nalpha: 0.1\n"
                                      "sweep: {alpha: [0.2, 0.4], seed: [0, 1]}\nscales:\n  mini: {sweep: {seed: [7]}}\n")
    raw = load_raw(path, "smoke")
    assert raw.data["beta"] == 0.0 and raw.sweeps == [{"alpha": [0.2, 0.4], "seed": [0, 1]}]
    nodes = Graph(Store(tmp_path / "a"), "mini").resolve(path)
    assert [(n.cfg.alpha, n.cfg.seed, n.cfg.beta) for n in nodes] == [(0.2, 7, 0.3), (0.4, 7, 0.3)]
    assert len({n.key for n in nodes}) == 2
    cfg = build(noise_stage.Config, {"model": "up.yaml", "alpha": 0.5}, file=tmp_path / "x.yaml")
    assert cfg.beta == 0.1


def test_seed_flows_downstream_and_tags_join(tmp_path):
    write(tmp_path / "root.yaml", ROOT)
    write(tmp_path / "up.yaml", "stage: noise\nmodel: root.yaml\nalpha: 0.5\nsweep: {seed: [3, 4]}\n")
    write(tmp_path / "side.yaml", "stage: noise\nmodel: root.yaml\nalpha: 0.1\nsweep: {seed: [4, 3]}\n")
    path = write(tmp_path / "down.yaml", "stage: distill\nteacher: side.yaml\nstudent: up.yaml\ndata: root.yaml\n"
                                         "optim: {lr: 1.0e-3}\n")
    nodes = Graph(Store(tmp_path / "a"), "paper").resolve(path)
    assert sorted(n.cfg.seed for n in nodes) == [3, 4]  # joined on seed: 2 instances, not 4
    for n in nodes:
        assert n.upstream[str(n.cfg.teacher)].tags == n.upstream[str(n.cfg.student)].tags == {"seed": n.cfg.seed}


def test_dependency_cycle(tmp_path):
    path = write(tmp_path / "loop.yaml", "stage: noise\nmodel: loop.yaml\nalpha: 0.5\n")
    with pytest.raises(ConfigError, match="dependency cycle"):
        Graph(Store(tmp_path / "a"), "paper").resolve(path)


def test_every_shipped_config_resolves_at_every_scale(tmp_path):
    for scale in ("paper", "mini", "smoke"):
        graph = Graph(Store(tmp_path), scale)
        nodes = graph.plan([REPO / "reproduce" / "fig5.yaml"])
        assert nodes[-1].stage == "figure"
        # one key per distinct configuration; only identical work may share one (e.g. both settings'
        # paper-scale Gemma-2-2b tokenizer)
        by_key = {}
        for n in nodes:
            by_key.setdefault(n.key, []).append(n)
        for same in by_key.values():
            assert len({(n.stage, repr(to_plain(n.cfg))) for n in same}) == 1, [n.label for n in same]


def test_cli_rejects_bad_config_and_writes_nothing(tmp_path):
    # refused while resolving, before any stage runs (speed is measured, not asserted: ~1.5 s from the shell)
    write(tmp_path / "up.yaml", ROOT)
    for body, key in (("alpha: 1.5", "alpha"), ("alpah: 0.5", "alpah")):
        bad = write(tmp_path / "bad.yaml", f"stage: noise\nmodel: up.yaml\n{body}\n")
        result = CliRunner().invoke(cli, ["--artifacts-dir", str(tmp_path / "artifacts"), "run", str(bad)])
        assert result.exit_code == 2
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "bad.yaml" in lines[0] and f": {key}:" in lines[0]
        assert not (tmp_path / "artifacts").exists()


def test_mapping_of_refs_resolves_keys_and_plain_form(tmp_path):
    """A ``dict[str, Ref]`` field (the figure stage's ``series``): paths resolve, keys see upstream keys."""
    from undo.config import key_view, refs_of, to_plain
    from undo.stages import figure as figure_stage

    write(tmp_path / "a.yaml", ROOT)
    write(tmp_path / "b.yaml", ROOT)
    cfg = build(figure_stage.Config, {"script": "s.py", "output": "o", "series": {"x/a": "a.yaml", "x/b": "b.yaml"}},
                file=tmp_path / "fig.yaml")
    assert refs_of(cfg) == [("series.x/a", str(tmp_path / "a.yaml")), ("series.x/b", str(tmp_path / "b.yaml"))]
    view = key_view(cfg, {str(tmp_path / "a.yaml"): "KA", str(tmp_path / "b.yaml"): "KB"})
    assert view["series"] == {"x/a": {"upstream": "KA"}, "x/b": {"upstream": "KB"}}
    assert to_plain(cfg)["series"] == {"x/a": str(tmp_path / "a.yaml"), "x/b": str(tmp_path / "b.yaml")}


def test_a_list_of_sweeps_is_the_union_of_their_instances(tmp_path):
    write(tmp_path / "up.yaml", ROOT)
    path = write(tmp_path / "n.yaml", "stage: noise\nmodel: up.yaml\nbeta: 0.1\n"
                                      "sweep:\n  - {alpha: [0.2, 0.4], seed: [0, 1]}\n  - {alpha: [0.4, 0.8], seed: [0]}\n"
                                      "scales:\n  mini: {sweep: {seed: null}}\n  smoke: {sweep: [{alpha: [0.9]}]}\n")

    def combos(scale):
        return [(n.cfg.alpha, n.cfg.seed) for n in Graph(Store(tmp_path / scale), scale).resolve(path)]

    assert combos("paper") == [(0.2, 0), (0.2, 1), (0.4, 0), (0.4, 1), (0.8, 0)]  # (0.4, 0) once
    assert [a for a, _ in combos("mini")] == [0.2, 0.4, 0.8]  # an overlay's mapping edits every group
    assert [a for a, _ in combos("smoke")] == [0.9]  # an overlay's list replaces the groups
    bad = write(tmp_path / "bad.yaml", "stage: noise\nmodel: up.yaml\nsweep:\n  - {alpha: [0.2]}\n  - {alpha: 0.4}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: sweep\[1\].alpha: must be a non-empty list"):
        load_raw(bad)


def test_a_list_of_bases_merges_left_to_right_under_the_file(tmp_path):
    write(tmp_path / "up.yaml", ROOT)
    write(tmp_path / "a.yaml", "alpha: 0.1\nbeta: 0.2\nscales:\n  mini: {beta: 0.3}\n")
    write(tmp_path / "b.yaml", "beta: 0.5\nseed: 7\n")
    path = write(tmp_path / "n.yaml", "base: [a.yaml, b.yaml]\nstage: noise\nmodel: up.yaml\nseed: 8\n")
    assert {k: load_raw(path).data[k] for k in ("alpha", "beta", "seed")} == {"alpha": 0.1, "beta": 0.5, "seed": 8}
    assert load_raw(path, "mini").data["beta"] == 0.3  # a base's overlay still applies
    with pytest.raises(ConfigError, match=r"n2.yaml: base: file not found: nope.yaml"):
        load_raw(write(tmp_path / "n2.yaml", "base: [a.yaml, nope.yaml]\nstage: noise\n"))


def test_a_setting_directory_reads_its_parents_files_as_its_own(tmp_path):
    """reproduce/<group>/<setting>/x.yaml falls back to reproduce/<group>/x.yaml, whose references and derived name
    are then the setting's; a setting's own file shadows the shared one; nothing is inherited from reproduce/."""
    group = tmp_path / "reproduce" / "group"
    for setting, alpha in (("one", 0.1), ("two", 0.2)):
        (group / setting).mkdir(parents=True)
        write(group / setting / "up.yaml", ROOT)
        write(group / setting / "settings.yaml", f"alpha: {alpha}\n")
    write(group / "noised.yaml", "base: settings.yaml\nstage: noise\nmodel: up.yaml\n")
    write(group / "two" / "noised.yaml", "base: settings.yaml\nstage: noise\nmodel: up.yaml\nbeta: 0.7\n")
    write(tmp_path / "reproduce" / "top.yaml", ROOT)
    graph = Graph(Store(tmp_path / "a"), "paper")
    one, = graph.resolve(group / "one" / "noised.yaml")
    assert (one.name, one.cfg.alpha, one.cfg.model) == ("one-noised", 0.1, str((group / "one" / "up.yaml").resolve()))
    two, = graph.resolve(group / "two" / "noised.yaml")
    assert (two.cfg.alpha, two.cfg.beta) == (0.2, 0.7)  # the setting's own file
    assert locate(group / "one" / "noised.yaml") == group / "noised.yaml"
    assert not locate(group / "one" / "top.yaml").is_file()
    assert [p.name for p in config_files(group / "one")] == ["noised.yaml", "settings.yaml", "up.yaml"]
    with pytest.raises(ConfigError, match="noised.yaml: base: file not found: settings.yaml"):
        graph.resolve(group / "noised.yaml")  # a shared file is read through a setting, not on its own


def test_tags_a_selector_fixes_stay_behind_the_reference(tmp_path):
    write(tmp_path / "root.yaml", ROOT)
    write(tmp_path / "up.yaml", "stage: noise\nmodel: root.yaml\nsweep: {alpha: [0.1, 0.5], seed: [3, 4]}\n")
    path = write(tmp_path / "down.yaml", "stage: noise\nalpha: 0.2\nsweep: {model: [\"up.yaml[alpha=0.5]\"]}\n")
    nodes = Graph(Store(tmp_path / "a"), "paper").resolve(path)
    assert sorted(n.tags["seed"] for n in nodes) == [3, 4]
    assert all(n.tags == {"model": "up", "seed": n.tags["seed"]} for n in nodes)  # no alpha: the selector fixed it
    assert all(n.upstream[next(iter(n.upstream))].cfg.alpha == 0.5 for n in nodes)


@pytest.mark.parametrize("body, key", [
    ("alpha: .inf", "alpha"),
    ("alpha: 1.0e+400", "alpha"),           # YAML reads an overflowing float as infinity
    ("alpha: .nan", "alpha"),
    ("alpha: 0.5\nscales: {smoke: {beta: -.inf}}", "scales.smoke.beta"),  # anywhere in the file, even an overlay
    ("alpha: 0.5\nsweep: {beta: [0.1, .inf]}", "sweep.beta[1]"),
])
def test_an_infinite_or_nan_number_is_refused_naming_the_key(chain, body, key):
    path = write(chain / "bad.yaml", f"stage: noise\nmodel: up.yaml\n{body}\n")
    with pytest.raises(ConfigError) as err:
        Graph(Store(chain / "a"), "smoke").resolve(path)
    assert str(err.value) == f"{path.resolve()}: {key}: must be a finite number (infinite or NaN given)"


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400"])
def test_a_float_field_refuses_a_non_finite_number_given_as_text(tmp_path, value):
    from undo.stages.noise import Config

    with pytest.raises(ConfigError, match=r"f.yaml: alpha: must be a finite number"):
        build(Config, {"model": "f.yaml", "alpha": value}, file=write(tmp_path / "f.yaml", ""))


@pytest.mark.parametrize("body, key, words", [
    ("seed: 100000000000000000000000000000", "seed", "a seed is between 0 and 2\\*\\*32 - 1"),
    ("seed: -1", "seed", "a seed is between 0"),
    ("seed: 4294967296", "seed", "a seed is between 0"),
    ("optim: {lr: 1.0e-3, max_steps: 100000000000000000000}", "optim.max_steps", "must be <= 1e\\+08"),
    ("optim: {lr: 1.0e-3, epochs: 1.0e+12}", "optim.epochs", "must be <= 1e\\+08"),
    ("optim: {lr: 1.0e+309}", "optim.lr", "must be a finite number"),
])
def test_seeds_and_step_counts_have_bounds_every_config_obeys(tmp_path, body, key, words):
    write(tmp_path / "d.yaml", ROOT)
    body = body if body.startswith("optim") else body + "\noptim: {lr: 1.0e-3}"
    path = write(tmp_path / "p.yaml", f"stage: pretrain\ndata: d.yaml\nmodel: {{}}\n{body}\n")
    with pytest.raises(ConfigError, match=rf"p.yaml: {key}: {words}"):
        Graph(Store(tmp_path / "a"), "paper").resolve(path)


def test_the_largest_seed_is_accepted(tmp_path):
    from undo.stages.noise import Config

    assert build(Config, {"model": "f.yaml", "alpha": 0.1, "seed": 2**32 - 1}, file=write(tmp_path / "f.yaml", "")).seed == 2**32 - 1


def test_a_key_given_twice_is_refused_naming_file_line_and_key(tmp_path):
    path = write(tmp_path / "dup.yaml", "stage: noise\nmodel: up.yaml\nalpha: 0.5\nbeta: 0.1\nalpha: 0.9\n")
    with pytest.raises(ConfigError) as err:
        load_raw(path)
    assert str(err.value) == f"{path}: line 5: alpha: given twice in one mapping (YAML would keep the last silently); keep one"
    nested = write(tmp_path / "nested.yaml", "stage: noise\nscales:\n  smoke: {alpha: 0.1}\n  smoke: {alpha: 0.2}\n")
    with pytest.raises(ConfigError, match=r"nested.yaml: line 4: smoke: given twice"):
        load_raw(nested)
    same_key_elsewhere = write(tmp_path / "ok.yaml", "stage: noise\na: {x: 1}\nb: {x: 2}\n")  # one per mapping: fine
    assert load_raw(same_key_elsewhere).data == {"stage": "noise", "a": {"x": 1}, "b": {"x": 2}}
