"""Text checks several subcommands share: degenerate repetition in generated text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: unit -> (default span floor, default max period), in units. A char floor of 64 is about what
#: 24 words say in Japanese or Chinese (one to three characters a word); 128 characters is a
#: sentence or two, as 64 words are in English.
_DEFAULTS = {"word": (24, 64), "line": (12, 64), "char": (64, 128)}

#: ``unit="auto"`` checks characters when at least this share of the non-space characters belong
#: to scripts written without spaces between words (:data:`_UNSPACED_RANGES`).
UNSPACED_SHARE = 0.3

#: Code point ranges of scripts written without spaces: CJK punctuation, kana, CJK ideographs
#: (with extensions and compatibility forms), full/half-width forms, Thai, Lao, Myanmar, Khmer.
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3000, 0x30FF),  # CJK symbols and punctuation, Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width and half-width forms
    (0x20000, 0x3FFFF),  # CJK extensions B onwards
)


@dataclass(frozen=True, slots=True)
class Repetition:
    period: int  # length of the repeated passage, in units (words, lines or characters)
    repeats: float  # how many times it occurs back to back
    start: int  # index of the first unit of the repeated run
    unit: str = "word"

    def describe(self) -> str:
        """E.g. "a 3-word passage repeated 8.0 times", for reject details."""
        return f"a {self.period}-{self.unit} passage repeated {self.repeats:.1f} times"


def find_repetition(
    text: str,
    *,
    unit: Literal["auto", "word", "char", "line"] = "auto",
    min_repeats: float = 3.0,
    min_span: int | None = None,
    max_period: int | None = None,
) -> Repetition | None:
    """The longest back-to-back repetition of a passage, if it marks degenerate output.

    Units are whitespace-separated words, non-blank lines with their edges stripped
    (``unit="line"``), or the text's non-whitespace characters (``unit="char"``: whitespace is
    skipped, so a loop is found however it is spaced, and blanks alone never make one). The
    default, ``"auto"``, is characters when at least 30 % of the non-space characters belong to
    scripts written without spaces (Japanese, Chinese, Thai, ...; :data:`UNSPACED_SHARE`), where
    a looping answer is one long "word", and words otherwise: English and code are checked by
    words exactly as with ``unit="word"``. The returned :class:`Repetition` names the unit used.

    A run where unit i equals unit i + p for consecutive i covers ``run + p`` units, i.e.
    ``(run + p) / p`` copies of a p-unit passage. The text is degenerate when some period p
    (1..``max_period``: default 64 words or lines, 128 characters) repeats at least
    ``min_repeats`` times over at least ``min_span`` units (default 24 words, 12 lines or 64
    characters): a short phrase looping, or a paragraph written out three times, which is how
    sampling from an LLM typically degenerates.

    Lines suit code: a literal table (``[0, 0, 0, ...]``) repeats words legitimately but sits on
    one line, while a model that loops re-emits whole lines or blocks.
    """
    import numpy as np  # here, so that importing llmkit stays light

    if unit == "line":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        ids = _interned(lines, np)
    elif unit in ("word", "char", "auto"):
        chars = _chars(text, np) if unit != "word" else None
        if unit == "auto":
            unit = "char" if _unspaced_share(chars, np) >= UNSPACED_SHARE else "word"
        ids = chars if unit == "char" else _interned(text.split(), np)
    else:
        raise ValueError(f"unit must be auto, word, char or line, not {unit!r}")
    default_floor, default_period = _DEFAULTS[unit]
    span_floor = min_span if min_span is not None else default_floor
    max_period = max_period if max_period is not None else default_period
    if len(ids) < span_floor:
        return None
    best: Repetition | None = None
    best_span = 0
    for period in range(1, min(max_period, len(ids) // 2) + 1):
        equal = ids[period:] == ids[:-period]
        # a qualifying run has span = run + period >= span_floor and >= min_repeats x period
        needed = max(span_floor, min_repeats * period) - period
        count = int(np.count_nonzero(equal))
        if count == 0 or count < needed:
            continue
        # longest run of True in `equal` (the first one when several tie)
        edges = np.flatnonzero(np.diff(equal.view(np.int8), prepend=0, append=0))
        starts, ends = edges[0::2], edges[1::2]
        longest = int(np.argmax(ends - starts))
        span = int(ends[longest] - starts[longest]) + period
        repeats = span / period
        if repeats >= min_repeats and span >= span_floor and span > best_span:
            best, best_span = Repetition(period, repeats, int(starts[longest]), unit), span
    return best


def _chars(text: str, np: Any) -> Any:
    """The text's non-whitespace characters as code points."""
    return np.frombuffer("".join(text.split()).encode("utf-32-le"), dtype=np.uint32)


def _unspaced_share(chars: Any, np: Any) -> float:
    """The share of ``chars`` in :data:`_UNSPACED_RANGES` (0.0 for none at all)."""
    if len(chars) == 0:
        return 0.0
    inside = np.zeros(len(chars), dtype=bool)
    for low, high in _UNSPACED_RANGES:
        inside |= (chars >= low) & (chars <= high)
    return float(np.count_nonzero(inside)) / len(chars)


def _interned(units: list[str], np: Any) -> Any:
    """One integer per distinct unit, so that comparisons are array operations."""
    vocab: dict[str, int] = {}
    return np.fromiter((vocab.setdefault(u, len(vocab)) for u in units), dtype=np.int64, count=len(units))
