"""Template instructions: many near-duplicates that share a fixed prefix with slots changed.

LMSYS-Chat-1M holds thousands of prompts such as "Give me an introduction over 200 words for
<company>, a chemical company in <place>", sent by scripts with the slots filled in. The rule:
an instruction belongs to the group keyed by its first ``prefix_words`` words (casefolded normal
form) and its length class (the bit length of its word count: 8-15 words, 16-31, ...), so that the
group holds texts that share the fixed opening and are of about the same size; one that shares
only a common opening ("write a python program that ...") with texts of other sizes falls in
another group. An instruction is ``template`` once its group has seen ``min_count`` distinct
instructions (exact duplicates are not counted again): the ``min_count``-th and every later one.

Streaming means the first ``min_count - 1`` members of each group are seen before the group is
known to be a template, and pass unflagged. The counts depend only on which instructions were
seen, not on their order, so ``--resume`` rebuilds them exactly from what was written.
"""

from __future__ import annotations

from hashlib import blake2b


class TemplateCounter:
    """Distinct instructions seen per (prefix, length class) group; memory: one small entry per group."""

    def __init__(self, prefix_words: int = 8, min_count: int = 20) -> None:
        self.prefix_words = prefix_words
        self.min_count = min_count
        self.counts: dict[bytes, int] = {}

    def key(self, normal: str) -> tuple[bytes, str] | None:
        """The group of a normal form and its shared prefix; None when the text has no slot
        after ``prefix_words`` words (a template fills something in after its fixed opening)."""
        words = normal.split(" ")
        if len(words) <= self.prefix_words:
            return None
        prefix = " ".join(words[: self.prefix_words]).casefold()
        group = f"{len(words).bit_length()}\x00{prefix}"
        return blake2b(group.encode("utf-8", "surrogatepass"), digest_size=8).digest(), prefix

    def add(self, key: bytes) -> int:
        """Count one more distinct member of the group; the count now."""
        count = self.counts.get(key, 0) + 1
        self.counts[key] = count
        return count
