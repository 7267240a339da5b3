"""The closing summary of a run: counters that add up across shards, printed on stderr.

``in`` counts what this run took from its inputs (after ``--shard``, ``--resume`` and
``--limit``), so ``in`` = ``out`` + ``rejected`` for a step that writes or rejects each record;
what it left to other shards or found already done is said apart, and the parts of N shards add
up to the input.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def most_first(counts: Counter) -> list[tuple[Any, int]]:
    """Counts from the largest down, ties by name: the same order however the shards' counts
    arrived (``Counter.most_common`` keeps ties in insertion order, which differs between runs)."""
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def by_stage(counts: Counter) -> dict[str, dict[str, int]]:
    """Counts by (stage, reason) as {stage: {reason: count}}, most first (see :func:`most_first`)."""
    nested: dict[str, dict[str, int]] = {}
    for (stage, reason), count in most_first(counts):
        nested.setdefault(stage, {})[reason] = count
    return nested


@dataclass
class Summary:
    read: int = 0  # records taken from the inputs, and bad lines rejected (--on-error skip)
    written: int = 0  # records written to the output
    rejected: Counter = field(default_factory=Counter)  # by reason, invalid lines included
    #: the same rejects by (stage, reason): the stage a reject record names ("input" for a bad line)
    rejected_by_stage: Counter = field(default_factory=Counter)
    invalid: int = 0  # lines that were not JSON objects
    skipped: int = 0  # records and bad lines already done by an earlier run (--resume)
    other_shards: int = 0  # records and bad lines that belong to another shard (--shard)
    resumed: int = 0  # ids (and bad lines) found in the output and rejects when resuming
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    #: seconds from the start to the first record written (None until one is)
    first_out: float | None = None

    def count_reject(self, reason: str, stage: str | None = None) -> None:
        self.rejected[reason] += 1
        self.rejected_by_stage[(stage or "unnamed", reason)] += 1

    def stages(self) -> dict[str, dict[str, int]]:
        """The rejects by stage, then reason (most first)."""
        return by_stage(self.rejected_by_stage)

    def note_output(self) -> None:
        """Called after each batch is written: keeps the time the first record went out."""
        if self.first_out is None and self.written:
            self.first_out = time.monotonic() - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "in": self.read,
            "out": self.written,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(most_first(self.rejected)),
            "invalid_lines": self.invalid,
            "skipped_resume": self.skipped,
            "other_shards": self.other_shards,
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        parts = [f"in {self.read}", f"out {self.written}"]
        total = sum(self.rejected.values())
        reasons = ", ".join(f"{reason} {count}" for reason, count in most_first(self.rejected))
        parts.append(f"rejected {total}" + (f" ({reasons})" if reasons else ""))
        if self.invalid:
            parts.append(f"invalid lines {self.invalid}")
        if self.skipped:
            parts.append(f"skipped (already done) {self.skipped}")
        if self.other_shards:
            parts.append(f"left to other shards {self.other_shards}")
        parts.append(f"{self.seconds:.1f} s ({rate:,.0f} records/s)" if rate >= 10 else f"{self.seconds:.1f} s ({rate:.2g} records/s)")
        return "llmkit: " + ", ".join(parts)

    def print(self) -> None:
        try:
            print(self.line(), file=sys.stderr, flush=True)
        except (OSError, ValueError):  # stderr closed: the summary is not worth an error of its own
            pass
