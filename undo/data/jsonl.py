"""One line of a local JSONL file, decoded with an error that names the file and line.

Local data the kit reads line by line (the paper's unpublished QA sets and the gated WMDP-Bio corpus as corpus
sources, benchmark items as ``{question, choices, answer}``) share this decoding, so a bad line is reported the same
way whichever reads it: ``file:line: not UTF-8 (byte n)`` or ``file:line: not JSON (reason)``. What a row must
contain is the reader's business.

Usage::

    row = decode_line(b'{"question": "q", "answer": "a"}', "qa.jsonl:3", SourceError)
"""

from __future__ import annotations

import json
from typing import Any


def decode_line(line: bytes, where: str, error: type[Exception]) -> Any:
    """``line`` as a JSON value; raises ``error`` naming ``where`` when it is not UTF-8 or not JSON."""
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not JSON ({exc.msg})") from None
