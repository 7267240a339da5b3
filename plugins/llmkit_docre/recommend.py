"""`docre recommend`: candidate relations for annotators, from a model or from distant supervision.

Sources (``--source``):

- ``model``: a trained `docre` model's predictions (its relative scores: logit minus the
  threshold class's logit, and its evidence sentences);
- ``predictions``: the same from triples already in the record (``predicted_labels``, what
  `docre predict` writes), so a prediction run can be reused;
- ``distant``: what the previous approach recommends: every relation a knowledge base holds
  between the names of two entities of the document. The knowledge base (``--kb``) is a JSONL of
  ``{head, relation, tail}`` names, or DocRED documents whose labels are read as triples of their
  mentions' names (a distant-supervision file such as DocRED's ``train_distant.json``). Names
  match after NFKC normalisation, case folding and removal of whitespace. Such a recommendation
  has score 1.0 and no evidence (a knowledge base knows none).

Per entity pair, the ``top_k`` highest-scoring relations at or above ``min_score`` are kept.
The record is written unchanged plus ``recommended_labels`` (``h``, ``t``, ``r``, ``score``,
``evidence``) and ``recommended_by`` (where they came from); with ``--field NAME`` they go to
``NAME`` and ``NAME_by``, so that two runs piped into one record (model, then knowledge base)
keep each one's provenance.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import llmkit
from llmkit_docre.data import Document, parse_document, read_documents
from llmkit_docre.options import RecommendConfig

NA = {"Na", "NA", "na", "N/A", "no_relation", "None"}
DEFAULT_FIELD = "recommended_labels"


def provenance_field(field: str) -> str:
    """The field saying where ``field``'s recommendations came from."""
    return "recommended_by" if field == DEFAULT_FIELD else f"{field}_by"


def normalize_name(name: str) -> str:
    """The key a name is matched on: NFKC, case-folded, with no whitespace (Japanese names are
    written with or without a space between family and given name)."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass
class KnowledgeBase:
    """Relations between normalised names: head -> tail -> relations."""

    relations: dict[str, dict[str, set[str]]]
    triples: int

    def between(self, heads: Iterable[str], tails: set[str]) -> set[str]:
        found: set[str] = set()
        for head in heads:
            for tail, names in self.relations.get(head, {}).items():
                if tail in tails:
                    found |= names
        return found


def load_kb(path: str) -> KnowledgeBase:
    """Triples from a JSONL/JSON file of ``{head, relation, tail}`` or of DocRED documents."""
    relations: dict[str, dict[str, set[str]]] = {}
    count = 0
    for source, record in read_documents(path):
        for head, relation, tail in _kb_triples(record, source):
            if relation in NA:
                continue
            bucket = relations.setdefault(normalize_name(head), {}).setdefault(normalize_name(tail), set())
            count += relation not in bucket
            bucket.add(relation)
    return KnowledgeBase(relations, count)


def _kb_triples(record: dict[str, Any], source: str) -> Iterable[tuple[str, str, str]]:
    if {"head", "relation", "tail"} <= record.keys():
        values = (record["head"], record["relation"], record["tail"])
        if not all(isinstance(v, str) for v in values):
            raise llmkit.InputError("'head', 'relation' and 'tail' must be strings", source=source)
        yield values
        return
    parsed = parse_document(record, labels=False)
    if isinstance(parsed, llmkit.Reject) or not isinstance(record.get("labels"), list):
        detail = parsed.detail if isinstance(parsed, llmkit.Reject) else "no 'labels' list"
        raise llmkit.InputError(f"neither a {{head, relation, tail}} triple nor a DocRED document with labels ({detail})", source=source)
    names = [{m.name for m in entity} for entity in parsed.entities]
    for index, label in enumerate(record["labels"]):
        if not isinstance(label, dict):
            raise llmkit.InputError(f"label {index} of a knowledge-base document is not an object", source=source)
        h, t, r = label.get("h"), label.get("t"), label.get("r")
        if isinstance(h, int) and isinstance(t, int) and 0 <= h < len(names) and 0 <= t < len(names) and isinstance(r, str):
            yield from ((a, r, b) for a in names[h] for b in names[t])


def distant_triples(doc: Document, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Every (h, t, r) the knowledge base holds between the names of two entities of ``doc``."""
    names = [{normalize_name(m.name) for m in entity} for entity in doc.entities]
    found: list[dict[str, Any]] = []
    for h, heads in enumerate(names):
        for t, tails in enumerate(names):
            if h != t:
                found.extend({"h": h, "t": t, "r": r, "score": 1.0, "evidence": []} for r in sorted(kb.between(heads, tails)))
    return found


