"""Text checks several subcommands share: degenerate repetition in generated text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Repetition:
    period_words: int  # length of the repeated passage, in words
    repeats: float  # how many times it occurs back to back
    start_word: int  # index of the first word of the repeated run


def find_repetition(
    text: str, *, min_repeats: float = 3.0, min_span_words: int = 24, max_period: int = 64
) -> Repetition | None:
    """The longest back-to-back repetition of a passage, if it marks degenerate output.

    Words are whitespace-separated. A run where word i equals word i + p for consecutive i covers
    ``run + p`` words, i.e. ``(run + p) / p`` copies of a p-word passage. The text is degenerate
    when some period p (1..``max_period``) repeats at least ``min_repeats`` times over at least
    ``min_span_words`` words: a short phrase looping, or a paragraph written out three times,
    which is how sampling from an LLM typically degenerates. Ordinary code and prose with similar
    lines rarely repeat a 24-word stretch three times exactly.
    """
    words = text.split()
    if len(words) < min_span_words:
        return None
    import numpy as np  # here, so that importing llmkit stays light

    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), dtype=np.int64, count=len(words))
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
        if repeats >= min_repeats and span >= min_span_words:
            if best is None or span > best.period_words * best.repeats:
                best = Repetition(period, repeats, int(starts[longest]))
    return best
