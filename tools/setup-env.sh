#!/usr/bin/env bash
# Create the kit's virtualenv from requirements.lock. `make setup` (and `make test`) run this.
# Safe to rerun: with an unchanged lock it is a no-op that returns in well under a second.
#
#   VENV             venv directory (default .venv)
#   PYTHON           interpreter that creates it (default python3): CPython 3.11, 3.12 or 3.13
#                    on x86_64 Linux, with its venv module (Debian/Ubuntu: apt install python3-venv)
#   TORCH_BUILD      auto (default), cpu or cuda. auto: cuda when `nvidia-smi -L` lists a GPU,
#                    cpu otherwise (no nvidia-smi, or it fails)
#   TORCH_INDEX_URL  index of the CPU torch wheel (default https://download.pytorch.org/whl/cpu;
#                    set it empty to use only pip's own configuration, e.g. a local find-links)
#   FORCE=1          rebuild even if the stamp says the venv is up to date
#
#   tools/setup-env.sh --print-build   print the torch build TORCH_BUILD selects here, and exit
#
# cuda: every entry of requirements.lock, hash-checked: PyPI's torch is the CUDA build, with its
#       nvidia-*/cuda-*/triton wheels (what the container installs).
# cpu:  torch from requirements-torch-cpu.lock (the CPU build of the lock's torch version,
#       hash-checked, from TORCH_INDEX_URL), then every other lock entry except triton, nvidia-*
#       and cuda-*, hash-checked.
# Both then: pip install --no-deps -e . ; pip check; import torch and undo; stamp
# $VENV/.lock-sha256 = sha256(requirements.lock + pyproject.toml).
#
# Every build is a fresh venv. An existing one is moved aside first and put back if anything
# fails (or the run is interrupted), so a failed run leaves the previous venv or none, never a
# half-made one; the stamp is written last.
set -euo pipefail

cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
VENV="${VENV%/}" # "dir/" and "dir" are one venv (it is moved aside as "$VENV.previous.PID")
PYTHON="${PYTHON:-python3}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
LOCK=requirements.lock
TORCH_CPU_LOCK=requirements-torch-cpu.lock
STAMP="$VENV/.lock-sha256"

say() { echo "setup-env: $*"; }
usage_error() {
    echo "setup-env: ERROR: $*" >&2
    exit 2
}

# The torch build for this machine (cpu or cuda). A GPU counts only when nvidia-smi runs and
# lists one: a driverless nvidia-smi (exit status != 0) means CPU.
detect_build() {
    case "${TORCH_BUILD:-auto}" in
    cpu | cuda) echo "$TORCH_BUILD" ;;
    auto)
        if command -v nvidia-smi >/dev/null 2>&1 &&
            timeout 30 nvidia-smi -L 2>/dev/null | grep -q '^GPU [0-9]'; then
            echo cuda
        else
            echo cpu
        fi
        ;;
    *) usage_error "TORCH_BUILD=${TORCH_BUILD} is not one of auto, cpu, cuda" ;;
    esac
}

if [[ "${1:-}" == --print-build ]]; then
    detect_build
    exit 0
fi
[[ $# -eq 0 ]] || usage_error "unknown argument '$1' (the only one is --print-build)"

[[ -f "$LOCK" ]] || usage_error "$LOCK not found (run 'make lock' to create it)"
[[ -f "$TORCH_CPU_LOCK" ]] || usage_error "$TORCH_CPU_LOCK not found (run 'make lock' to create it)"
[[ -f pyproject.toml ]] || usage_error "pyproject.toml not found"

want="$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ "${FORCE:-0}" != 1 && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    touch "$STAMP" # newer than its inputs again, for make's timestamp check
    say "$VENV is up to date with $LOCK"
    exit 0
fi

# Inside the kit's image the venv was built from the lock at image build time and is not
# writable: a lock or pyproject.toml that differs from the image's needs a new image.
[[ -z "${UNDO_IMAGE:-}" ]] || usage_error "$LOCK or pyproject.toml differ from the ones $VENV was built from; rebuild the image ('make image')"

build="$(detect_build)"

# The lock's wheels are for CPython 3.11-3.13 on x86_64 Linux (tools/lock.sh checks all three).
command -v "$PYTHON" >/dev/null 2>&1 || usage_error "'$PYTHON' not found; set PYTHON to a CPython 3.11, 3.12 or 3.13"
pycheck="$("$PYTHON" - 2>&1 <<'EOF'
import platform, sys
v = "%d.%d" % sys.version_info[:2]
if platform.python_implementation() != "CPython" or v not in ("3.11", "3.12", "3.13"):
    print(f"is {platform.python_implementation()} {v}; the lock is for CPython 3.11, 3.12 or 3.13")
elif sys.platform != "linux" or platform.machine() != "x86_64":
    print(f"runs on {sys.platform} {platform.machine()}; the lock is for x86_64 Linux")
else:
    try:
        import ensurepip, venv  # noqa: F401  (Debian/Ubuntu split both off into python3-venv)
    except ImportError:
        print(f"has no venv/ensurepip module; install it (Debian/Ubuntu: apt install python{v}-venv)")
EOF
)" || pycheck="could not be run"
[[ -z "$pycheck" ]] || usage_error "PYTHON=$PYTHON $pycheck"

# torch: the lock's version; on CPU its +cpu build, which requirements-torch-cpu.lock must pin.
torch_version="$("$PYTHON" tools/filter-lock.py "$LOCK" --version-of torch)"
want_torch="$torch_version"
if [[ $build == cpu ]]; then
    want_torch="$torch_version+cpu"
    cpu_pin="$("$PYTHON" tools/filter-lock.py "$TORCH_CPU_LOCK" --version-of torch)"
    [[ "$cpu_pin" == "$want_torch" ]] ||
        usage_error "$TORCH_CPU_LOCK pins torch==$cpu_pin, not $want_torch ($LOCK pins torch==$torch_version); run 'make lock'"
fi

# From here on a failure (or Ctrl-C) removes the new venv and puts the previous one back.
start=$SECONDS
step="creating $VENV"
aside=""
filtered=""
finished=0
cleanup() {
    local rc=$?
    [[ -z "$filtered" ]] || rm -f "$filtered"
    if [[ $finished == 1 ]]; then
        [[ -z "$aside" ]] || rm -rf "$aside"
        return
    fi
    rm -rf "$VENV"
    local left="removed $VENV"
    if [[ -n "$aside" ]]; then
        mv "$aside" "$VENV"
        left="put the previous $VENV back"
    fi
    echo "setup-env: ERROR: $step failed (exit $rc; see the messages above); $left" >&2
    exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -e "$VENV" ]]; then
    aside="$VENV.previous.$$"
    mv "$VENV" "$aside"