def select(triples: Iterable[dict[str, Any]], top_k: int, min_score: float | None) -> list[dict[str, Any]]:
    """Per entity pair, the ``top_k`` best-scoring triples at or above ``min_score``; a triple
    with no score is kept only when no ``min_score`` is asked for, after the scored ones."""
    pairs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for triple in _best_of_each(triples):
        score = triple.get("score")
        if min_score is not None and (score is None or score < min_score):
            continue
        pairs.setdefault((triple["h"], triple["t"]), []).append(triple)
    kept: list[dict[str, Any]] = []
    for pair in sorted(pairs):
        ranked = sorted(pairs[pair], key=lambda x: (*_rank(x), x["r"]))
        kept.extend(
            {"h": x["h"], "t": x["t"], "r": x["r"], "score": x.get("score"), "evidence": list(x.get("evidence") or [])}
            for x in ranked[:top_k]
        )
    return kept


def _best_of_each(triples: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One item per (h, t, r): a triple listed twice is one recommendation (its best score, the
    first such item on a tie), never two top-k places."""
    best: dict[tuple[int, int, str], dict[str, Any]] = {}
    for triple in triples:
        key = (triple["h"], triple["t"], triple["r"])
        held = best.get(key)
        if held is None or _rank(triple) < _rank(held):
            best[key] = triple
    return list(best.values())


def _rank(triple: dict[str, Any]) -> tuple[bool, float]:
    score = triple.get("score")
    return score is None, -(score or 0.0)


def check_predictions(items: Any, entities: int) -> list[dict[str, Any]] | str:
    """Predicted triples of a record, or what is wrong with them."""
    if not isinstance(items, list):
        return "not a list"
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return f"item {index} is not an object"
        h, t, r = item.get("h"), item.get("t"), item.get("r")
        if not (isinstance(h, int) and isinstance(t, int) and 0 <= h < entities and 0 <= t < entities and isinstance(r, str)):
            return f"item {index}: needs 'h' and 't' entity indices (of {entities}) and a string 'r'"
        score = item.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            return f"item {index}: 'score' is not a number"
        evidence = item.get("evidence")
        # a string would be read character by character: "0,1" as sentences "0", ",", "1"
        if evidence is not None and not (
            isinstance(evidence, list) and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s for s in evidence)
        ):
            return f"item {index}: 'evidence' must be a list of sentence ids, got {evidence!r}"
    return [item for item in items if item["r"] not in NA]


class RecommendStep(llmkit.Step):
    name = "recommend"
    batch_size = 16

    def __init__(self, config: RecommendConfig) -> None:
        self.config = config
        self.kb: KnowledgeBase | None = None
        self.predictor: Any = None

    def open(self) -> None:
        if self.config.source == "distant":
            assert self.config.kb is not None
            self.kb = load_kb(self.config.kb)
        elif self.config.source == "model":
            from llmkit_docre.predictor import Predictor  # docre predict's model and decoding, as is

            assert self.config.model_dir is not None  # RecommendConfig requires it for this source
            self.predictor = Predictor(self.config.model_dir, self.config.device)

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        outcomes: list[llmkit.Outcome] = []
        documents: dict[int, Document] = {}
        for index, record in enumerate(records):
            clash = llmkit.existing_field(record, self.config.field, earlier=list, hint="pass --field to write elsewhere")
            clash = clash or llmkit.existing_field(record, provenance_field(self.config.field), earlier=dict,
                                                   hint="pass --field to write elsewhere")
            parsed = clash or parse_document(record, labels=False)
            outcomes.append(parsed if isinstance(parsed, llmkit.Reject) else None)
            if isinstance(parsed, Document):
                documents[index] = parsed
        found = self._triples(documents)
        for index, doc in documents.items():
            triples = found[index]
            outcomes[index] = triples if isinstance(triples, llmkit.Reject) else self._record(doc.record, triples)
        return outcomes

    def _triples(self, documents: dict[int, Document]) -> dict[int, list[dict[str, Any]] | llmkit.Reject]:
        if self.config.source == "distant":
            assert self.kb is not None
            return {i: distant_triples(doc, self.kb) for i, doc in documents.items()}
        if self.config.source == "model":
            passes = self.predictor.first_pass(list(documents.values()))
            return {i: passed.triples for i, passed in zip(documents, passes, strict=True)}
        out: dict[int, list[dict[str, Any]] | llmkit.Reject] = {}
        for i, doc in documents.items():
            items = doc.record.get(self.config.predictions_field)
            if items is None:
                out[i] = llmkit.Reject("missing_field", f"no field {self.config.predictions_field!r} (run docre predict first)")
                continue
            checked = check_predictions(items, len(doc.entities))
            out[i] = llmkit.Reject("bad_labels", f"{self.config.predictions_field}: {checked}") if isinstance(checked, str) else checked
        return out

    def _record(self, record: llmkit.Record, triples: list[dict[str, Any]]) -> llmkit.Record:
        by: dict[str, Any] = {"source": self.config.source, "top_k": self.config.top_k, "min_score": self.config.min_score}
        if self.config.source == "model":
            by["model"] = self.config.model_dir
        elif self.config.source == "distant":
            by["kb"] = self.config.kb
        else:
            by["field"] = self.config.predictions_field
        chosen = select(triples, self.config.top_k, self.config.min_score)
        return {**record, self.config.field: chosen, provenance_field(self.config.field): by}
