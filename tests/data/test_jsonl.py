"""undo.data.jsonl: one decoding of a JSONL line, with the error the reader chooses, naming the file and line."""

import pytest

from undo.data.errors import SourceError
from undo.data.jsonl import decode_line
from undo.evals.multiple_choice import ItemsError


@pytest.mark.parametrize("error", [SourceError, ItemsError])
def test_a_bad_line_raises_the_readers_error_naming_where(error):
    assert decode_line('{"q": "à"}'.encode(), "f.jsonl:1", error) == {"q": "à"}
    with pytest.raises(error, match=r"^f\.jsonl:2: not UTF-8 \(byte 7\)$"):
        decode_line(b'{"q": "\xff"}', "f.jsonl:2", error)
    with pytest.raises(error, match=r"^f\.jsonl:3: not JSON \("):
        decode_line(b'{"q": ', "f.jsonl:3", error)
