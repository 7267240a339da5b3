"""The ``check`` step: read bytes from a field (hex, base64 or text) and add the ``utf8`` field."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import llmkit
from llmkit import Reject

from llmkit_utf8.paper_scores import paper_scores
from llmkit_utf8.validate import check_bytes

ENCODINGS = ("hex", "base64", "text")
_PAPER_VALID = {"V_binary_soft": 1.0, "V_partial": 1.0}


def field_bytes(record: dict[str, Any], field: str, encoding: str) -> bytes | Reject:
    """The bytes a field holds in ``encoding``; a reject naming the field when it cannot be read."""
    value = llmkit.get_text_field(record, field)
    if isinstance(value, Reject):
        return value
    if encoding == "text":
        # a lone surrogate (only possible from non-JSON inputs) becomes its 3 bytes: a surrogate error
        return value.encode("utf-8", "surrogatepass")
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        return Reject(f"bad_{encoding}", f"field {field!r} is not valid {encoding}: {exc}")


class CheckStep(llmkit.RecordStep):
    name = "utf8-check"
    batch_size = 1024

    def __init__(self, field: str = "bytes", encoding: str = "hex", max_errors: int | None = 100, paper: bool = False) -> None:
        if encoding not in ENCODINGS:
            raise llmkit.UsageError(f"--encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
        self.field, self.encoding, self.max_errors = field, encoding, max_errors
        #: also add the paper's V_binary_strict / V_binary_soft / V_partial (its DFA's definitions)
        self.paper = paper

    def process_record(self, record: dict[str, Any]) -> llmkit.Outcome:
        data = llmkit.existing_field(record, "utf8", earlier=dict) or field_bytes(record, self.field, self.encoding)
        if isinstance(data, Reject):
            return data
        check = check_bytes(data)
        found = check.as_dict(self.max_errors)
        if self.paper:  # well-formed bytes score 1.0 in the paper too: no second pass for them
            found.update(_PAPER_VALID if check.valid else paper_scores(data).as_dict())
        return {**record, "utf8": found}
