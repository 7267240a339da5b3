"""`docre edit-steps`: the annotation effort of turning recommended relations into the gold ones.

Per document, with R the recommended triples and G the gold triples, each a set of
``(h, t, r)`` (duplicates count once, NA labels are no facts):

- additions = |G - R| (gold facts the annotator must add),
- deletions = |R - G| (recommendations the annotator must delete),
- steps = additions + deletions.

With ``evidence``, evidence edits are counted apart: for a triple in both, the sentences of its
gold evidence not recommended (evidence additions) and the recommended ones not in gold
(evidence deletions); an added triple needs all its gold evidence sentences added; a deleted
triple's evidence goes with it. Documents are matched to the gold by ``key`` (the title).

Several columns (fields, or input files) are compared side by side; the relative reduction of
each column is ``1 - steps / steps of the first column`` over the documents every column has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llmkit
from llmkit_docre.evaluate import load_reference
from llmkit_docre.options import EditStepsConfig

Triple = tuple[int, int, str]
#: names of the no-relation class, which states no fact
NA = {"Na", "NA", "na", "N/A", "no_relation", "None"}


def triple_evidence(labels: Iterable[Any]) -> dict[Triple, set[int]] | str:
    """``{(h, t, r): evidence sentences}`` of a label list, or what is wrong with it."""
    found: dict[Triple, set[int]] = {}
    for index, label in enumerate(labels):
        if not isinstance(label, dict):
            return f"item {index} is not an object"
        h, t, r = label.get("h"), label.get("t"), label.get("r")
        if not (_is_int(h) and _is_int(t) and isinstance(r, str)):
            return f"item {index} needs integer 'h', 't' and a string 'r'"
        evidence = label.get("evidence") or []
        if not isinstance(evidence, list) or not all(_is_int(s) for s in evidence):
            return f"item {index}: 'evidence' must be a list of sentence ids"
        if r not in NA:
            found.setdefault((int(h), int(t), r), set()).update(evidence)  # type: ignore[arg-type]
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Edits:
    """The edits of one document (or the sum over documents)."""

    documents: int = 0
    gold: int = 0
    recommended: int = 0
    correct: int = 0
    additions: int = 0
    deletions: int = 0
    evidence_additions: int = 0
    evidence_deletions: int = 0

    @property
    def steps(self) -> int:
        return self.additions + self.deletions

    def __add__(self, other: Edits) -> Edits:
        return Edits(*(a + b for a, b in zip(vars(self).values(), vars(other).values(), strict=True)))

    def as_record(self, evidence: bool) -> dict[str, int]:
        out = {**vars(self), "steps": self.steps}
        if not evidence:
            out.pop("evidence_additions")
            out.pop("evidence_deletions")
        return out


def count_edits(recommended: dict[Triple, set[int]], gold: dict[Triple, set[int]]) -> Edits:
    """The edits turning ``recommended`` into ``gold`` (both from :func:`triple_evidence`)."""
    both = recommended.keys() & gold.keys()
    added = gold.keys() - recommended.keys()
    return Edits(
        documents=1,
        gold=len(gold),
        recommended=len(recommended),
        correct=len(both),
        additions=len(added),
        deletions=len(recommended.keys() - gold.keys()),
        evidence_additions=sum(len(gold[t] - recommended[t]) for t in both) + sum(len(gold[t]) for t in added),
        evidence_deletions=sum(len(recommended[t] - gold[t]) for t in both),
    )


@dataclass
class _Gold:
    facts: dict[Triple, set[int]]
    entities: int
    order: int


class EditStepsStep(llmkit.Step):
    name = "edit-steps"
    aggregate = True
    batch_size = 256

    def __init__(self, config: EditStepsConfig) -> None:
        self.config = config
        self.gold: dict[Any, _Gold] = {}
        #: (input file, field) -> {document key: edits}
        self.columns: dict[tuple[str, str], dict[Any, Edits]] = {}

    def open(self) -> None:
        for order, record in enumerate(load_reference(self.config.gold)):
            key = record.get(self.config.key)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise llmkit.InputError(f"a gold document's {self.config.key} is {key!r}, not a string or number; "
                                        "pass --key to match on another field")
            if not isinstance(record.get("labels"), list):
                # an unannotated file (a test split) would count every recommendation as a deletion
                raise llmkit.InputError(f"gold document {key!r} has no 'labels' list: --gold must be the annotated documents")
            if key in self.gold:
                raise llmkit.InputError(f"two gold documents have {self.config.key} {key!r}; pass --key to match on another field")
            facts = triple_evidence(record.get("labels") or [])
            assert not isinstance(facts, str)  # load_reference checked the labels
            self.gold[key] = _Gold(facts, len(record["vertexSet"]), order)

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        return [self._take(record) for record in records]

    def _take(self, record: llmkit.Record) -> llmkit.Outcome:
        key = record.get(self.config.key)
        gold = self.gold.get(key) if isinstance(key, (str, int)) else None
        if gold is None:
            return llmkit.Reject("no_gold", f"no gold document has {self.config.key} {key!r}")
        entities = record.get("vertexSet")
        if isinstance(entities, list) and len(entities) != gold.entities:
            return llmkit.Reject("entities_differ", f"{len(entities)} entities here, {gold.entities} in the gold document")
        source = (llmkit.source_of(record) or "-:0").rsplit(":", 1)[0]
        found = {}
        for name in self.config.fields:
            labels = record.get(name)
            if not isinstance(labels, list):
                return llmkit.Reject("missing_field", f"no list field {name!r}")
            facts = triple_evidence(labels)
            if isinstance(facts, str):
                return llmkit.Reject("bad_labels", f"{name}: {facts}")
            found[name] = facts
        if any(key in self.columns.get((source, name), {}) for name in found):
            return llmkit.Reject("duplicate_document", f"{self.config.key} {key!r} was already counted in {source}")
        for name, facts in found.items():
            self.columns.setdefault((source, name), {})[key] = count_edits(facts, gold.facts)
        return None

    def finish(self) -> Iterable[llmkit.Record]:
        names = column_names(list(self.columns))
        keys = sorted({k for column in self.columns.values() for k in column}, key=lambda k: self.gold[k].order)
        evidence = self.config.evidence
        for key in keys:
            yield {
                self.config.key: key,
                "edit_steps": {
                    names[c]: column[key].as_record(evidence) for c, column in self.columns.items() if key in column
                },
            }
        yield {"totals": self._totals(names)}

    def _totals(self, names: dict[tuple[str, str], str]) -> dict[str, Any]:
        evidence = self.config.evidence
        totals: dict[str, Any] = {
            names[c]: sum(column.values(), Edits()).as_record(evidence) for c, column in self.columns.items()
        }
        seen = {k for column in self.columns.values() for k in column}
        totals["gold_documents_not_seen"] = len(self.gold.keys() - seen)
        if len(self.columns) > 1:
            totals["reduction"] = self._reductions(names)
        return totals

    def _reductions(self, names: dict[tuple[str, str], str]) -> dict[str, Any]:
        """Each column's steps against the first column's, on the documents all columns have."""
        columns = list(self.columns.items())
        common = set.intersection(*(set(column) for _c, column in columns))
        base_name, base = names[columns[0][0]], columns[0][1]
        base_steps = sum(base[k].steps for k in common)
        out: dict[str, Any] = {"baseline": base_name, "documents": len(common)}
        for c, column in columns[1:]:
            steps = sum(column[k].steps for k in common)
            out[names[c]] = round(1 - steps / base_steps, 6) if base_steps else None
        return out


def column_names(columns: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Short names: the field alone for one input, the file alone for one field, else both."""
    files = {f for f, _ in columns}
    fields = {n for _, n in columns}
    if len(files) <= 1:
        return {c: c[1] for c in columns}
    if len(fields) == 1:
        stems = {c: Path(c[0]).name for c in columns}
        return stems if len(set(stems.values())) == len(stems) else {c: c[0] for c in columns}
    return {c: f"{Path(c[0]).name}:{c[1]}" for c in columns}
