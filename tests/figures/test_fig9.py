"""figures/fig9.py on a synthetic results dict (distillation histories of two teachers)."""

import importlib.util
from pathlib import Path

import pytest

FIG9 = Path(__file__).resolve().parents[2] / "figures" / "fig9.py"


@pytest.fixture(scope="module")
def fig9():
    spec = importlib.util.spec_from_file_location("fig9", FIG9)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _instance(final_retain):
    hist = [{"step": 0, "eval/retain": 0.0, "eval/forget": 0.0}]
    for step in (10, 20):
        hist.append({"step": step, "train/loss": 1.0 / step, "train/lr": 1e-3})
        hist.append({"step": step, "eval/retain": final_retain * step / 20, "eval/forget": 0.01})
    return {"artifact": "a", "tags": {}, "history": hist,
            "summary": {"steps": 20, "teacher_eval": {"retain": 0.8, "forget": 0.02},
                        "eval": {"retain": final_retain, "forget": 0.01}}}


def test_draws_and_tabulates(fig9, tmp_path):
    results = {"scale": "smoke", "series": {"arithmetic/maxent": [_instance(0.75)], "arithmetic/rmu": [_instance(0.5)]},
               "options": {"settings": {"arithmetic": {"retain": "Add/Sub accuracy", "forget": "Mul/Div accuracy"}}}}
    data = fig9.trends(results)
    assert data["arithmetic"]["maxent"]["retain"] == ([0, 10, 20], [0.0, 0.375, 0.75])
    assert data["arithmetic"]["rmu"]["loss"] == ([10, 20], [0.1, 0.05])
    paths = fig9.draw(results, tmp_path / "fig9")
    assert {p.suffix for p in paths} == {".png", ".pdf", ".md"} and all(p.stat().st_size > 0 for p in paths)
    assert "| MaxEnt | 20 | 0.800 | 0.750 | 0.020 | 0.010 |" in (tmp_path / "fig9.md").read_text()


def test_refuses_empty(fig9, tmp_path):
    with pytest.raises(ValueError, match="no distillation series"):
        fig9.draw({"series": {}}, tmp_path / "fig9")
