"""Character frequency tiers of a corpus, and the candidate characters it never contains.

Default cut-offs are frequencies per million characters of the corpus: ``common`` at or above
``common_ppm`` (100, i.e. one in ten thousand characters), ``uncommon`` at or above
``uncommon_ppm`` (1), ``rare`` below that but seen. With quantiles (q1, q2), the distinct characters
sorted by count are cut at the ranks q1 and q2 of their number; characters tied with the first
one past a cut go to the lower tier. ``unseen``: candidates with count 0.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import llmkit
from llmkit import Reject

TIERS = ("common", "uncommon", "rare", "unseen")
_RANGE = re.compile(r"^U\+([0-9A-Fa-f]{1,6})(?:-U\+([0-9A-Fa-f]{1,6}))?$")


def parse_candidates(specs: list[str]) -> list[str]:
    """Characters from ranges like ``U+4E00-U+9FFF`` / ``U+3042`` or from text files (every
    non-whitespace character in the file). Surrogates cannot be written in UTF-8 and are skipped."""
    found: dict[str, None] = {}
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            match = _RANGE.match(part)
            if match:
                first = int(match.group(1), 16)
                last = int(match.group(2) or match.group(1), 16)
                if first > last or last > 0x10FFFF:
                    raise llmkit.UsageError(f"--candidates {part}: need U+LOW-U+HIGH with LOW <= HIGH <= U+10FFFF")
                found.update((chr(c), None) for c in range(first, last + 1) if not 0xD800 <= c <= 0xDFFF)
                continue
            path = Path(part)
            if not path.is_file():
                raise llmkit.UsageError(f"--candidates {part!r} is neither a Unicode range (U+4E00-U+9FFF) nor a file")
            text = path.read_text(encoding="utf-8")
            found.update((c, None) for c in text if not c.isspace())
    return list(found)


def parse_quantiles(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        q1, q2 = (float(x) for x in value.split(","))
    except ValueError:
        raise llmkit.UsageError(f"--quantiles must be two numbers like 0.5,0.9, got {value!r}") from None
    if not 0 < q1 < q2 <= 1:
        raise llmkit.UsageError("--quantiles Q1,Q2 needs 0 < Q1 < Q2 <= 1")
    return q1, q2


def assign_tiers(
    counts: Counter[str], common_ppm: float = 100.0, uncommon_ppm: float = 1.0, quantiles: tuple[float, float] | None = None
) -> dict[str, str]:
    """Tier of each seen character (see the module docstring for the rules)."""
    ranked = sorted(counts, key=lambda c: (-counts[c], ord(c)))
    if quantiles is None:
        total = sum(counts.values())
        tiers = {}
        for char in ranked:
            ppm = counts[char] * 1e6 / total
            tiers[char] = "common" if ppm >= common_ppm else "uncommon" if ppm >= uncommon_ppm else "rare"
        return tiers
    # the count of the first character past each cut: only counts above it stay in the higher
    # tier, so a run of equal counts (the long tail of hapaxes) is never split between tiers
    cut_counts = []
    for q in quantiles:
        rank = round(q * len(ranked))
        cut_counts.append(counts[ranked[rank]] if rank < len(ranked) else 0)
    return {c: "common" if counts[c] > cut_counts[0] else "uncommon" if counts[c] > cut_counts[1] else "rare" for c in ranked}


class CharTiersStep(llmkit.Step):
    name = "utf8-char-tiers"
    aggregate = True
    batch_size = 1024

    def __init__(
        self,
        field: str = "text",
        candidates: list[str] | None = None,
        common_ppm: float = 100.0,
        uncommon_ppm: float = 1.0,
        quantiles: tuple[float, float] | None = None,
        per_tier: int | None = None,
        seed: int = 0,
    ) -> None:
        if not uncommon_ppm <= common_ppm:
            raise llmkit.UsageError("--uncommon-ppm must not exceed --common-ppm")
        self.field, self.candidates = field, candidates or []
        self.common_ppm, self.uncommon_ppm, self.quantiles = common_ppm, uncommon_ppm, quantiles
        self.per_tier, self.seed = per_tier, seed
        self.counts: Counter[str] = Counter()

    def process(self, records: list[dict[str, Any]]) -> list[llmkit.Outcome]:
        outcomes: list[llmkit.Outcome] = []
        for record in records:
            text = llmkit.get_text_field(record, self.field)
            if isinstance(text, Reject):
                outcomes.append(text)
                continue
            self.counts.update(text)
            outcomes.append(None)
        return outcomes

    def finish(self) -> Iterable[dict[str, Any]]:
        total = sum(self.counts.values())
        tiers = assign_tiers(self.counts, self.common_ppm, self.uncommon_ppm, self.quantiles)
        by_tier: dict[str, list[str]] = {t: [] for t in TIERS}
        for char in sorted(self.counts, key=lambda c: (-self.counts[c], ord(c))):
            by_tier[tiers[char]].append(char)
        by_tier["unseen"] = [c for c in self.candidates if c not in self.counts]
        rng = random.Random(self.seed)
        for tier in TIERS:
            chars = by_tier[tier]
            if self.per_tier is not None and len(chars) > self.per_tier:
                keep = set(rng.sample(range(len(chars)), self.per_tier))
                chars = [c for i, c in enumerate(chars) if i in keep]
            for char in chars:
                count = self.counts.get(char, 0)
                yield {
                    "char": char,
                    "codepoint": f"U+{ord(char):04X}",
                    "tier": tier,
                    "count": count,
                    "ppm": round(count * 1e6 / total, 4) if total else 0.0,
                    "byte_length": len(char.encode("utf-8", "surrogatepass")),
                }
