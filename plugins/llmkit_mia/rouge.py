"""ROUGE-N recall over whitespace words, as SaMIA uses it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def words_of(text: str) -> list[str]:
    """Whitespace-separated words, case and punctuation kept (SaMIA's reference code does not
    lowercase or strip punctuation: ``"Seoul,"`` and ``"seoul"`` are different words)."""
    return text.split()


def ngram_counts(words: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def rouge_n_recall(candidate: Sequence[str], reference: Sequence[str], n: int = 1) -> float:
    """Clipped n-gram matches divided by the number of reference n-grams.

    Each reference n-gram counts at most as often as it occurs in the candidate (clipping), so
    repeating a word does not raise the score. 0.0 when the candidate or the reference has no
    n-gram (SaMIA's reference code returns 0 for an empty candidate too).
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    reference_ngrams = ngram_counts(reference, n)
    total = sum(reference_ngrams.values())
    if total == 0:
        return 0.0
    matches = reference_ngrams & ngram_counts(candidate, n)
    return sum(matches.values()) / total
