"""The official DocRED evaluation (thunlp/DocRED ``code/evaluation.py``), number for number.

Semantics kept exactly, including the odd ones, because published numbers depend on them:

- Gold triples are keyed by ``(title, r, h, t)``; a repeated gold triple counts once in the
  relation total, but its evidence list counts again in the evidence total (and the last
  repeat's evidence is the one matched). Documents sharing a title share one key space.
- Predictions are deduplicated on ``(title, h, t, r)``, keeping the first, as ATLOP/DREEAM's
  ``official_evaluate`` does before scoring (the CodaLab script scored the submission as given).
- A prediction for a title that is not in the gold counts in the precision denominator but its
  evidence does not count in the predicted-evidence total.
- Ign F1: a correct prediction is "in train" when any (head mention name, tail mention name, r)
  of the gold document occurs among the training facts (every mention-name pair of every
  training label). Such predictions leave both the numerator and the denominator of precision;
  recall is the plain recall. The thunlp formula, without the 1e-5 ATLOP adds to the denominator.
- Evi F1: precision = matched gold evidence sentences of correct triples / evidence sentences of
  all predictions; recall = the same / gold evidence sentences (empty gold evidence lists, as in
  Re-DocRED's added triples, add nothing to either).

Where the official script divides by zero (no prediction, no gold triple, no gold evidence)
this module returns 0 for that precision or recall.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str, int, int]  # (title, r, h, t), the official key order


@dataclass(frozen=True, slots=True)
class Prediction:
    title: str
    h: int
    t: int
    r: str
    evidence: frozenset[int] = frozenset()


@dataclass
class Gold:
    """The gold side of the evaluation, built with :func:`gold_from_records`."""

    evidence: dict[Key, set[int]] = field(default_factory=dict)
    total_evidence: int = 0
    #: per title, per entity: the names of its mentions
    names: dict[str, list[list[str]]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.evidence)


def gold_from_records(records: Iterable[dict[str, Any]]) -> Gold:
    """Gold triples from DocRED documents (checked beforehand by ``data.parse_document``)."""
    gold = Gold()
    for record in records:
        title = record.get("title", "")
        gold.names[title] = [[_name(m) for m in entity] for entity in record["vertexSet"]]
        for label in record.get("labels") or []:
            evidence = label.get("evidence") or []
            gold.evidence[(title, label["r"], label["h"], label["t"])] = set(evidence)
            gold.total_evidence += len(evidence)
    return gold


def _name(mention: dict[str, Any]) -> str:
    return mention.get("name", "")


def train_facts(records: Iterable[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(head mention name, tail mention name, r) for every mention pair of every training label."""
    facts: set[tuple[str, str, str]] = set()
    for record in records:
        vertex_set = record["vertexSet"]
        for label in record.get("labels") or []:
            for head in vertex_set[label["h"]]:
                for tail in vertex_set[label["t"]]:
                    facts.add((_name(head), _name(tail), label["r"]))
    return facts


def deduplicate(predictions: Iterable[Prediction]) -> list[Prediction]:
    """The first prediction of each (title, h, t, r), in input order."""
    seen: set[tuple[str, int, int, str]] = set()
    kept = []
    for p in predictions:
        key = (p.title, p.h, p.t, p.r)
        if key not in seen:
            seen.add(key)
            kept.append(p)
    return kept


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    ign_precision: float | None  # None when no training facts were given
    ign_f1: float | None
    evi_precision: float
    evi_recall: float
    evi_f1: float
    predicted: int  # after deduplication
    gold: int
    correct: int
    correct_in_train: int
    predicted_evidence: int
    gold_evidence: int
    correct_evidence: int

    def as_record(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def official_scores(
    predictions: Iterable[Prediction], gold: Gold, facts_in_train: set[tuple[str, str, str]] | None = None
) -> Scores:
    """F1, Ign F1 and Evi F1 of ``predictions`` against ``gold`` (see the module docstring)."""
    answers = deduplicate(predictions)
    correct = correct_evidence = predicted_evidence = in_train = 0
    for p in answers:
        names = gold.names.get(p.title)
        if names is None:
            continue
        predicted_evidence += len(p.evidence)
        gold_evidence = gold.evidence.get((p.title, p.r, p.h, p.t))
        if gold_evidence is None:
            continue
        correct += 1
        correct_evidence += len(gold_evidence & p.evidence)
        if facts_in_train and _seen_in_train(names[p.h], names[p.t], p.r, facts_in_train):
            in_train += 1
    precision = _ratio(correct, len(answers))
    recall = _ratio(correct, gold.total)
    ign_precision = ign_f1 = None
    if facts_in_train is not None:
        ign_precision = _ratio(correct - in_train, len(answers) - in_train)
        ign_f1 = _f1(ign_precision, recall)
    evi_precision = _ratio(correct_evidence, predicted_evidence)
    evi_recall = _ratio(correct_evidence, gold.total_evidence)
    return Scores(
        precision, recall, _f1(precision, recall), ign_precision, ign_f1,
        evi_precision, evi_recall, _f1(evi_precision, evi_recall),
        len(answers), gold.total, correct, in_train, predicted_evidence, gold.total_evidence, correct_evidence,
    )


def _seen_in_train(heads: list[str], tails: list[str], r: str, facts: set[tuple[str, str, str]]) -> bool:
    return any((h, t, r) in facts for h in heads for t in tails)


def per_relation(predictions: Iterable[Prediction], gold: Gold) -> list[dict[str, Any]]:
    """Precision, recall and F1 of each relation (deduplicated predictions, as in the totals)."""
    predicted: dict[str, int] = {}
    correct: dict[str, int] = {}
    for p in deduplicate(predictions):
        predicted[p.r] = predicted.get(p.r, 0) + 1
        if (p.title, p.r, p.h, p.t) in gold.evidence:
            correct[p.r] = correct.get(p.r, 0) + 1
    gold_count: dict[str, int] = {}
    for _title, r, _h, _t in gold.evidence:
        gold_count[r] = gold_count.get(r, 0) + 1
    rows = []
    for r in sorted(set(predicted) | set(gold_count)):
        precision = _ratio(correct.get(r, 0), predicted.get(r, 0))
        recall = _ratio(correct.get(r, 0), gold_count.get(r, 0))
        rows.append({
            "relation": r, "predicted": predicted.get(r, 0), "gold": gold_count.get(r, 0),
            "correct": correct.get(r, 0), "precision": precision, "recall": recall, "f1": _f1(precision, recall),
        })
    return rows
