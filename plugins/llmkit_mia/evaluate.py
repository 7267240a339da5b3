"""The `mia eval` step: reads scored records, writes one metrics record per method at the end."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import llmkit
from llmkit import InputError, Outcome, Record, Reject, Step
from llmkit_mia.score import METHODS

_TRUE = {"1", "true"}
_FALSE = {"0", "false"}


def parse_label(value: Any) -> int | None:
    """1 for member, 0 for non-member; JSON true/false, 0/1 or the strings "0"/"1"/"true"/"false"."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return int(value.strip().lower() in _TRUE)
    return None


class EvalStep(Step):
    name = "mia-eval"
    aggregate = True
    batch_size = 1024

    def __init__(
        self, label_field: str = "label", score_field: str = "mia", show_table: bool = True, compat: str = "llmkit"
    ) -> None:
        from llmkit_mia.config import check_compat

        check_compat(compat)
        self.compat = compat
        self.label_field = label_field
        self.score_field = score_field
        self.show_table = show_table
        self.labels: dict[str, list[int]] = {}
        self.scores: dict[str, list[float]] = {}
        self.reports: list[Any] = []

    def process(self, records: list[Record]) -> list[Outcome]:
        return [self._take(record) for record in records]

    def _take(self, record: Record) -> Outcome:
        scores = record.get(self.score_field)
        if not isinstance(scores, dict):
            return Reject("missing_field", f"no {self.score_field!r} object of scores (run `llmkit mia score` first)")
        label = parse_label(record.get(self.label_field))
        if label is None:
            shown = record.get(self.label_field, "(missing)")
            raise InputError(f"label must be 0/1 or true/false, got {shown!r}", llmkit.source_of(record), self.label_field)
        for method, value in scores.items():
            if value is None:
                continue  # a non-finite score, written as null: left out of this method's metrics
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"score of {method!r} is not a number: {value!r}", llmkit.source_of(record), self.score_field)
            self.scores.setdefault(method, []).append(float(value))
            self.labels.setdefault(method, []).append(label)
        return None

    def finish(self) -> Iterable[Record]:
        from llmkit_mia.metrics import report

        if not self.scores:
            raise InputError(f"no scored records: nothing to evaluate (looked for {self.score_field!r} objects)")
        order = sorted(self.scores, key=lambda m: (METHODS.index(m) if m in METHODS else len(METHODS), m))
        for method in order:
            labels = self.labels[method]
            if len(set(labels)) < 2:
                kind = "members (label 1)" if labels[0] else "non-members (label 0)"
                raise InputError(
                    f"{method}: all {len(labels)} scored records are {kind}; AUC and TPR need both classes"
                )
            self.reports.append(report(method, self.scores[method], labels, self.compat))
        if self.show_table:
            _print_table(self.reports)
        for item in self.reports:
            yield asdict(item)


def _print_table(reports: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Membership inference")
    for column in ("method", "n", "members", "AUC", "TPR@1%FPR", "TPR@5%FPR", "TPR@10%FPR", "best acc"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in reports:
        table.add_row(
            r.method, str(r.n), str(r.members), f"{r.auc:.3f}",
            f"{r.tpr_at_1pct_fpr:.3f}", f"{r.tpr_at_5pct_fpr:.3f}", f"{r.tpr_at_10pct_fpr:.3f}", f"{r.best_accuracy:.3f}",
        )
    Console(stderr=True).print(table)
