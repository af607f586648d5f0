#!/usr/bin/env bash
# Regenerate requirements.lock from requirements.in (`make lock` runs this).
#
#   tools/lock.sh [OUT]      OUT defaults to requirements.lock; pass a temp path to
#                            check a committed lock: tools/lock.sh /tmp/l && diff -u requirements.lock /tmp/l
#
# Target: Linux x86_64 (manylinux_2_28), CPython 3.11, resolved from PyPI only, with
# sha256 hashes for every distribution. uv resolves for that target from any host, so
# torch==2.13.0 is the PyPI build (CUDA, with its nvidia-*/cuda-*/triton deps), which is
# what the container installs. CPU machines install from the same lock with
# tools/setup-env.sh (CPU torch of the same version, CUDA-only packages skipped).
#
# LOCK_EXCLUDE_NEWER freezes the resolution to what PyPI had at that instant, so the
# same inputs give the same lock later too; move it forward on purpose when upgrading.
set -euo pipefail

cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
OUT="${1:-requirements.lock}"
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
trap 'rm -f "$tmp" "$tmp.body"' EXIT
# Start from the current lock so uv keeps its pins as preferences (like pip-compile).
if [[ -f "$OUT" ]]; then cp "$OUT" "$tmp.body"; fi

"$UV" "${CMD[@]:1:${#CMD[@]}-3}" -o "$tmp.body"

{
    echo "# requirements.lock: exact pins + sha256 hashes for the UNDO kit. Do not edit by hand."
    echo "# Regenerate with 'make lock' (tools/lock.sh), which runs, from the repo root:"
    printf '#   '
    for a in "${CMD[@]}"; do
        if [[ "$a" == *" "* ]]; then printf '"%s" ' "$a"; else printf '%s ' "$a"; fi
    done | sed 's/ $//'
    echo
    echo "# Target: Linux x86_64 (manylinux_2_28), CPython 3.11, PyPI only. torch is PyPI's CUDA"
    echo "# build with its nvidia-*/cuda-*/triton deps (the container installs all of it with"
    echo "# 'pip install --require-hashes --no-deps -r requirements.lock'). CPU-only machines use"
    echo "# tools/setup-env.sh: CPU torch of the same version, every other non-CUDA line hash-checked."
    echo "#"
    cat "$tmp.body"
} >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$OUT"
echo "lock.sh: wrote $OUT ($(grep -c '^[A-Za-z0-9]' "$OUT") packages)"
