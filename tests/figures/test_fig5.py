"""Smoke test for figures/fig5.py: draws both settings from a synthetic results dict (no training)."""

import importlib.util
import json
from pathlib import Path

import pytest

FIG5 = Path(__file__).resolve().parents[2] / "figures" / "fig5.py"
STEPS = [0, 25, 50, 75, 100]


@pytest.fixture(scope="module")
def fig5():
    spec = importlib.util.spec_from_file_location("fig5", FIG5)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _curves(measure, start, end, seed):
    out = {}
    for k, lr in enumerate(("0.001", "0.0001")):
        rate = 1.0 / (k + 1)
        vals = [start + (end - start) * min(1.0, rate * i / (len(STEPS) - 1)) + 0.01 * seed for i in range(len(STEPS))]
        out[lr] = {"step": STEPS, measure: vals}
    return out


def _panel(measure, label, best, uo, df, alphas):
    runs = []
    for seed in range(3):
        runs.append(
            {
                "role": "unlearn_only",
                "alpha": None,
                "beta": None,
                "seed": seed,
                "compute_steps": None,
                "artifact": "a",
                "curves": _curves(measure, df, uo, seed),
            }
        )
        runs.append(
            {
                "role": "data_filtering",
                "alpha": None,
                "beta": None,
                "seed": seed,
                "compute_steps": 1000,
                "artifact": "a",
                "curves": _curves(measure, df, df + 0.05 * (uo - df), seed),
            }
        )
        for a in alphas:
            end = uo + (df - uo) * a
            runs.append(
                {
                    "role": "undo",
                    "alpha": a,
                    "beta": 0.1,
                    "seed": seed,
                    "compute_steps": 1000 * a * 0.8 + 10 * seed,
                    "artifact": "a",
                    "curves": _curves(measure, df, end, seed),
                }
            )
    return {
        "measure": measure,
        "measure_label": label,
        "attacker_best": best,
        "robustness_at": "final",
        "reference_steps": 1000,
        "runs": runs,
    }


def results():
    return {
        "figure": "fig5",
        "scale": "mini",
        "created": "2026-11-23T10:00:00Z",
        "panels": {
            "language": _panel("forget_ce", "Korean CE", "min", uo=1.5, df=4.0, alphas=[0.2, 0.4, 0.6, 0.8]),
            "arithmetic": _panel("forget_acc", "Mul/Div accuracy", "max", uo=0.9, df=0.05, alphas=[0.55, 0.65, 0.75]),
        },
    }


def test_draw_writes_png_pdf_md(fig5, tmp_path):
    paths = fig5.draw(results(), tmp_path / "out" / "fig5")
    assert sorted(p.name for p in paths) == ["fig5.md", "fig5.pdf", "fig5.png"]
    for p in paths:
        assert p.exists() and p.stat().st_size > 0
    md = (tmp_path / "out" / "fig5.md").read_text()
    assert "## Arithmetic" in md and "## Language" in md and "monotone ordering holds" in md
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left


def test_main_cli_single_panel(fig5, tmp_path):
    res = results()
    del res["panels"]["language"]
    src = tmp_path / "fig5.json"
    src.write_text(json.dumps(res))
    fig5.main([str(src), str(tmp_path / "fig5")])
    assert (tmp_path / "fig5.png").stat().st_size > 0 and (tmp_path / "fig5.pdf").stat().st_size > 0
