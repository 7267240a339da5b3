"""find_repetition against a naive scan, and the cases it must tell apart."""

from __future__ import annotations

import random

import pytest

from llmkit import find_repetition


def _naive(units: list[str], min_repeats: float, min_span: int, max_period: int) -> tuple[int, float] | None:
    """Every start and period, by hand: (period, repeats) of the longest qualifying run."""
    best = None
    for period in range(1, min(max_period, len(units) // 2) + 1):
        run = longest = 0
        for i in range(len(units) - period):
            run = run + 1 if units[i] == units[i + period] else 0
            longest = max(longest, run)
        span = longest + period
        if longest and span / period >= min_repeats and span >= min_span:
            if best is None or span > best[0] * best[1]:
                best = (period, span / period)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_naive_scan(seed):
    rng = random.Random(seed)
    words = [rng.choice("a b c d".split()) for _ in range(rng.randrange(10, 200))]
    if seed % 2:  # plant a loop somewhere
        loop = [rng.choice("x y z".split()) for _ in range(rng.randrange(1, 9))]
        at = rng.randrange(len(words))
        words[at:at] = loop * rng.randrange(2, 12)
    found = find_repetition(" ".join(words), min_span=8, max_period=16)
    want = _naive(words, 3.0, 8, 16)
    assert (found.period, found.repeats) == want if found else want is None


def test_words_and_lines():
    loop = "The answer is 42. " * 12
    assert find_repetition(loop).describe() == "a 4-word passage repeated 12.0 times"
    table = "TABLE = [" + ", ".join(["0"] * 300) + "]\n\ndef lookup(i):\n    return TABLE[i]\n"
    assert find_repetition(table) is not None  # by words, a literal table looks like a loop
    assert find_repetition(table, unit="line") is None  # by lines it is one line
    block = "def f():\n    return 1\n\n" * 6  # a function written out six times: 12 non-blank lines
    found = find_repetition(block, unit="line")
    assert (found.period, found.repeats, found.unit) == (2, 6.0, "line")
    assert find_repetition("x = 1\ny = 2\n" * 5, unit="line") is None  # 10 lines: under the 12-line floor
