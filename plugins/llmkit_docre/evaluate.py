"""The `docre evaluate` step: predictions in, per-relation records and the official totals out.

Input records are either documents carrying a list of predicted triples (``predicted_labels``,
what ``docre predict`` writes: ``h``, ``t``, ``r``, ``evidence``) or single triples in the
official submission format (``title``, ``h_idx``, ``t_idx``, ``r``, ``evidence``), as ATLOP's and
DREEAM's ``result.json`` hold them. The gold and training documents are read whole from files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmkit import InputError, Outcome, Record, Reject, Step
from llmkit_docre.data import Relations, parse_document, read_documents, relations_from_names
from llmkit_docre.official import Gold, Prediction, Scores, gold_from_records, official_scores, per_relation, train_facts


def load_reference(path: str) -> list[dict[str, Any]]:
    """Every document of a gold or training file, checked; a bad one stops the run (exit 65),
    since dropping gold triples would change the recall silently."""
    pairs = list(read_documents(path))
    names = sorted({lab.get("r") for _s, rec in pairs for lab in rec.get("labels") or [] if isinstance(lab, dict)}, key=str)
    inventory = relations_from_names([n for n in names if isinstance(n, str)])
    for source, record in pairs:
        parsed = parse_document(record, inventory)
        if isinstance(parsed, Reject):
            raise InputError(f"{parsed.reason}: {parsed.detail}", source=source)
    return [record for _source, record in pairs]


class EvaluateStep(Step):
    name = "docre-evaluate"
    aggregate = True
    batch_size = 256

    def __init__(
        self, gold_path: str, train_path: str | None = None, field: str = "predicted_labels",
        relations: Relations | None = None, show_table: bool = True,
    ) -> None:
        self.gold_path = gold_path
        self.train_path = train_path
        self.field = field
        self.relations = relations
        self.show_table = show_table
        self.predictions: list[Prediction] = []
        self.gold = Gold()
        self.facts: set[tuple[str, str, str]] | None = None
        self.scores: Scores | None = None

    def open(self) -> None:
        self.gold = gold_from_records(load_reference(self.gold_path))
        if self.train_path is not None:
            self.facts = train_facts(load_reference(self.train_path))

    def process(self, records: list[Record]) -> list[Outcome]:
        return [self._take(record) for record in records]

    def _take(self, record: Record) -> Outcome:
        if self.field in record:
            labels = record[self.field]
            if not isinstance(labels, list):
                return Reject("bad_prediction", f"{self.field!r} is not a list")
            parsed = [_prediction(record.get("title", ""), label, "h", "t") for label in labels]
        elif "h_idx" in record:
            parsed = [_prediction(record.get("title", ""), record, "h_idx", "t_idx")]
        else:
            return Reject("missing_field", f"neither a {self.field!r} list nor an official triple (title, h_idx, t_idx, r)")
        bad = next((p for p in parsed if isinstance(p, str)), None)
        if bad is not None:
            return Reject("bad_prediction", bad)
        self.predictions.extend(p for p in parsed if isinstance(p, Prediction))
        return None

    def finish(self) -> Iterable[Record]:
        self.scores = official_scores(self.predictions, self.gold, self.facts)
        rows = per_relation(self.predictions, self.gold)
        for row in rows:
            if self.relations is not None and row["relation"] in self.relations.descriptions:
                row["name"] = self.relations.descriptions[row["relation"]]
            yield {"scope": "relation", **row}
        yield {"scope": "total", **self.scores.as_record()}
        if self.show_table:
            print_totals(self.scores)


def _prediction(title: Any, label: Any, head: str, tail: str) -> Prediction | str:
    if not isinstance(label, dict):
        return "a predicted triple is not an object"
    h, t, r = label.get(head), label.get(tail), label.get("r")
    if not isinstance(h, int) or not isinstance(t, int) or not isinstance(r, str):
        return f"a predicted triple needs integer {head!r}, {tail!r} and a string 'r', got {h!r}, {t!r}, {r!r}"
    evidence = label.get("evidence") or []
    if not isinstance(evidence, list) or not all(isinstance(s, int) for s in evidence):
        return f"evidence must be a list of sentence indices, got {evidence!r}"
    return Prediction(str(title), h, t, r, frozenset(evidence))


def print_totals(scores: Scores) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="DocRE (official DocRED evaluation)")
    for column in ("metric", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    table.add_row("relations", _pct(scores.precision), _pct(scores.recall), _pct(scores.f1))
    if scores.ign_f1 is not None:
        table.add_row("ignoring train facts", _pct(scores.ign_precision), _pct(scores.recall), _pct(scores.ign_f1))
    else:
        table.add_row("ignoring train facts", "n/a", "n/a", "n/a (no --train)")
    table.add_row("evidence", _pct(scores.evi_precision), _pct(scores.evi_recall), _pct(scores.evi_f1))
    Console(stderr=True).print(table)
    Console(stderr=True).print(
        f"predicted {scores.predicted}, gold {scores.gold}, correct {scores.correct}"
        f" ({scores.correct_in_train} seen in train); evidence: predicted {scores.predicted_evidence},"
        f" gold {scores.gold_evidence}, matched {scores.correct_evidence}"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"
