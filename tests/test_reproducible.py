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
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "smoke_hashes.json"
HASHED = ("model.safetensors", "tokens.npy", "documents.jsonl")


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
            if name == "metrics.json":  # drop wall-clock fields; keep every measured number
                data = {k: v for k, v in data.items() if "seconds" not in k}
            h.update(json.dumps(data, sort_keys=True).encode())
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
    for figure in ("fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig9", "fig10"):
        for ext in ("json", "png", "md"):
            assert (smoke_workspace / "figures" / "smoke" / f"{figure}.{ext}").is_file(), (figure, ext)
    claims = (smoke_workspace / "figures" / "smoke" / "claims.md").read_text()
    assert "not run" not in claims.split("Verdicts:")[1].split("\n")[0].replace("not run 0", "")

    hashes = store_hashes(store)
    assert not [p for p in store.glob("*/.partial/*") if p.is_dir()], "a finished run leaves no partial artifact"
    tag = environment_tag()
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {"environment": tag, "cpus": {}}
    vendor = cpu_vendor()
    if os.environ.get("UNDO_UPDATE_GOLDEN") == "1":
        # Other vendors' hashes stay only while the graph (the set of keys) is unchanged: they cannot be recomputed here.
        cpus = {v: entry for v, entry in golden["cpus"].items()
                if v != vendor and set(entry["hashes"]) == set(hashes) and golden["environment"] == tag}
        cpus[vendor] = {"cpu": cpu_model(), "hashes": hashes}
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps({"environment": tag, "cpus": cpus}, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"wrote {len(hashes)} golden hashes for {vendor} to {GOLDEN} (kept: {sorted(cpus)})")
    if {k: golden["environment"][k] for k in ("python", "torch")} != {k: tag[k] for k in ("python", "torch")}:
        pytest.skip(f"goldens are for {golden['environment']}, this is {tag} (the smoke English text is the "
                    "running Python's own pydoc, and the kit pins torch): nothing to compare")
    assert tag["numerics_pinned"], "CPU numerics are not pinned here (UNDO_NUMERICS=native or not x86-64/AVX2)"
    for entry in golden["cpus"].values():  # the graph is machine-independent: every vendor's keys must match
        missing = sorted(set(entry["hashes"]) - set(hashes))
        extra = sorted(set(hashes) - set(entry["hashes"]))
        assert not missing and not extra, (f"the smoke graph changed (configs or code versions re-key artifacts): "
                                           f"missing {missing[:5]}, new {extra[:5]}; rewrite the goldens if intended")
    if vendor not in golden["cpus"]:
        pytest.skip(f"no golden hashes for {vendor} CPUs (have {sorted(golden['cpus'])}; MKL's reproducibility holds "
                    "per vendor): record them with UNDO_UPDATE_GOLDEN=1 on a clean commit")
    expected = golden["cpus"][vendor]["hashes"]
    differ = sorted(k for k in hashes if hashes[k] != expected[k])
    assert not differ, (f"{len(differ)} of {len(hashes)} artifacts differ from the {vendor} goldens (first: "
                        f"{differ[:5]}): the numerics changed on this machine or the code changed results")
