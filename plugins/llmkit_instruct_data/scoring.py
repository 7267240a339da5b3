"""Reading a judge's score out of its answer.

The judge is asked to end with a line "Score: N". The score is read from the answer's last
non-blank line only (after NFKC, so full-width digits count): that line must hold exactly one
number, once a denominator ("/10", "out of 10", "out of ten") is set aside, and it must lie in
0..10. A line without digits may give the score as one English number word after "Score:" or
"Rating:" ("Score: eight"). Anything else (no number, two numbers such as "7 or 8", a number out
of range) is no score: -1, the value the released datasets use for a failed judgement.
"""

from __future__ import annotations

import re
import unicodedata

NO_SCORE = -1.0
MAX_SCORE = 10.0
_DENOMINATOR = re.compile(r"\s*(?:/|\bout\s+of\b)\s*(?:10(?:\.0+)?|ten)\b", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_WORDS = {word: float(value) for value, word in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])}
_WORD_SCORE = re.compile(r"^\W*(?:final\s+)?(?:score|rating)\W*([a-z]+)\W*$", re.IGNORECASE)


def parse_score(answer: str) -> float:
    """The 0-10 score in the answer's final line, else -1."""
    lines = [line for line in answer.splitlines() if line.strip()]
    if not lines:
        return NO_SCORE
    line = _DENOMINATOR.sub(" ", unicodedata.normalize("NFKC", lines[-1]))
    numbers = _NUMBER.findall(line)
    if len(numbers) == 1:
        value = float(numbers[0])
        return value if 0.0 <= value <= MAX_SCORE else NO_SCORE
    if numbers:
        return NO_SCORE  # two numbers: which one is the score is a guess
    named = _WORD_SCORE.match(line)
    if named is not None and named.group(1).casefold() in _WORDS:
        return _WORDS[named.group(1).casefold()]
    return NO_SCORE


def mean_score(scores: list[float]) -> float:
    """The mean of the samples that gave a score (-1 when none did)."""
    valid = [s for s in scores if s >= 0]
    return sum(valid) / len(valid) if valid else NO_SCORE
