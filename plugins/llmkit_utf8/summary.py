"""Aggregate generate / next-byte outputs: validity by tier, byte length, k and step."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import llmkit
from llmkit import Reject

_TIER_ORDER: dict[str | None, int] = {"common": 0, "uncommon": 1, "rare": 2, "unseen": 3}


class _Mean:
    """n items and the mean of each metric over the items where it applies (a None value does not
    count in its denominator); a metric that never applied is None."""

    __slots__ = ("n", "sums", "counts")

    def __init__(self) -> None:
        self.n = 0
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, values: dict[str, float | None]) -> None:
        self.n += 1
        for name, value in values.items():
            self.sums[name] += 0.0 if value is None else float(value)
            self.counts[name] += value is not None

    def row(self) -> dict[str, Any]:
        means = {name: round(total / self.counts[name], 6) if self.counts[name] else None for name, total in self.sums.items()}
        return {"n": self.n, **means}


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((_TIER_ORDER.get(k, 9), str(k)) if isinstance(k, str) or k is None else (0, k) for k in key)


class SummaryStep(llmkit.Step):
    """Consumes every record; ``finish`` yields one JSON row per group (fields documented in the README)."""

    name = "utf8-summary"
    aggregate = True
    batch_size = 1024

    def __init__(self, tier_field: str = "tier") -> None:
        self.tier_field = tier_field
        self.generate: dict[tuple[Any, ...], _Mean] = defaultdict(_Mean)
        self.generate_final: dict[tuple[Any, ...], _Mean] = defaultdict(_Mean)
        self.next_byte: dict[tuple[Any, ...], _Mean] = defaultdict(_Mean)
        self.next_byte_tier: dict[tuple[Any, ...], _Mean] = defaultdict(_Mean)

    def process(self, records: list[dict[str, Any]]) -> list[llmkit.Outcome]:
        outcomes: list[llmkit.Outcome] = []
        for record in records:
            tier = record.get(self.tier_field)
            tier = str(tier) if tier is not None else "none"
            if isinstance(record.get("utf8_generate"), dict):
                self._add_generate(tier, record["utf8_generate"])
            elif isinstance(record.get("utf8_next_byte"), dict):
                self._add_next_byte(tier, record["utf8_next_byte"])
            else:
                outcomes.append(Reject("missing_field", "no utf8_generate or utf8_next_byte field"))
                continue
            outcomes.append(None)
        return outcomes

    def _add_generate(self, tier: str, found: dict[str, Any]) -> None:
        protocol, length = found.get("protocol"), found.get("byte_length")
        done = "completed" if protocol == "context-free" else "term_match"
        for run in found.get("runs", []):
            # `completed` does not apply at k = L (null there; also for outputs of older versions)
            applies = run.get(done) is not None and not (protocol == "context-free" and length is not None and run["k"] >= length)
            steps = len(run["valid"])
            # the paper's own scores, where generate --compat official wrote them
            scores = [name for name in ("valid", "soft", "partial", "V_binary_soft", "V_partial") if name in run]
            for s in range(steps):
                values = {name: run[name][s] for name in scores}
                values[done] = run[done][s] if applies else None
                self.generate[(protocol, tier, length, run["k"], s + 1)].add(values)
            final = {name: run[name][-1] for name in scores}
            final[done] = run[done][-1] if applies else None
            self.generate_final[(protocol, tier)].add(final)

    def _add_next_byte(self, tier: str, found: dict[str, Any]) -> None:
        for position in found.get("positions", []):
            values = {"valid_mass": position["valid_mass"], "match_mass": position["match_mass"]}
            self.next_byte[(tier, position["char_bytes"], position["k"])].add(values)
            self.next_byte_tier[(tier,)].add(values)

    def finish(self) -> Iterable[dict[str, Any]]:
        for (protocol, tier), mean in sorted(self.generate_final.items(), key=lambda kv: _sort_key(kv[0])):
            yield {"summary": "generate", "protocol": protocol, "tier": tier, "byte_length": None, "k": None, "step": "final", **mean.row()}
        for (protocol, tier, length, k, step), mean in sorted(self.generate.items(), key=lambda kv: _sort_key(kv[0])):
            yield {"summary": "generate", "protocol": protocol, "tier": tier, "byte_length": length, "k": k, "step": step, **mean.row()}
        for (tier,), mean in sorted(self.next_byte_tier.items(), key=lambda kv: _sort_key(kv[0])):
            yield {"summary": "next-byte", "tier": tier, "byte_length": None, "k": None, **mean.row()}
        for (tier, length, k), mean in sorted(self.next_byte.items(), key=lambda kv: _sort_key(kv[0])):
            yield {"summary": "next-byte", "tier": tier, "byte_length": length, "k": k, **mean.row()}

    def print_tables(self) -> None:
        """Rich tables on stderr: per tier at each run's last step, then by byte length and k."""
        from rich.console import Console
        from rich.table import Table

        console = Console(stderr=True)
        last: dict[tuple[Any, ...], tuple[int, _Mean]] = {}
        for (protocol, tier, length, k, step), mean in self.generate.items():
            if step >= last.get((protocol, tier, length, k), (0, None))[0]:
                last[(protocol, tier, length, k)] = (step, mean)
        generate_rows = [(key, mean) for key, mean in self.generate_final.items()]
        generate_rows += [((p, t, n, k), mean) for (p, t, n, k), (_, mean) in last.items()]
        tables = [
            ("utf8-eval generate (last step of each run)", ("protocol", "tier", "byte_length", "k"), generate_rows),
            ("utf8-eval next-byte", ("tier", "byte_length", "k"), list(self.next_byte_tier.items()) + list(self.next_byte.items())),
        ]
        for title, columns, rows in tables:
            if not rows:
                continue
            rows.sort(key=lambda kv: (len(kv[0]),) + _sort_key(kv[0]))
            metrics = list(rows[0][1].row())
            table = Table(title=title)
            for column in (*columns, *metrics):
                table.add_column(column, justify="left" if column in ("protocol", "tier") else "right")
            for key, mean in rows:
                keys = ["all" if c is None else str(c) for c in list(key) + [None] * (len(columns) - len(key))]
                values = ["n/a" if c is None else f"{c:.3f}" if isinstance(c, float) else str(c) for c in mean.row().values()]
                table.add_row(*keys, *values)
            console.print(table)
