#!/usr/bin/env bash
# Create or update the kit's virtualenv from requirements.lock on a CPU-only machine.
# `make setup` (and `make test`) run this. Safe to rerun: with an unchanged lock it is a
# no-op that returns in well under a second.
#
#   VENV             venv directory (default .venv)
#   PYTHON           interpreter that creates it (default python3; must be CPython 3.11)
#   TORCH_INDEX_URL  index for the CPU torch wheel, e.g. https://download.pytorch.org/whl/cpu
#                    (default empty: pip's own config, which on the project's machines finds
#                    a local torch-X.Y.Z+cpu wheel through find-links)
#   FORCE=1          reinstall checks even if the stamp says the venv is up to date
#
# Steps: (a) python3 -m venv; (b) torch==<lock's version> as a CPU wheel, --no-deps;
# (c) every other lock entry except triton, nvidia-* and cuda-* (CUDA-only), with
# --require-hashes --no-deps; (d) pip install --no-deps -e . ; (e) pip check;
# (f) stamp $VENV/.lock-sha256 = sha256(requirements.lock + pyproject.toml).
# The container installs the full lock instead (see Dockerfile).
set -euo pipefail

cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-}"
LOCK=requirements.lock
STAMP="$VENV/.lock-sha256"

say() { echo "setup-env: $*"; }
die() {
    echo "setup-env: ERROR: $*" >&2
    exit 1
}
# pip's preset config on the project's machines adds file:// indexes that make pip print
# ~45 harmless "Location '...' is ignored" warnings; drop those, keep everything else.
quiet_pip() {
    "$VENV/bin/python" -m pip --disable-pip-version-check "$@" 2>&1 |
        { grep -v -E "^WARNING: Location '.*' is ignored" || true; }
}

[[ -f "$LOCK" ]] || die "$LOCK not found (run 'make lock' to create it)"
[[ -f pyproject.toml ]] || die "pyproject.toml not found"

want="$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ "${FORCE:-0}" != 1 && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    touch "$STAMP" # newer than its inputs again, for make's timestamp check
    say "$VENV is up to date with $LOCK"
    exit 0
fi

# Inside the kit's image the venv was built from the lock at image build time and is not
# writable: a lock or pyproject.toml that differs from the image's needs a new image.
[[ -z "${UNDO_IMAGE:-}" ]] || die "$LOCK or pyproject.toml differ from the ones $VENV was built from; rebuild the image ('make image')"

start=$SECONDS

# (a) the venv itself, on CPython 3.11 (the lock's target).
if [[ ! -x "$VENV/bin/python" ]]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; set PYTHON=/path/to/python3.11"
    say "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi
pyver="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[[ "$pyver" == 3.11 ]] || die "$VENV runs Python $pyver but $LOCK is for 3.11; remove $VENV and set PYTHON=python3.11"
rm -f "$STAMP" # a failed run below must not leave a valid stamp behind

# (b) torch: the CPU wheel of the lock's exact version. --no-deps: its dependencies are
# lock entries and come hash-checked in (c); nothing here may resolve an unpinned torch.
torch_version="$("$VENV/bin/python" tools/filter-lock.py "$LOCK" --version-of torch)"
torch_args=()
[[ -n "$TORCH_INDEX_URL" ]] && torch_args=(--index-url "$TORCH_INDEX_URL")
say "installing torch==$torch_version (CPU wheel${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL})"
quiet_pip install -q --no-deps "${torch_args[@]}" "torch==$torch_version" ||
    die "could not install torch==$torch_version; on a machine without the local CPU wheel set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"
# PyPI's Linux torch is the CUDA build; without its nvidia-* wheels (skipped below) it
# cannot even be imported. Refuse it with a clear hint rather than leave a broken venv.
"$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(any(r.startswith("nvidia-") for r in m.requires("torch") or []))' ||
    die "pip picked a CUDA build of torch==$torch_version; for a CPU venv run '$VENV/bin/python -m pip uninstall -y torch', then rerun with TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"

# (c) everything else in the lock, hash-checked, minus torch and the CUDA-only packages.
filtered="$(mktemp "${TMPDIR:-/tmp}/undo-lock-cpu.XXXXXX")"
trap 'rm -f "$filtered"' EXIT
"$VENV/bin/python" tools/filter-lock.py "$LOCK" -o "$filtered" 2>/dev/null ||
    die "could not filter $LOCK"
n_pkgs="$(grep -c -E '^[A-Za-z0-9]' "$filtered")"
say "installing $n_pkgs hash-checked packages from $LOCK (skipping torch, triton, nvidia-*, cuda-*)"
quiet_pip install -q --require-hashes --no-deps -r "$filtered" ||
    die "hash-checked install from $LOCK failed (see pip's message above)"

# (d) the kit itself. --no-build-isolation: build with the venv's locked setuptools instead
# of fetching an unpinned one.
say "installing the undo package (editable)"
quiet_pip install -q --no-deps --no-build-isolation -e . ||
    die "pip install -e . failed"

# (e) consistency. CPU torch does not require triton/nvidia-*/cuda-*, so pip check should
# be clean; complaints that only name those skipped packages are reported, not fatal.
if ! check_out="$("$VENV/bin/python" -m pip --disable-pip-version-check check 2>&1)"; then
    real="$(grep -v -E '(^| )(triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)([ ,]|$)' <<<"$check_out" || true)"
    if [[ -n "$real" ]]; then
        echo "$check_out" >&2
        die "pip check failed"
    fi
    say "pip check only misses CUDA-only packages skipped on purpose on this CPU machine:"
    while IFS= read -r line; do echo "    $line"; done <<<"$check_out"
fi

# Packages in the venv that the lock does not name (left over from an older lock or
# installed by hand): reported, not removed.
extra="$("$VENV/bin/python" - "$LOCK" <<'EOF'
import importlib.metadata as md, re, sys
lock = {re.sub(r"[-_.]+", "-", m.group(1)).lower()
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", open(sys.argv[1]).read(), re.M)}
names = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in md.distributions()}
print(" ".join(sorted(names - lock - {"pip", "undo-kit"})))
EOF
)"
[[ -z "$extra" ]] || say "note: installed but not in $LOCK: $extra"

# (f) stamp.
echo "$want" >"$STAMP"
tv="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))')"
say "$VENV ready: torch $tv + $n_pkgs locked packages + undo (editable) in $((SECONDS - start)) s"
