"""Stage ``select``: the teacher a learning-rate sweep chooses, per pipeline seed, linked into every teacher config."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from undo.config import Ref
from undo.pipeline import Graph
from undo.stages import Context
from undo.stages import select as stage
from undo.store import Store

REPO = Path(__file__).resolve().parents[2]


def sweep_instance(root: Path, lr: float, retain0, retain1, forget0, forget1, higher=True):
    path = root / f"unlearn-lr{lr:g}"
    (path / "model").mkdir(parents=True)
    (path / "model" / "model.safetensors").write_bytes(f"weights {lr:g}".encode())
    (path / "metrics.json").write_text(json.dumps({
        "steps": 10, "lr": lr, "higher_is_better": higher,
        "eval_initial": {"retain": retain0, "forget": forget0}, "eval": {"retain": retain1, "forget": forget1}}))
    return SimpleNamespace(path=path, relpath=f"unlearn/{path.name}"), {"lr": lr, "seed": 0}


def run(root: Path, candidates, **options):
    cfg = stage.Config(candidates=Ref("sweep.yaml"), **options)
    workdir = root / "work"
    workdir.mkdir()
    out = stage.run(Context(cfg=cfg, name="select", workdir=workdir, inputs={"sweep.yaml": candidates}))
    return out, workdir


def test_the_rule_picks_the_most_forgotten_admissible_rate_and_becomes_that_model(tmp_path):
    candidates = [sweep_instance(tmp_path, 1e-4, 0.9, 0.89, 0.98, 0.30),
                  sweep_instance(tmp_path, 3e-4, 0.9, 0.82, 0.98, 0.05),   # retain -8.9%: admissible, most forgotten
                  sweep_instance(tmp_path, 1e-3, 0.9, 0.80, 0.98, 0.00)]   # retain -11%: not admissible
    out, workdir = run(tmp_path, candidates)
    assert out["selected"]["lr"] == 3e-4 and out["selected"]["admissible"] is True
    assert (workdir / "model" / "model.safetensors").read_bytes() == b"weights 0.0003"
    assert out["eval"]["forget"] == 0.05 and [p["admissible"] for p in out["sweep"]] == [True, True, False]
    saved = json.loads((workdir / "metrics.json").read_text())
    assert saved["selected"]["artifact"] == "unlearn/unlearn-lr0.0003"


def test_cross_entropy_direction_and_the_least_damaging_fallback(tmp_path):
    ce = [sweep_instance(tmp_path / "a", 1e-3, 3.6, 3.9, 2.8, 5.0, higher=False),
          sweep_instance(tmp_path / "a", 3e-3, 3.6, 3.95, 2.8, 7.0, higher=False)]  # +9.7%: admissible, more forgotten
    out, _ = run(tmp_path / "a", ce)
    assert out["selected"]["lr"] == 3e-3
    none_ok = [sweep_instance(tmp_path / "b", 1e-3, 0.9, 0.5, 0.98, 0.0),
               sweep_instance(tmp_path / "b", 1e-4, 0.9, 0.7, 0.98, 0.3)]
    out, _ = run(tmp_path / "b", none_ok)
    assert out["selected"] == {**out["selected"], "lr": 1e-4, "admissible": False}
    with pytest.raises(ValueError, match="no learning rate keeps retain"):
        run(tmp_path / "c", [sweep_instance(tmp_path / "c", 1e-3, 0.9, 0.5, 0.98, 0.0)], fallback="fail")


@pytest.mark.parametrize("scale", ["paper", "mini", "smoke"])
def test_every_teacher_is_the_selection_of_its_own_seeds_sweep(scale):
    graph = Graph(Store(Path("/nonexistent-artifacts")), scale)
    for setting in ("language", "arithmetic"):
        for path, field in (("distill_undo.yaml", "teacher"), ("distill_random.yaml", "teacher"), ("relearn.yaml[model=select_graddiff]", "model"),
                            ("noise.yaml", "model")):
            for node in graph.resolve_ref(str(REPO / "reproduce" / "synthetic" / setting / path)):
                teacher = node.upstream[str(getattr(node.cfg, field))]
                assert teacher.stage == "select", (setting, path)
                sweep = teacher.upstream[str(teacher.cfg.candidates)]
                assert len(sweep) >= 2 and all(n.stage == "unlearn" and "lr" in n.tags for n in sweep)
                assert {n.tags.get("seed") for n in sweep} == {teacher.tags.get("seed")}  # the same pipeline seed
                assert sorted(n.cfg.optim.lr for n in sweep) == sorted(n.tags["lr"] for n in sweep)


def grid_instance(root: Path, alpha: float, lr: float, retain1, forget1):
    art, tags = sweep_instance(root / f"a{alpha:g}", lr, 0.6, retain1, 0.5, forget1)
    return art, {**tags, "retain_weight": alpha}


# an alpha x lr grid (App. D.2.3): retain after unlearning falls as forgetting rises along the frontier
GRID = [(0.5, 1e-4, 0.59, 0.45), (0.5, 1e-3, 0.56, 0.30),   # within 10% of 0.6: the most forgotten is (0.5, 1e-3)
        (0.1, 1e-4, 0.55, 0.40),                            # dominated by (0.5, 1e-3)
        (0.1, 1e-3, 0.50, 0.26),                            # within 20%: the medium point
        (0.3, 1e-3, 0.43, 0.25), (0.3, 3e-3, 0.40, 0.25)]   # within 30% (0.42 allowed): (0.3, 1e-3)


def test_three_frontier_points_by_tolerance_over_an_alpha_by_lr_grid(tmp_path):
    """Section 6 (App. D.2.3): alpha and the learning rate swept together; App. B.1's rule at three tolerances
    takes three points across the forget/retain frontier, Table 10's Best, Medium and Worst."""
    picked = {}
    for point, tolerance in (("best", 0.10), ("medium", 0.20), ("worst", 0.30)):
        root = tmp_path / point
        out, workdir = run(root, [grid_instance(root, *g) for g in GRID], over="retain_weight,lr", tolerance=tolerance,
                           point=point)
        picked[point] = (out["selected"]["retain_weight"], out["selected"]["lr"])
        assert out["selected"]["point"] == point and out["selected"]["admissible"] is True
        assert (workdir / "model" / "model.safetensors").read_bytes() == f"weights {picked[point][1]:g}".encode()
        assert [(row["retain_weight"], row["lr"]) for row in out["sweep"]] == sorted((a, lr) for a, lr, _, _ in GRID)
    assert picked == {"best": (0.5, 1e-3), "medium": (0.1, 1e-3), "worst": (0.3, 1e-3)}


def test_retain_rank_names_table_10s_points_by_their_retain(tmp_path):
    """Paper scale: the candidates are Table 10's three points; Best has the highest retain, Worst the lowest."""
    three = [(0.3, 2e-5, 0.50, 0.30), (0.1, 2e-5, 0.45, 0.28), (0.75, 5e-5, 0.52, 0.35)]
    for point, expected in (("best", (0.75, 5e-5)), ("medium", (0.3, 2e-5)), ("worst", (0.1, 2e-5))):
        root = tmp_path / point
        out, _ = run(root, [grid_instance(root, *g) for g in three], over="retain_weight,lr", rule="retain_rank",
                     point=point)
        assert (out["selected"]["retain_weight"], out["selected"]["lr"]) == expected
        assert out["selected"]["rule"] == f"{point} of 3 ranked by final retain"
    with pytest.raises(ValueError, match="point"):
        stage.Config(candidates=Ref("sweep.yaml"), rule="retain_rank").validate()
