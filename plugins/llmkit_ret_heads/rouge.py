"""ROUGE-1 recall, the trial filter: a trial counts when the answer is recalled (>= 0.5)."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lowercased alphanumeric words, as the rouge-score package tokenizes (no stemming here)."""
    return _WORD.findall(text.lower())


def rouge1_recall(response: str, reference: str) -> float:
    """Share of the reference's words (counted with multiplicity) that the response contains."""
    wanted = Counter(words(reference))
    if not wanted:
        return 0.0
    found = Counter(words(response))
    return sum(min(count, found[word]) for word, count in wanted.items()) / sum(wanted.values())
