"""`make all SCALE=smoke JOBS=2` from an empty store, and its results against golden hashes committed here.

The first test is what a newcomer runs: every figure of Sections 3-6 and the claims report, with two worker
processes, from nothing. The hashes are of what the pipeline computed (model weights, token arrays, relearning
curves, sweep choices), so a change in numerics on any machine that runs CI fails here: the kit pins its CPU
code path (undo/numerics.py) so that the same commit gives the same bits on every x86-64 CPU with AVX2 of one
vendor. The goldens are kept per CPU vendor (MKL's reproducibility modes hold within a vendor): a machine of a
vendor without goldens checks the graph's keys only and says so.

After a deliberate change of results (a config or stage change that re-keys artifacts), rewrite the goldens with
``UNDO_UPDATE_GOLDEN=1 pytest tests/test_reproducible.py`` and commit tests/golden/smoke_hashes.json; that keeps
the other vendors' hashes only while the graph's keys are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "smoke_hashes.json"
HASHED = ("model.safetensors", "tokens.npy", "documents.jsonl")
# An artifact's path ``stage/<name>-<key12>`` inside a stage's results (lineage: the attacked model, the chosen
# candidate, the corpora of a dataset) hashes as ``stage/<key12>``: names follow file names, results do not.
ARTIFACT_PATH = re.compile(r"\b([a-z]+)/[^\"/\s]+-([0-9a-f]{12})\b")


def _without_wall_clock(data):
    """``data`` without the keys that hold wall-clock times (they name "seconds"), at every depth; every measured
    number is kept."""
    if isinstance(data, dict):
        return {k: _without_wall_clock(v) for k, v in data.items() if "seconds" not in k}
    if isinstance(data, list):
        return [_without_wall_clock(v) for v in data]
    return data


def artifact_hash(path: Path) -> str:
    """sha256 over what a stage computed: weights, tokens, documents, relearning curves and choices."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.name in HASHED:
            h.update(f.relative_to(path).as_posix().encode())
            h.update(f.read_bytes())
    for name in ("results.json", "metrics.json"):
        if (path / name).is_file():
            data = json.loads((path / name).read_text())
            if name == "metrics.json":  # drop wall-clock fields at any depth (a lineage copies its model's)
                data = _without_wall_clock(data)
            h.update(ARTIFACT_PATH.sub(r"\1/\2", json.dumps(data, sort_keys=True)).encode())
    return h.hexdigest()


def store_hashes(store: Path) -> dict[str, str]:
    """``stage/key`` (the first 12 hex digits of the artifact key, the end of its directory name) -> hash. Names are
    left out: they follow the config files' names, which may change without changing any result."""
    return {f"{p.parent.parent.name}/{p.parent.name[-12:]}": artifact_hash(p.parent)
            for p in sorted(store.glob("*/*/DONE"))}


def cpu_vendor() -> str:
    from undo.numerics import cpu_vendor as vendor

    return vendor()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def environment_tag() -> dict:
    import torch

    from undo.numerics import describe

    return {"python": ".".join(platform.python_version_tuple()[:2]), "torch": torch.__version__,
            "numerics_pinned": describe()["pinned"]}


@pytest.mark.slow
def test_make_all_smoke_from_an_empty_store_with_two_jobs_reproduces_the_golden_hashes(smoke_workspace):
    store = smoke_workspace / "store"
    env = {**os.environ, "UNDO_ARTIFACTS": str(store), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "UNDO_PROGRESS": "0", "MPLBACKEND": "Agg"}
    venv = Path(sys.executable).parent.parent
    # `-o` skips the environment set-up prerequisite: the test already runs inside that environment
    cmd = ["make", "-f", str(REPO / "Makefile"), "all", "SCALE=smoke", "JOBS=2", f"VENV={venv}",
           "-o", f"{venv}/.lock-sha256"]
    done = subprocess.run(cmd, cwd=smoke_workspace, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "(2 jobs x 1 thread)" in done.stdout
    for figure in ("fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig9", "fig10", "fig12", "fig13"):
        for ext in ("json", "png", "md"):
            assert (smoke_workspace / "figures" / "smoke" / f"{figure}.{ext}").is_file(), (figure, ext)
    claims = (smoke_workspace / "figures" / "smoke" / "claims.md").read_text()
    assert "not run" not in claims.split("Verdicts:")[1].split("\n")[0].replace("not run 0", "")

    hashes = store_hashes(store)
    assert not [p for p in store.glob("*/.partial/*") if p.is_dir()], "a finished run leaves no partial artifact"
    tag = environment_tag()
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else None
    vendor = cpu_vendor()
    if os.environ.get("UNDO_UPDATE_GOLDEN") == "1":
        new = updated_goldens(golden, tag, vendor, cpu_model(), hashes)
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"wrote {len(hashes)} golden hashes for {vendor} to {GOLDEN} (other vendors kept: "
                    f"{ {v: len(e['hashes']) for v, e in new['cpus'].items() if v != vendor} })")
    assert golden is not None, f"{GOLDEN} is missing: record it with UNDO_UPDATE_GOLDEN=1"
    if {k: golden["environment"][k] for k in ("python", "torch")} != {k: tag[k] for k in ("python", "torch")}:
        pytest.skip(f"goldens are for {golden['environment']}, this is {tag} (the smoke English text is the "
                    "running Python's own pydoc, and the kit pins torch): nothing to compare")
    assert tag["numerics_pinned"], "CPU numerics are not pinned here (UNDO_NUMERICS=native or not x86-64/AVX2)"
    problem = golden_mismatch(golden, vendor, hashes)
    assert problem is None, problem
    if vendor not in golden["cpus"]:
        pytest.skip(f"no golden hashes for {vendor} CPUs (have {sorted(golden['cpus'])}; MKL's reproducibility holds "
                    "per vendor): the graph's keys match; record hashes with UNDO_UPDATE_GOLDEN=1 on a clean commit")


