#!/usr/bin/env python3
"""Filter requirements.lock for a CPU-only machine (used by tools/setup-env.sh).

    filter-lock.py LOCK [-o OUT]         write LOCK minus torch and the CUDA-only packages
    filter-lock.py LOCK --version-of NAME  print the version LOCK pins for NAME

Every kept entry keeps its ``--hash`` lines, so the result installs with
``pip install --require-hashes --no-deps -r OUT``. Dropped: ``torch`` (installed
separately as the CPU wheel of the same version), ``triton`` and every
``nvidia-*`` / ``cuda-*`` distribution (CUDA user-space libraries that only the
PyPI CUDA build of torch needs). Standard library only: it runs before the venv
has anything installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# A requirement entry starts at column 0: "name==version", optionally "; marker", then " \".
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")
DROP_EXACT = frozenset({"torch", "triton"})
DROP_PREFIXES = ("nvidia-", "cuda-")


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_dropped(name: str) -> bool:
    n = normalize(name)
    return n in DROP_EXACT or n.startswith(DROP_PREFIXES)


def parse(text: str) -> list[tuple[str | None, str | None, list[str]]]:
    """Split a lock into blocks: (name, version, lines). Comment/option blocks have name None."""
    blocks: list[tuple[str | None, str | None, list[str]]] = []
    for line in text.splitlines():
        if line[:1].isspace() and blocks:  # continuation: --hash line or "# via" comment
            blocks[-1][2].append(line)
            continue
        m = _ENTRY.match(line)
        if m:
            blocks.append((m.group(1), m.group(2), [line]))
        else:
            blocks.append((None, None, [line]))
    return blocks


def filter_lock(text: str) -> tuple[str, list[str], list[str]]:
    """Return (filtered text, kept names, dropped names)."""
    out: list[str] = []
    kept: list[str] = []
    dropped: list[str] = []
    for name, version, lines in parse(text):
        if name is None:
            # Keep pip options (e.g. --index-url); drop comments and blank lines.
            if lines[0].startswith("-"):
                out.extend(lines)
            continue
        if is_dropped(name):
            dropped.append(f"{normalize(name)}=={version}")
            continue
        kept.append(f"{normalize(name)}=={version}")
        out.extend(ln for ln in lines if not ln.lstrip().startswith("#"))
    return "\n".join(out) + "\n", kept, dropped


def version_of(text: str, name: str) -> str | None:
    for n, v, _ in parse(text):
        if n is not None and normalize(n) == normalize(name):
            return v
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lock", type=Path)
    ap.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    ap.add_argument("--version-of", metavar="NAME", help="print the pinned version of NAME and exit")
    args = ap.parse_args(argv)

    text = args.lock.read_text()
    if args.version_of:
        v = version_of(text, args.version_of)
        if v is None:
            print(f"filter-lock: {args.version_of} is not pinned in {args.lock}", file=sys.stderr)
            return 1
        print(v)
        return 0

    filtered, kept, dropped = filter_lock(text)
    if not kept:
        print(f"filter-lock: no requirement entries found in {args.lock}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(filtered)
    else:
        sys.stdout.write(filtered)
    print(f"filter-lock: kept {len(kept)}, dropped {len(dropped)} (torch/CUDA-only)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
