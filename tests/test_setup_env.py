"""tools/setup-env.sh: torch build detection, the interpreter check, no half-made venv on failure, and real
set-ups into fresh venvs on CPython 3.12 and 3.13; tools/torch-cpu-lock.py's hashes."""

from __future__ import annotations

import glob
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "tools" / "setup-env.sh"
TORCH_CPU_LOCK_PY = ROOT / "tools" / "torch-cpu-lock.py"
TORCH_CPU_LOCK = ROOT / "requirements-torch-cpu.lock"
BASH = shutil.which("bash") or "/bin/bash"


def lock_torch_version() -> str:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "filter-lock.py"),
            str(ROOT / "requirements.lock"),
            "--version-of",
            "torch",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def tools_only_path(tmp_path: Path, nvidia_smi: str | None) -> str:
    """A PATH with only what --print-build runs (dirname, timeout, grep) and, if given, a fake nvidia-smi, so
    that the machine's own nvidia-smi cannot leak in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "timeout", "grep"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    if nvidia_smi is not None:
        fake = bin_dir / "nvidia-smi"
        fake.write_text("#!" + BASH + "\n" + nvidia_smi + "\n")
        fake.chmod(0o755)
    return str(bin_dir)


def print_build(tmp_path: Path, nvidia_smi: str | None, torch_build: str | None = None):
    env = {"PATH": tools_only_path(tmp_path, nvidia_smi), "HOME": str(tmp_path)}
    if torch_build is not None:
        env["TORCH_BUILD"] = torch_build
    return subprocess.run([BASH, str(SETUP), "--print-build"], env=env, capture_output=True, text=True, timeout=60)


GPU = 'echo "GPU 0: NVIDIA H200 (UUID: GPU-0f0e0d0c-0b0a-0908-0706-050403020100)"'
NO_DRIVER = 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver." >&2; exit 9'
NO_DEVICE = 'echo "No devices were found"; exit 0'


@pytest.mark.parametrize(
    ("nvidia_smi", "torch_build", "expected"),
    [
        (None, None, "cpu"),  # no nvidia-smi at all
        (GPU, None, "cuda"),
        (NO_DRIVER, None, "cpu"),  # nvidia-smi installed, driver not loaded
        (NO_DEVICE, None, "cpu"),
        (GPU, "cpu", "cpu"),  # explicit choice wins over detection
        (None, "cuda", "cuda"),
        (GPU, "auto", "cuda"),
    ],
    ids=["no-nvidia-smi", "gpu", "driver-fails", "no-device", "forced-cpu", "forced-cuda", "auto"],
)
def test_print_build_detects_the_torch_build(tmp_path, nvidia_smi, torch_build, expected):
    proc = print_build(tmp_path, nvidia_smi, torch_build)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


def test_unknown_torch_build_is_a_usage_error(tmp_path):
    proc = print_build(tmp_path, GPU, "rocm")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["setup-env: ERROR: TORCH_BUILD=rocm is not one of auto, cpu, cuda"]


def find_python(version: str) -> str | None:
    """A CPython VERSION interpreter on this machine: pythonX.Y on PATH, else a pyenv install of it."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    for exe in filter(None, candidates):
        probe = subprocess.run(
            [exe, "-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return exe
    return None


def setup_env(venv: Path, python: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"VENV", "PYTHON", "TORCH_BUILD", "FORCE", "UNDO_IMAGE"}}
    env.update(VENV=str(venv), PYTHON=python, **extra)
    return subprocess.run([BASH, str(SETUP)], env=env, capture_output=True, text=True, timeout=1800)


def offline_pip_env() -> dict[str, str]:
    """pip with no configuration, no find-links and an index that does not exist: torch cannot be installed."""
    return {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_FIND_LINKS": "",
        "PIP_EXTRA_INDEX_URL": "",
        "TORCH_INDEX_URL": "file:///nonexistent-index",
        "TORCH_BUILD": "cpu",
    }


def test_unsupported_python_is_refused_before_the_venv_is_touched(tmp_path):
    old = find_python("3.10") or find_python("3.9")
    if old is None:
        pytest.skip("no CPython 3.9 or 3.10 on this machine to offer the script")
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "keep").write_text("previous venv")
    proc = setup_env(venv, old, FORCE="1")
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"setup-env: ERROR: PYTHON={old} is CPython 3.")
    assert "the lock is for CPython 3.11, 3.12 or 3.13" in line
    assert sorted(p.name for p in venv.iterdir()) == ["keep"]


