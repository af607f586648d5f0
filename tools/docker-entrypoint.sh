#!/bin/sh
# Entrypoint of the undo-kit image (see Dockerfile). `docker run --user UID:GID` with a uid that
# has no home directory leaves HOME=/ (not writable), where matplotlib, torch and triton caches
# would fail; point HOME at a writable directory then, and run the command unchanged.
set -eu
if [ ! -w "${HOME:-/}" ]; then
    HOME=/tmp/undo-home
    export HOME
    mkdir -p "$HOME"
fi
exec "$@"
