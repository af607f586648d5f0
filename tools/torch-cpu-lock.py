#!/usr/bin/env python3
"""Write requirements-torch-cpu.lock: torch's CPU build, pinned with its wheels' sha256 (tools/lock.sh).

    torch-cpu-lock.py VERSION [--index URL] [-o OUT]

Reads PyTorch's CPU index page for torch (``URL/torch/``, a PEP 503 simple page whose links
carry ``#sha256=`` fragments) and pins ``torch==VERSION+cpu`` with the digests of its x86_64
Linux wheels for CPython 3.11, 3.12 and 3.13, the interpreters requirements.lock serves.
A missing wheel or digest is an error: tools/setup-env.sh installs this file with
``--require-hashes``, so every interpreter it accepts needs its wheel's digest here.
Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_INDEX = "https://download.pytorch.org/whl/cpu"
PYTHONS = ("311", "312", "313")
_LINK = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_DIGEST = re.compile(r"sha256=([0-9a-f]{64})$")

HEADER = """\
# requirements-torch-cpu.lock: the CPU build of requirements.lock's torch, for machines without an
# NVIDIA GPU (tools/setup-env.sh installs it with --require-hashes from {index}).
# Do not edit by hand: 'make lock' (tools/lock.sh) writes it with tools/torch-cpu-lock.py from the
# sha256 fragments that PyTorch's CPU index publishes for the x86_64 Linux wheels of CPython 3.11-3.13.
"""


def wheel_digests(page: str, version: str) -> dict[str, str]:
    """{python tag (311, ...): sha256} of the ``torch-VERSION+cpu`` x86_64 Linux wheels linked from ``page``."""
    found: dict[str, str] = {}
    for href in _LINK.findall(page):
        url, _, fragment = href.partition("#")
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        m = re.fullmatch(
            rf"torch-{re.escape(version)}\+cpu-cp(3\d+)-cp\1-(?:manylinux|linux)[0-9a-z_]*x86_64\.whl", name
        )
        digest = _DIGEST.search(fragment)
        if m and digest and m.group(1) in PYTHONS:
            found[m.group(1)] = digest.group(1)
    return found


def render(version: str, digests: dict[str, str], index: str) -> str:
    lines = [HEADER.format(index=index).rstrip("\n"), f"torch=={version}+cpu \\"]
    lines += [
        f"    --hash=sha256:{digests[py]}" + (" \\" if i < len(PYTHONS) - 1 else "") for i, py in enumerate(PYTHONS)
    ]
    lines += [f"    # torch-{version}+cpu-cp{py}-cp{py}-manylinux_2_28_x86_64.whl" for py in PYTHONS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version", help="torch's version in requirements.lock, e.g. 2.13.0")
    ap.add_argument("--index", default=DEFAULT_INDEX, help=f"PyTorch CPU index (default {DEFAULT_INDEX})")
    ap.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = ap.parse_args(argv)

    url = args.index.rstrip("/") + "/torch/"
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            page = resp.read().decode("utf-8", "replace")
    except OSError as e:
        print(f"torch-cpu-lock: cannot read {url}: {e}", file=sys.stderr)
        return 1
    digests = wheel_digests(page, args.version)
    missing = [f"cp{py}" for py in PYTHONS if py not in digests]
    if missing:
        print(
            f"torch-cpu-lock: {url} lists no x86_64 Linux wheel with a sha256 for torch=={args.version}+cpu "
            f"on {', '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    text = render(args.version, digests, DEFAULT_INDEX)
    if args.output:
        tmp = args.output.with_name(args.output.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.output)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
