"""The UTF-8 validator: strict validity, error spans, and the soft / partial scores.

Decode first: a byte string that decodes strictly is valid with no error spans, so valid input
(almost all of it in practice) costs one C-speed ``bytes.decode`` and returns one shared, immutable
result. Only input that fails is decoded once more, with an error handler that records each span
the codec reports; CPython's UTF-8 decoder reports exactly the Unicode Standard's maximal subparts
(the spans that ``errors="replace"`` turns into one U+FFFD each), so the spans come from the C
decoder too and only the errors themselves cost Python time.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Error kinds, in the order the README documents them.
KINDS = (
    "unexpected_continuation",
    "invalid_lead",
    "overlong",
    "surrogate",
    "above_max",
    "interrupted",
    "truncated",
)

_HANDLER = "llmkit-utf8-spans"
_spans = threading.local()


def _record_span(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _spans.found.append((exc.start, exc.end))
    return "\ufffd", exc.end


codecs.register_error(_HANDLER, _record_span)


@dataclass(frozen=True, slots=True)
class Utf8Error:
    offset: int
    length: int
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"offset": self.offset, "length": self.length, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Utf8Check:
    """What :func:`check_bytes` finds in one byte string (immutable: valid inputs share one)."""

    valid: bool
    soft: float
    partial: float
    errors: tuple[Utf8Error, ...] = ()

    def as_dict(self, max_errors: int | None = None) -> dict[str, Any]:
        shown = self.errors if max_errors is None else self.errors[:max_errors]
        return {
            "valid": self.valid,
            "soft": self.soft,
            "partial": self.partial,
            "errors": [e.as_dict() for e in shown],
            "error_count": len(self.errors),
        }


def sequence_length(lead: int) -> int:
    """Bytes a character starting with ``lead`` takes (0 for a byte that cannot start one)."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def second_byte_range(lead: int) -> tuple[int, int]:
    """The bytes allowed right after ``lead`` (Unicode Table 3-7, well-formed sequences)."""
    return {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}.get(lead, (0x80, 0xBF))


def error_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each maximal subpart that Python's decoder replaces with U+FFFD."""
    _spans.found = []
    try:
        data.decode("utf-8", _HANDLER)
        return _spans.found
    finally:
        _spans.found = []


def classify(data: bytes, start: int, end: int) -> str:
    """The kind of the error span ``data[start:end]``, from its bytes and the byte after it."""
    lead = data[start]
    if 0x80 <= lead <= 0xBF:
        return "unexpected_continuation"
    if sequence_length(lead) == 0:
        return "invalid_lead"
    if end == len(data):
        return "truncated"
    if end - start == 1:  # a lead whose second byte broke a range rule, or is no continuation
        low, high = second_byte_range(lead)
        following = data[end]
        if 0x80 <= following <= 0xBF and not low <= following <= high:
            if lead in (0xE0, 0xF0):
                return "overlong"
            return "surrogate" if lead == 0xED else "above_max"
    return "interrupted"


#: The result for every valid input: building none per record keeps the check at the decoder's speed.
VALID = Utf8Check(True, 1.0, 1.0)


def check_bytes(data: bytes) -> Utf8Check:
    """Strict validity, the error spans with their kinds, and the soft and partial scores."""
    try:
        data.decode("utf-8")
        return VALID
    except UnicodeDecodeError:
        pass
    errors = tuple(Utf8Error(s, e - s, classify(data, s, e)) for s, e in error_spans(data))
    total = len(data)
    bad = sum(e.length for e in errors)
    soft = (total - bad) / total
    partial = soft
    last = errors[-1]
    if last.kind == "truncated":
        # the trailing sequence is a valid prefix: credit its present / expected bytes
        expected = sequence_length(data[last.offset])
        partial += (last.length / expected) * (last.length / total)
    return Utf8Check(False, soft, partial, errors)


def replace_with_spans(data: bytes, spans: Sequence[Utf8Error]) -> str:
    """Rebuild ``errors="replace"`` output from the spans (the tests' cross-check)."""
    pieces, position = [], 0
    for error in spans:
        pieces.append(data[position : error.offset].decode("utf-8"))
        pieces.append("\ufffd")
        position = error.offset + error.length
    pieces.append(data[position:].decode("utf-8"))
    return "".join(pieces)


def incomplete_tail(data: bytes) -> bytes:
    """The last bytes when they are a lead byte plus fewer continuation bytes than it needs
    (b"" otherwise). Says nothing about whether those bytes obey the second-byte ranges."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if not 0x80 <= byte <= 0xBF:
            return data[-back:] if sequence_length(byte) > back else b""
    return b""


def is_valid_prefix(data: bytes) -> bool:
    """True when ``data`` is well-formed, or well-formed up to an unfinished last character
    whose bytes so far some continuation can complete (Python's incremental decoder defers the
    second-byte check, so the tail is checked here)."""
    tail = incomplete_tail(data)
    try:
        data[: len(data) - len(tail)].decode("utf-8")
    except UnicodeDecodeError:
        return False
    if len(tail) >= 2:
        low, high = second_byte_range(tail[0])
        return low <= tail[1] <= high
    return True
