"""The ``summary`` step: stored head records in, one summary record per model out (recomputed)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import llmkit
from llmkit_ret_heads.organisation import summarise

#: fields a stored summary record carries over to the recomputed one (they describe the run)
_RUN_FIELDS = ("kv_heads", "trials_run", "trials_counted", "mean_recall", "lengths", "depths")


class SummaryStep(llmkit.Step):
    name = "summary"
    aggregate = True

    def __init__(self, threshold: float | None, plot: Path | None = None, show_table: bool = True) -> None:
        self.threshold = threshold
        self.plot = plot
        self.show_table = show_table
        self.heads: dict[str, list[dict[str, Any]]] = {}
        self.stored: dict[str, dict[str, Any]] = {}

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        return [self._take(record) for record in records]

    def _take(self, record: llmkit.Record) -> llmkit.Outcome:
        model = record.get("model")
        if not isinstance(model, str):
            return llmkit.Reject("missing_field", "a head record needs a string 'model'")
        if record.get("type") == "summary":
            self.stored[model] = record
            return None
        layer, head, score = record.get("layer"), record.get("head"), record.get("score")
        if not (isinstance(layer, int) and isinstance(head, int) and layer >= 0 and head >= 0):
            return llmkit.Reject("missing_field", "a head record needs non-negative integers 'layer' and 'head'")
        if not isinstance(score, (int, float)) or isinstance(score, bool) or score < 0:
            return llmkit.Reject("missing_field", "a head record needs a non-negative number 'score'")
        self.heads.setdefault(model, []).append({"layer": layer, "head": head, "score": float(score), "model": model})
        return None

    def finish(self) -> Iterable[llmkit.Record]:
        summaries = []
        for model, heads in self.heads.items():
            stored = self.stored.get(model, {})
            threshold = self.threshold if self.threshold is not None else float(stored.get("threshold", 0.1))
            extra = {key: stored[key] for key in _RUN_FIELDS if key in stored}
            summaries.append(summarise(model, heads, threshold, **extra))
            if self.plot is not None:
                from llmkit_ret_heads.report import plot_heatmap

                plot_heatmap(heads, self.plot)
        if self.show_table and summaries:
            from llmkit_ret_heads.report import print_summaries

            print_summaries(summaries)
        return summaries
