"""The ``summary`` step: stored head records in, one summary record per model out (recomputed)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeGuard

import llmkit
from llmkit_ret_heads.organisation import summarise

#: fields a stored summary record carries over to the recomputed one (they describe the run)
_RUN_FIELDS = ("kv_heads", "trials_run", "trials_counted", "mean_recall", "lengths", "depths")


class SummaryStep(llmkit.Step):
    name = "summary"
    aggregate = True

    def __init__(self, threshold: float | None, plot: llmkit.SideOutput | None = None, show_table: bool = True) -> None:
        self.threshold = threshold
        #: ``--plot``, claimed by the command (llmkit.SideOutputs)
        self.plot = plot
        self.show_table = show_table
        self.heads: dict[str, list[dict[str, Any]]] = {}
        self.stored: dict[str, dict[str, Any]] = {}
        #: where each (model, layer, head) and each model's summary was first seen: a second is a reject
        self.seen: dict[tuple[str, int, int] | str, str | None] = {}

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        return [self._take(record) for record in records]

    def _take(self, record: llmkit.Record) -> llmkit.Outcome:
        model = record.get("model")
        if not isinstance(model, str):
            return llmkit.Reject("missing_field", "a head record needs a string 'model'")
        if record.get("type") == "summary":
            threshold = record.get("threshold")
            if "threshold" in record and _finite_non_negative(threshold) is None:
                return llmkit.Reject("bad_threshold", f"a stored summary's 'threshold' must be a non-negative number, got {threshold!r}")
            duplicate = self._seen_before(model, f"model {model!r} has a summary record", llmkit.source_of(record))
            if duplicate is not None:
                return duplicate
            self.stored[model] = record
            return None
        layer, head, score = record.get("layer"), record.get("head"), _finite_non_negative(record.get("score"))
        if not (_index(layer) and _index(head)):
            return llmkit.Reject("missing_field", "a head record needs non-negative integers 'layer' and 'head'")
        if score is None:
            return llmkit.Reject("missing_field", "a head record needs a non-negative number 'score'")
        duplicate = self._seen_before((model, layer, head), f"head ({layer}, {head}) of model {model!r}", llmkit.source_of(record))
        if duplicate is not None:
            return duplicate
        self.heads.setdefault(model, []).append({"layer": layer, "head": head, "score": score, "model": model})
        return None

    def _seen_before(self, key: tuple[str, int, int] | str, what: str, source: str | None) -> llmkit.Reject | None:
        """A ``duplicate`` reject when ``key`` was met before (the same model's heads given twice
        would count every head twice)."""
        if key in self.seen:
            first = self.seen[key]
            return llmkit.Reject("duplicate", f"{what} already at {first or 'an earlier record'}")
        self.seen[key] = source
        return None

    def finish(self) -> Iterable[llmkit.Record]:
        summaries = []
        for model, heads in self.heads.items():
            stored = self.stored.get(model, {})
            kept = _finite_non_negative(stored.get("threshold"))  # checked when the record was taken
            threshold = self.threshold if self.threshold is not None else (kept if kept is not None else 0.1)
            extra = {key: stored[key] for key in _RUN_FIELDS if key in stored}
            summaries.append(summarise(model, heads, threshold, **extra))
            if self.plot is not None:
                from llmkit_ret_heads.report import plot_heatmap

                plot_heatmap(heads, self.plot)
        if self.show_table and summaries:
            from llmkit_ret_heads.report import print_summaries

            print_summaries(summaries)
        return summaries


def _index(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _finite_non_negative(value: Any) -> float | None:
    """``value`` as a float when it is a finite non-negative JSON number (an integer beyond a
    double is not), else None."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
