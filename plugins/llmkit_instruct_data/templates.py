"""Template instructions: many near-duplicates that share a fixed prefix with slots changed.

LMSYS-Chat-1M holds thousands of prompts such as "Give me an introduction over 200 words for
<company>, a chemical company in <place>", sent by scripts with the slots filled in. The rule:
texts are near-duplicates of one template when they share their first ``prefix_words`` words
(casefolded normal form) and are of about the same size. Sizes are compared through half-octave
length classes, ``floor(2 * log2(words))``: a text counts the distinct instructions seen with its
opening in its own class and the two next to it (word counts within a factor of about 1.4 to 2).
Texts that share only a common opening ("write a python program that ...") with texts of very
different sizes are not counted together. An instruction is ``template`` once that count reaches
``min_count`` (itself included; exact duplicates are not counted again).

Streaming means the first ``min_count - 1`` members of each template are seen before it is known
to be one, and pass unflagged. The counts depend only on which instructions were seen, not on
their order, so ``--resume`` rebuilds them exactly from what was written.
"""

from __future__ import annotations

import math


class TemplateCounter:
    """Distinct instructions seen per (opening, length class); memory: one entry per pair."""

    def __init__(self, prefix_words: int = 8, min_count: int = 20) -> None:
        self.prefix_words = prefix_words
        self.min_count = min_count
        self.counts: dict[int, int] = {}

    def key(self, normal: str) -> tuple[int, str] | None:
        """The counter key of a normal form (its opening's hash and length class) and the
        opening; None when nothing follows the opening (a template has slots after it)."""
        words = normal.count(" ") + 1
        if words <= self.prefix_words:
            return None
        prefix = " ".join(normal.split(" ", self.prefix_words)[: self.prefix_words]).casefold()
        # the opening's 64-bit hash (per process, like the dedup keys) above 7 bits of length class
        return (hash(prefix) << 7) | int(2 * math.log2(words)), prefix

    def observe(self, normal: str) -> str | None:
        """Count a distinct instruction; its opening when its group is now a template, else None."""
        found = self.key(normal)
        if found is None:
            return None
        return found[1] if self.add(found[0]) >= self.min_count else None

    def add(self, key: int) -> int:
        """Count one more distinct instruction; the count of its class and the two beside it."""
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        return counts.get(key - 1, 0) + counts[key] + counts.get(key + 1, 0)
