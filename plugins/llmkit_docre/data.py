"""DocRED-format documents and relation inventories: loading and validation.

Public functions (stable; other docre modules build on them):

- :func:`load_relations` ``(path) -> Relations``: the inventory from a ``rel2id`` file
  (``{"Na": 0, "P6": 1, ...}``, DocRED/Re-DocRED/JacRED) or a ``rel_info`` file
  (``{"P6": "head of government", ...}``, no NA entry). Class 0 is always NA, the threshold class
  of the adaptive-thresholding loss. Raises :class:`llmkit.UsageError` for a missing or malformed file.
- :func:`read_documents` ``(path) -> Iterator[tuple[str, dict]]``: the records of a JSON array or
  a JSONL file (``.gz`` ok), each with its ``FILE:LINE`` (``FILE:#N`` for the N-th element of an
  array). A line that is not a JSON object raises :class:`llmkit.InputError`.
- :func:`parse_document` ``(record, relations=None, *, labels=True) -> Document | Reject``:
  a checked, typed view of one record. ``relations=None`` or ``labels=False`` leaves the labels
  unchecked and unparsed (prediction needs none). Never raises on bad data.
- :func:`load_documents` ``(path, relations, *, labels=True) -> (documents, rejects)``:
  the two above over a whole file; rejects are ``(source, Reject)`` pairs.
- :func:`relation_facts` ``(document, relations) -> set[(h, t, r_name)]``.
- :func:`relations_from_names` ``(names, descriptions=None) -> Relations``: an inventory from a
  list of relation names (NA put first when absent).

The record itself is never modified: tokens keep every character (Japanese text round-trips
unchanged), and a :class:`Document` keeps a reference to the record it came from.

Reject reasons (a record that cannot be used, never a crash):

- ``bad_document``: a field is missing or has the wrong type (``sents`` a list of token lists,
  ``vertexSet`` a list of non-empty mention lists, ``labels`` a list of objects);
- ``mention_out_of_range``: a mention's ``sent_id`` is not a sentence of the document, or its
  ``pos`` ``[start, end)`` is outside that sentence (an empty span ``[s, s]`` at a token ``s`` of
  the sentence is accepted, as ATLOP accepts it);
- ``unknown_entity``: a label's ``h`` or ``t`` is not an index of ``vertexSet``, or ``h == t``;
- ``unknown_relation``: a label's ``r`` is not in the relation inventory (nor NA);
- ``evidence_out_of_range``: a label's evidence names a sentence the document does not have.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from llmkit import InputError, Reject, UsageError

#: names a relation file may give the no-relation class
NA_NAMES = ("Na", "NA", "na", "N/A", "no_relation", "None")


@dataclass(frozen=True)
class Relations:
    """A relation inventory: ``names[0]`` is NA (the threshold class), then the relations in the
    order of their ids in the file. ``descriptions`` maps a relation to its readable name."""

    names: tuple[str, ...]
    descriptions: dict[str, str]

    @property
    def na(self) -> str:
        return self.names[0]

    @property
    def num_classes(self) -> int:
        """Classes of the classifier, NA included (DocRED 97, JacRED 36)."""
        return len(self.names)

    def __len__(self) -> int:
        """Relations proper, NA excluded (DocRED 96, JacRED 35)."""
        return len(self.names) - 1

    def __contains__(self, name: object) -> bool:
        return name in self._ids

    def id(self, name: str) -> int:
        """Class index of ``name`` (KeyError when unknown)."""
        return self._ids[name]

    @property
    def _ids(self) -> dict[str, int]:
        cached = self.__dict__.get("_cached_ids")
        if cached is None:
            cached = {name: i for i, name in enumerate(self.names)}
            object.__setattr__(self, "_cached_ids", cached)
        return cached

    def to_json(self) -> dict[str, int]:
        """The inventory as a rel2id object (what a trained model stores beside its weights)."""
        return {name: i for i, name in enumerate(self.names)}


def relations_from_names(names: list[str], descriptions: dict[str, str] | None = None, na: str = "Na") -> Relations:
    """An inventory from a list of relation names (NA is put first when absent)."""
    rest = [n for n in names if n not in NA_NAMES]
    na_name = next((n for n in names if n in NA_NAMES), na)
    if len(set(rest)) != len(rest):
        raise UsageError("the relation inventory names a relation twice")
    return Relations((na_name, *rest), dict(descriptions or {}))


def load_relations(path: str | Path) -> Relations:
    """Read a rel2id (name -> int, NA at 0) or rel_info (name -> description) file."""
    location = Path(path)
    try:
        data = json.loads(location.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--relations {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--relations {path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise UsageError(f"--relations {path}: expected a JSON object (rel2id or rel_info)")
    values = list(data.values())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return _from_rel2id(path, data)
    if all(isinstance(v, str) for v in values):
        return relations_from_names(list(data), descriptions=data)
    raise UsageError(f"--relations {path}: values must be all integers (rel2id) or all strings (rel_info)")


def _from_rel2id(path: str | Path, rel2id: dict[str, int]) -> Relations:
    ordered = sorted(rel2id, key=rel2id.__getitem__)
    if sorted(rel2id.values()) != list(range(len(rel2id))):
        raise UsageError(f"--relations {path}: rel2id ids must be 0..{len(rel2id) - 1}, each once")
    if ordered[0] not in NA_NAMES:
        raise UsageError(f"--relations {path}: id 0 must be the no-relation class (e.g. \"Na\"), got {ordered[0]!r}")
    return Relations(tuple(ordered), {})


@dataclass(frozen=True, slots=True)
class Mention:
    sent_id: int
    start: int  # token index in the sentence, inclusive
    end: int  # exclusive
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Fact:
    head: int
    tail: int
    relation: int  # class index in the inventory (never 0)
    evidence: tuple[int, ...]


@dataclass(frozen=True)
class Document:
    """A checked document. ``facts`` is empty when labels were not parsed."""

    title: str
    sents: list[list[str]]
    entities: list[list[Mention]]
    facts: list[Fact]
    record: dict[str, Any]

    @property
    def num_tokens(self) -> int:
        return sum(len(s) for s in self.sents)


def parse_document(record: dict[str, Any], relations: Relations | None = None, *, labels: bool = True) -> Document | Reject:
    """The typed view of a DocRED record, or the Reject that says why it cannot be used."""
    sents = record.get("sents")
    if not isinstance(sents, list) or not sents:
        return Reject("bad_document", "'sents' must be a non-empty list of token lists")
    for index, sent in enumerate(sents):
        if not isinstance(sent, list) or not all(isinstance(tok, str) for tok in sent):
            return Reject("bad_document", f"sentence {index} is not a list of string tokens")
    entities = _parse_entities(record.get("vertexSet"), sents)
    if isinstance(entities, Reject):
        return entities
    title = record.get("title", "")
    if not isinstance(title, str):
        title = str(title)
    facts: list[Fact] = []
    if labels and relations is not None and record.get("labels") is not None:
        parsed = _parse_labels(record["labels"], len(entities), len(sents), relations)
        if isinstance(parsed, Reject):
            return parsed
        facts = parsed
    return Document(title, sents, entities, facts, record)


def _parse_entities(vertex_set: Any, sents: list[list[str]]) -> list[list[Mention]] | Reject:
    if not isinstance(vertex_set, list):
        return Reject("bad_document", "'vertexSet' must be a list of entities (lists of mentions)")
    entities = []
    for e, mentions in enumerate(vertex_set):
        if not isinstance(mentions, list) or not mentions:
            return Reject("bad_document", f"entity {e} is not a non-empty list of mentions")
        parsed = []
        for m, mention in enumerate(mentions):
            one = _parse_mention(mention, sents)
            if isinstance(one, str):
                reason = "bad_document" if one.startswith("!") else "mention_out_of_range"
                return Reject(reason, f"entity {e} mention {m}: {one.lstrip('!')}")
            parsed.append(one)
        entities.append(parsed)
    return entities


def _parse_mention(mention: Any, sents: list[list[str]]) -> Mention | str:
    """A Mention, or a message (prefixed ``!`` for a malformed one rather than an out-of-range one)."""
    if not isinstance(mention, dict):
        return "!not an object"
    sent_id, pos = mention.get("sent_id"), mention.get("pos")
    if not _is_int(sent_id) or not isinstance(pos, list) or len(pos) != 2 or not all(_is_int(p) for p in pos):
        return "!needs an integer 'sent_id' and 'pos' [start, end]"
    if not 0 <= sent_id < len(sents):
        return f"sent_id {sent_id} is not one of the document's {len(sents)} sentences"
    start, end = pos
    # An empty span [s, s] (JacRED has four) is kept, as ATLOP's preprocessing keeps it: the
    # mention is the marker before token s, so only s must be a token of the sentence.
    if not 0 <= start <= end <= len(sents[sent_id]) or start == len(sents[sent_id]):
        return f"pos {pos} is not a span of sentence {sent_id} ({len(sents[sent_id])} tokens)"
    name = mention.get("name")
    if not isinstance(name, str):
        name = " ".join(sents[sent_id][start:end])
    kind = mention.get("type")
    return Mention(sent_id, start, end, name, kind if isinstance(kind, str) else "")


def _parse_labels(labels: Any, num_entities: int, num_sents: int, relations: Relations) -> list[Fact] | Reject:
    if not isinstance(labels, list):
        return Reject("bad_document", "'labels' must be a list")
    facts = []
    for index, label in enumerate(labels):
        if not isinstance(label, dict):
            return Reject("bad_document", f"label {index} is not an object")
        head, tail, name = label.get("h"), label.get("t"), label.get("r")
        if not (_is_int(head) and _is_int(tail) and 0 <= head < num_entities and 0 <= tail < num_entities) or head == tail:
            return Reject("unknown_entity", f"label {index}: h={head!r}, t={tail!r} with {num_entities} entities")
        if not isinstance(name, str) or name not in relations:
            return Reject("unknown_relation", f"label {index}: relation {name!r} is not in the inventory")
        evidence = label.get("evidence") or []
        if not isinstance(evidence, list) or not all(_is_int(s) and 0 <= s < num_sents for s in evidence):
            return Reject("evidence_out_of_range", f"label {index}: evidence {evidence!r} with {num_sents} sentences")
        relation = relations.id(name)
        if relation != 0:  # an explicit NA label states nothing
            facts.append(Fact(head, tail, relation, tuple(sorted(set(evidence)))))
    return facts


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def read_documents(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(source, record)`` for every document of a JSON array or JSONL file (``.gz`` read too)."""
    location = Path(path)
    if not location.is_file():
        raise UsageError(f"{path}: no such file")
    raw = location.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8-sig")
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc})", source=f"{path}:{exc.lineno}") from None
        for index, record in enumerate(records, 1):
            if not isinstance(record, dict):
                raise InputError("element is not a JSON object", source=f"{path}:#{index}")
            yield f"{path}:#{index}", record
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", source=f"{path}:{number}") from None
        if not isinstance(record, dict):
            raise InputError("line is not a JSON object", source=f"{path}:{number}")
        yield f"{path}:{number}", record


def load_documents(
    path: str | Path, relations: Relations | None, *, labels: bool = True
) -> tuple[list[Document], list[tuple[str, Reject]]]:
    """Every usable document of a file, and the rejected ones with where they were."""
    documents, rejects = [], []
    for source, record in read_documents(path):
        parsed = parse_document(record, relations, labels=labels)
        if isinstance(parsed, Reject):
            rejects.append((source, parsed))
        else:
            documents.append(parsed)
    return documents, rejects


def relation_facts(document: Document, relations: Relations) -> set[tuple[int, int, str]]:
    """The document's gold triples as ``(h, t, relation name)``."""
    return {(f.head, f.tail, relations.names[f.relation]) for f in document.facts}