@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-a-previous-venv"])
def test_a_failed_setup_leaves_no_half_made_venv(tmp_path, previous):
    """torch cannot be fetched: the new venv is removed and a previous one put back as it was, with one error
    line naming the step."""
    venv = tmp_path / "venv"
    if previous:
        venv.mkdir()
        (venv / "keep").write_text("previous venv")
    proc = setup_env(venv, sys.executable, FORCE="1", **offline_pip_env())
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"setup-env: ERROR: installing torch=={lock_torch_version()}+cpu from file:///nonexistent-index failed"
    )
    if previous:
        assert last.endswith(f"put the previous {venv} back")
        assert sorted(p.name for p in venv.iterdir()) == ["keep"]
    else:
        assert last.endswith(f"removed {venv}")
        assert not venv.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["venv"] if previous else [])


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.12", "3.13"])  # 3.11: `make test` builds its own .venv with it
def test_setup_into_a_fresh_venv_gives_cpu_torch_of_the_lock(tmp_path, version):
    """The real set-up on a machine without a GPU: a fresh venv where `import undo, torch` works and torch is
    the CPU build of the lock's version, with no CUDA package. Where PyTorch's CPU wheel for this Python
    cannot be fetched (no access to its index, no local copy), the set-up must fail cleanly instead: no venv
    left; the test then skips, saying so."""
    python = find_python(version)
    if python is None:
        pytest.skip(f"no CPython {version} with venv/ensurepip on this machine")
    venv = tmp_path / "venv"
    proc = setup_env(venv, python, TORCH_BUILD="cpu")
    want = f"{lock_torch_version()}+cpu"
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1]
        assert not venv.exists(), "a failed set-up left its venv behind"
        if last.startswith(f"setup-env: ERROR: installing torch=={want}"):
            pytest.skip(f"CPU torch {want} for CPython {version} cannot be fetched here: {last}")
        pytest.fail(f"set-up on CPython {version} failed:\n{proc.stdout}\n{proc.stderr}")
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as md, sys, torch, undo\n"
            "cuda = sorted(d.metadata['Name'] for d in md.distributions()\n"
            "              if d.metadata['Name'].lower().startswith(('nvidia-', 'cuda-', 'triton')))\n"
            "print('%d.%d' % sys.version_info[:2], torch.__version__, torch.version.cuda, cuda)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().split(maxsplit=3) == [version, want, "None", "[]"]
    assert (venv / ".lock-sha256").is_file()


# --- tools/torch-cpu-lock.py ---------------------------------------------------------------------------------

DIGESTS = {"311": "1" * 64, "312": "2" * 64, "313": "3" * 64}


def fake_index_page(version: str, digests: dict[str, str] = DIGESTS) -> str:
    links = [
        f'<a href="/whl/cpu/torch-{version}%2Bcpu-cp{py}-cp{py}-manylinux_2_28_x86_64.whl#sha256={digest}">x</a>'
        for py, digest in digests.items()
    ]
    links += [  # other builds, architectures and versions on the same page must not be picked
        f'<a href="/whl/cpu/torch-{version}%2Bcpu-cp312-cp312-manylinux_2_28_aarch64.whl#sha256={"a" * 64}">x</a>',
        f'<a href="/whl/cpu/torch-{version}%2Bcpu-cp312-cp312-win_amd64.whl#sha256={"b" * 64}">x</a>',
        f'<a href="/whl/cpu/torch-{version}%2Bcpu-cp314-cp314-manylinux_2_28_x86_64.whl#sha256={"c" * 64}">x</a>',
        f'<a href="/whl/cpu/torch-9.9.9%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl#sha256={"d" * 64}">x</a>',
    ]
    return "<html><body>\n" + "\n".join(links) + "\n</body></html>\n"


@pytest.fixture
def serve(tmp_path):
    """Serve tmp_path/index over HTTP on localhost; yields (index dir, base URL)."""
    root = tmp_path / "index"
    (root / "torch").mkdir(parents=True)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_torch_cpu_lock(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TORCH_CPU_LOCK_PY), *args], capture_output=True, text=True, timeout=60)


def test_torch_cpu_lock_pins_the_x86_64_linux_wheels_of_3_11_to_3_13(serve, tmp_path):
    root, url = serve
    (root / "torch" / "index.html").write_text(fake_index_page("2.13.0"))
    out = tmp_path / "torch-cpu.lock"
    proc = run_torch_cpu_lock("2.13.0", "--index", url, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    entry = [ln.strip().rstrip("\\").strip() for ln in text.splitlines() if ln and not ln.lstrip().startswith("#")]
    assert entry == ["torch==2.13.0+cpu"] + [f"--hash=sha256:{DIGESTS[py]}" for py in ("311", "312", "313")]


def test_torch_cpu_lock_refuses_a_page_without_every_python(serve, tmp_path):
    root, url = serve
    (root / "torch" / "index.html").write_text(
        fake_index_page("2.13.0", {"311": DIGESTS["311"], "312": DIGESTS["312"]})
    )
    out = tmp_path / "torch-cpu.lock"
    proc = run_torch_cpu_lock("2.13.0", "--index", url, "-o", str(out))
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith("torch==2.13.0+cpu on cp313")
    assert not out.exists()


def test_committed_torch_cpu_lock_is_what_the_generator_writes(serve, tmp_path):
    """requirements-torch-cpu.lock pins the lock's torch as +cpu, and is byte for byte what tools/torch-cpu-lock.py
    writes for an index page listing its digests (so `make lock` reproduces it)."""
    version = lock_torch_version()
    lines = TORCH_CPU_LOCK.read_text().splitlines()
    assert f"torch=={version}+cpu \\" in lines
    digests = [ln.split("sha256:")[1].rstrip(" \\") for ln in lines if "--hash=sha256:" in ln]
    assert len(digests) == 3 and len(set(digests)) == 3
    root, url = serve
    (root / "torch" / "index.html").write_text(
        fake_index_page(version, dict(zip(("311", "312", "313"), digests, strict=True)))
    )
    proc = run_torch_cpu_lock(version, "--index", url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == TORCH_CPU_LOCK.read_text()
