"""Text checks several subcommands share: degenerate repetition in generated text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Repetition:
    period: int  # length of the repeated passage, in units (words or lines)
    repeats: float  # how many times it occurs back to back
    start: int  # index of the first unit of the repeated run
    unit: str = "word"

    def describe(self) -> str:
        """E.g. "a 3-word passage repeated 8.0 times", for reject details."""
        return f"a {self.period}-{self.unit} passage repeated {self.repeats:.1f} times"


def find_repetition(
    text: str,
    *,
    unit: Literal["word", "line"] = "word",
    min_repeats: float = 3.0,
    min_span: int | None = None,
    max_period: int = 64,
) -> Repetition | None:
    """The longest back-to-back repetition of a passage, if it marks degenerate output.

    Units are whitespace-separated words, or (``unit="line"``) non-blank lines with their edges
    stripped. A run where unit i equals unit i + p for consecutive i covers ``run + p`` units,
    i.e. ``(run + p) / p`` copies of a p-unit passage. The text is degenerate when some period p
    (1..``max_period``) repeats at least ``min_repeats`` times over at least ``min_span`` units
    (default 24 words or 12 lines): a short phrase looping, or a paragraph written out three
    times, which is how sampling from an LLM typically degenerates.

    Lines suit code: a literal table (``[0, 0, 0, ...]``) repeats words legitimately but sits on
    one line, while a model that loops re-emits whole lines or blocks.
    """
    if unit == "line":
        units = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        units = text.split()
    span_floor = min_span if min_span is not None else (12 if unit == "line" else 24)
    if len(units) < span_floor:
        return None
    import numpy as np  # here, so that importing llmkit stays light

    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(u, len(vocab)) for u in units), dtype=np.int64, count=len(units))
    best: Repetition | None = None
    for period in range(1, min(max_period, len(ids) // 2) + 1):
        equal = ids[period:] == ids[:-period]
        if not equal.any():
            continue
        # longest run of True in `equal`
        padded = np.concatenate(([0], equal.astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(padded))
        starts, ends = edges[0::2], edges[1::2]
        longest = int(np.argmax(ends - starts))
        span = int(ends[longest] - starts[longest]) + period
        repeats = span / period
        if repeats >= min_repeats and span >= span_floor:
            if best is None or span > best.period * best.repeats:
                best = Repetition(period, repeats, int(starts[longest]), unit)
    return best
