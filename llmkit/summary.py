"""The closing summary of a run: counters that add up across shards, printed on stderr."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Summary:
    read: int = 0  # records parsed from the inputs
    written: int = 0  # records written to the output
    rejected: Counter = field(default_factory=Counter)  # by reason, invalid lines included
    invalid: int = 0  # lines that were not JSON objects
    skipped: int = 0  # already in the output (--resume)
    resumed: int = 0  # ids found in the output when resuming
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    def count_reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "in": self.read,
            "out": self.written,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(self.rejected),
            "invalid_lines": self.invalid,
            "skipped_resume": self.skipped,
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        parts = [f"in {self.read}", f"out {self.written}"]
        total = sum(self.rejected.values())
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.rejected.most_common())
        parts.append(f"rejected {total}" + (f" ({reasons})" if reasons else ""))
        if self.invalid:
            parts.append(f"invalid lines {self.invalid}")
        if self.skipped:
            parts.append(f"skipped (already done) {self.skipped}")
        parts.append(f"{self.seconds:.1f} s ({rate:,.0f} records/s)" if rate >= 10 else f"{self.seconds:.1f} s ({rate:.2g} records/s)")
        return "llmkit: " + ", ".join(parts)

    def print(self) -> None:
        print(self.line(), file=sys.stderr, flush=True)
