#!/usr/bin/env bash
# Regenerate requirements.lock and requirements-torch-cpu.lock (`make lock` runs this).
#
#   tools/lock.sh [OUT [OUT_TORCH_CPU]]   defaults requirements.lock, requirements-torch-cpu.lock;
#                            pass temp paths to check the committed locks:
#                            tools/lock.sh /tmp/l /tmp/t && diff -u requirements.lock /tmp/l
#
# Target: Linux x86_64 (manylinux_2_28), CPython 3.11, 3.12 and 3.13, resolved from PyPI only,
# with sha256 hashes for every distribution of each pin (all its wheels, so one file serves
# every interpreter). uv resolves for CPython 3.11; the same inputs are then resolved for 3.12
# and 3.13 with that result as preferences, and the lock is refused unless all three give the
# same pins. torch==X.Y.Z is the PyPI build (CUDA, with its nvidia-*/cuda-*/triton deps): what
# GPU machines and the container install. Machines without a GPU install the same X.Y.Z as
# the CPU build pinned in requirements-torch-cpu.lock (tools/torch-cpu-lock.py, from PyTorch's
# CPU index) plus every other non-CUDA line of the lock (tools/setup-env.sh).
#
# LOCK_EXCLUDE_NEWER freezes the resolution to what PyPI had at that instant, so the
# same inputs give the same lock later too; move it forward on purpose when upgrading.
set -euo pipefail

cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
OUT="${1:-requirements.lock}"
OUT_TORCH_CPU="${2:-requirements-torch-cpu.lock}"
LOCK_EXCLUDE_NEWER="${LOCK_EXCLUDE_NEWER:-2026-11-23T00:00:00Z}"
LOCK_INDEX="${LOCK_INDEX:-https://pypi.org/simple}"

if [[ -x "$VENV/bin/uv" ]]; then
    UV="$VENV/bin/uv"
elif command -v uv >/dev/null 2>&1; then
    UV="$(command -v uv)"
else
    echo "lock.sh: uv not found (neither $VENV/bin/uv nor on PATH); run 'make setup' first" >&2
    exit 1
fi

# The exact command; it is also written into the lock's header.
CMD=(uv pip compile requirements.in
    --generate-hashes
    --python-version 3.11
    --python-platform x86_64-manylinux_2_28
    --exclude-newer "$LOCK_EXCLUDE_NEWER"
    --default-index "$LOCK_INDEX"
    --custom-compile-command "make lock"
    --no-config
    --quiet
    -o requirements.lock)

tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp.body" "$tmp.other"' EXIT
# Start from the current lock so uv keeps its pins as preferences (like pip-compile).
if [[ -f "$OUT" ]]; then cp "$OUT" "$tmp.body"; fi

"$UV" "${CMD[@]:1:${#CMD[@]}-3}" -o "$tmp.body"

# The same pins must serve CPython 3.12 and 3.13 (preferences: the 3.11 result).
pins() { grep -E '^[A-Za-z0-9]' "$1"; }
for py in 3.12 3.13; do
    cp "$tmp.body" "$tmp.other"
    args=("${CMD[@]:1:${#CMD[@]}-3}")
    args=("${args[@]/#3.11/$py}")
    "$UV" "${args[@]}" -o "$tmp.other"
    if ! diff <(pins "$tmp.body") <(pins "$tmp.other") >/dev/null; then
        echo "lock.sh: CPython $py resolves requirements.in to other pins than 3.11; one lock cannot serve both:" >&2
        diff <(pins "$tmp.body") <(pins "$tmp.other") >&2 || true
        exit 1
    fi
done

{
    echo "# requirements.lock: exact pins + sha256 hashes for the UNDO kit. Do not edit by hand."
    echo "# Regenerate with 'make lock' (tools/lock.sh), which runs, from the repo root:"
    printf '#   '
    for a in "${CMD[@]}"; do
        if [[ "$a" == *" "* ]]; then printf '"%s" ' "$a"; else printf '%s ' "$a"; fi
    done | sed 's/ $//'
    echo
    echo "# Target: Linux x86_64 (manylinux_2_28), CPython 3.11, 3.12 and 3.13 (resolved for 3.11; 3.12"
    echo "# and 3.13 checked to resolve to the same pins), PyPI only. torch is PyPI's CUDA build with"
    echo "# its nvidia-*/cuda-*/triton deps (GPU machines and the container install all of it with"
    echo "# 'pip install --require-hashes --no-deps -r requirements.lock'). Machines without a GPU use"
    echo "# tools/setup-env.sh: the CPU torch of requirements-torch-cpu.lock, every other non-CUDA line."
    echo "#"
    cat "$tmp.body"
} >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$OUT"
echo "lock.sh: wrote $OUT ($(grep -c '^[A-Za-z0-9]' "$OUT") packages)"

# torch's CPU build of the locked version, from PyTorch's CPU index.
PY="$VENV/bin/python"
[[ -x "$PY" ]] || PY=python3
torch_version="$("$PY" tools/filter-lock.py "$OUT" --version-of torch)"
if "$PY" tools/torch-cpu-lock.py "$torch_version" -o "$OUT_TORCH_CPU"; then
    echo "lock.sh: wrote $OUT_TORCH_CPU (torch==$torch_version+cpu)"
elif [[ -f "$OUT_TORCH_CPU" && "$("$PY" tools/filter-lock.py "$OUT_TORCH_CPU" --version-of torch)" == "$torch_version+cpu" ]]; then
    echo "lock.sh: kept $OUT_TORCH_CPU: it already pins torch==$torch_version+cpu (its hashes were not re-read)" >&2
else
    echo "lock.sh: $OUT_TORCH_CPU needs torch==$torch_version+cpu and PyTorch's CPU index could not be read" >&2
    exit 1
fi