fi
say "creating $VENV with $("$PYTHON" --version 2>&1), torch build: $build"
"$PYTHON" -m venv "$VENV"

# pip's preset config on the project's machines adds file:// indexes that make pip print
# ~45 harmless "Location '...' is ignored" warnings; drop those, keep everything else.
quiet_pip() {
    "$VENV/bin/python" -m pip --disable-pip-version-check "$@" 2>&1 |
        { grep -v -E "^WARNING: Location '.*' is ignored" || true; }
}

if [[ $build == cuda ]]; then
    step="installing $LOCK (all of it, CUDA torch)"
    n_pkgs="$(grep -c -E '^[A-Za-z0-9]' "$LOCK")"
    say "installing $n_pkgs hash-checked packages from $LOCK (torch==$torch_version, CUDA build)"
    quiet_pip install -q --require-hashes --no-deps -r "$LOCK"
else
    # --no-deps: torch's dependencies are lock entries and come hash-checked below.
    torch_args=()
    [[ -n "$TORCH_INDEX_URL" ]] && torch_args=(--index-url "$TORCH_INDEX_URL")
    step="installing torch==$want_torch${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL}"
    say "$step (hash-checked)"
    quiet_pip install -q --require-hashes --no-deps "${torch_args[@]}" -r "$TORCH_CPU_LOCK"

    step="installing the rest of $LOCK"
    filtered="$(mktemp "${TMPDIR:-/tmp}/undo-lock-cpu.XXXXXX")"
    "$VENV/bin/python" tools/filter-lock.py "$LOCK" -o "$filtered" 2>/dev/null
    n_pkgs="$(grep -c -E '^[A-Za-z0-9]' "$filtered")"
    say "installing $n_pkgs hash-checked packages from $LOCK (skipping torch, triton, nvidia-*, cuda-*)"
    quiet_pip install -q --require-hashes --no-deps -r "$filtered"
fi

# The kit itself. --no-build-isolation: build with the venv's locked setuptools instead of
# fetching an unpinned one.
step="pip install -e . (the undo package)"
say "installing the undo package (editable)"
quiet_pip install -q --no-deps --no-build-isolation -e .

# Consistency. CPU torch does not require triton/nvidia-*/cuda-*, so pip check should be clean;
# complaints that only name those skipped packages are reported, not fatal.
step="pip check"
if ! check_out="$("$VENV/bin/python" -m pip --disable-pip-version-check check 2>&1)"; then
    real="$(grep -v -E '(^| )(triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)([ ,]|$)' <<<"$check_out" || true)"
    if [[ -n "$real" ]]; then
        echo "$check_out" >&2
        false
    fi
    say "pip check only misses CUDA-only packages skipped on purpose on this CPU machine:"
    while IFS= read -r line; do echo "    $line"; done <<<"$check_out"
fi

step="the import check (torch==$want_torch, undo)"
"$VENV/bin/python" - "$want_torch" <<'EOF'
import importlib.metadata as md, sys
import torch, undo  # noqa: F401  (a venv that cannot import these is broken)
got = md.version("torch")
if got != sys.argv[1]:
    sys.exit(f"setup-env: torch {got} is installed, {sys.argv[1]} was meant")
EOF

echo "$want" >"$STAMP"
finished=1
say "$VENV ready: torch $want_torch + $n_pkgs locked packages + undo (editable) in $((SECONDS - start)) s"