def updated_goldens(golden: dict | None, tag: dict, vendor: str, cpu: str, hashes: dict[str, str]) -> dict:
    """The golden file after recording ``hashes`` for ``vendor``. Another vendor's hash of an artifact is kept only
    where this vendor's hash of it did not change (the results stayed; only this vendor's were missing or stale):
    a changed result cannot be recomputed here for the other vendor, so its stale hash is dropped."""
    old = golden if golden is not None and golden["environment"] == tag else {"cpus": {}}
    before = old["cpus"].get(vendor, {}).get("hashes", {})
    cpus = {}
    for other, entry in old["cpus"].items():
        if other == vendor:
            continue
        kept = {k: v for k, v in entry["hashes"].items() if k in hashes and before.get(k) == hashes[k]}
        if kept:
            cpus[other] = {**entry, "hashes": kept}
    cpus[vendor] = {"cpu": cpu, "hashes": dict(hashes)}
    return {"environment": tag, "keys": sorted(hashes), "cpus": cpus}


def golden_mismatch(golden: dict, vendor: str, hashes: dict[str, str]) -> str | None:
    """Why ``hashes`` disagree with the goldens, or None. The graph (the set of keys) is machine-independent; the
    hashes are compared with this vendor's, which may cover a subset of the keys (see :func:`updated_goldens`)."""
    missing = sorted(set(golden["keys"]) - set(hashes))
    extra = sorted(set(hashes) - set(golden["keys"]))
    if missing or extra:
        return (f"the smoke graph changed (configs or code versions re-key artifacts): missing {missing[:5]}, "
                f"new {extra[:5]}; rewrite the goldens if intended")
    expected = golden["cpus"].get(vendor, {}).get("hashes", {})
    differ = sorted(k for k in expected if hashes[k] != expected[k])
    if differ:
        return (f"{len(differ)} of {len(expected)} artifacts differ from the {vendor} goldens (first: {differ[:5]}): "
                "the numerics changed on this machine or the code changed results")
    return None


def test_artifact_hash_ignores_names_in_lineage_but_not_keys(tmp_path):
    a, b, c = (tmp_path / x for x in "abc")
    for path, model in ((a, "distill/arith-undo-alpha0.2-seed0-0123456789ab"),
                        (b, "distill/undo_alpha0.2-seed0-0123456789ab"), (c, "distill/undo_alpha0.2-seed0-ba9876543210")):
        path.mkdir()
        (path / "results.json").write_text(json.dumps({"model": model, "curves": [0.5]}))
    assert artifact_hash(a) == artifact_hash(b) != artifact_hash(c)


def test_updated_goldens_keep_another_vendors_hashes_only_where_results_did_not_change():
    tag = {"python": "3.11", "torch": "2.13.0+cpu", "numerics_pinned": True}
    golden = {"environment": tag, "keys": ["a/1", "b/2"],
              "cpus": {"Intel": {"cpu": "x", "hashes": {"a/1": "i1", "b/2": "i2"}},
                       "AMD": {"cpu": "y", "hashes": {"a/1": "a1", "b/2": "a2"}}}}
    new = updated_goldens(golden, tag, "Intel", "x", {"a/1": "i1", "b/2": "i2-changed", "c/3": "i3"})
    assert new["keys"] == ["a/1", "b/2", "c/3"]
    assert new["cpus"]["AMD"]["hashes"] == {"a/1": "a1"}  # b changed here, c is new: AMD's cannot be vouched for
    assert new["cpus"]["Intel"]["hashes"] == {"a/1": "i1", "b/2": "i2-changed", "c/3": "i3"}
    assert "AMD" not in updated_goldens(golden, {**tag, "torch": "2.14"}, "Intel", "x", {"a/1": "i1"})["cpus"]


def test_golden_mismatch_checks_keys_for_every_vendor_and_hashes_for_its_own():
    golden = {"environment": {}, "keys": ["a/1", "b/2"], "cpus": {"AMD": {"cpu": "y", "hashes": {"a/1": "a1"}}}}
    assert golden_mismatch(golden, "Intel", {"a/1": "anything", "b/2": "x"}) is None  # no Intel goldens: keys only
    assert "graph changed" in golden_mismatch(golden, "Intel", {"a/1": "x"})
    assert golden_mismatch(golden, "AMD", {"a/1": "a1", "b/2": "x"}) is None  # AMD's subset matches
    assert "1 of 1 artifacts differ" in golden_mismatch(golden, "AMD", {"a/1": "a1-drift", "b/2": "x"})
