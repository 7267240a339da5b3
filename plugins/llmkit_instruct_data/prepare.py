"""The prepare step: instruction records out of conversations, flagged empty, duplicate,
near-duplicate, redacted or template.

State across batches is the dedup index (digest -> first occurrence's id), the template counts
and, with ``--near-duplicates``, the LSH buckets; everything else streams. Under ``--shard`` each
shard has its own index (duplicates across shards are not seen); under ``--resume`` the index is
rebuilt, in :meth:`PrepareStep.open`, from the records the earlier runs wrote to ``--output`` and
``--rejects`` (see :func:`rebuild`), so a resumed run flags exactly what one whole run would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmkit import Outcome, Record, Reject, Step, UsageError, existing_field, source_of
from llmkit_instruct_data.normalize import CHAT_FIELDS, digest, first_user_turn, normal_form
from llmkit_instruct_data.templates import TemplateCounter

#: LMSYS-Chat-1M replaced names with NAME_1, NAME_2, ... (its own redaction marker)
DEFAULT_REDACTION = r"\bNAME_\d+\b"
#: reject reasons of flagged records, in priority order (a record with several flags gets the first)
FLAG_REASONS = ("empty", "duplicate", "near_duplicate", "redacted", "template")
_ABSENT = object()


@dataclass(frozen=True)
class PrepareSettings:
    field: str = "instruction"
    id_field: str = "id"
    keep_flagged: bool = False
    near_duplicates: float | None = None  # Jaccard threshold; None = off
    num_perm: int = 128
    template_words: int = 8
    template_min: int = 20  # 0 = no template flag
    redaction: str = DEFAULT_REDACTION
    #: files an earlier run wrote (--output, --rejects), read to rebuild the index under --resume
    resume_from: tuple[str, ...] = ()


def check_settings(settings: PrepareSettings) -> None:
    if settings.near_duplicates is not None and not 0 < settings.near_duplicates <= 1:
        raise UsageError("--near-duplicates must be a Jaccard threshold in (0, 1]")
    if settings.num_perm < 2:
        raise UsageError("--num-perm must be >= 2")
    if settings.template_words < 1 or settings.template_min < 0:
        raise UsageError("--template-words must be >= 1 and --template-min >= 0")
    try:
        re.compile(settings.redaction)
    except re.error as exc:
        raise UsageError(f"--redaction-pattern is not a regular expression: {exc}") from None


class PrepareStep(Step):
    name = "prepare"
    batch_size = 1024

    def __init__(self, settings: PrepareSettings) -> None:
        self.settings = settings
        self.index: dict[int, Any] = {}
        self.templates = TemplateCounter(settings.template_words, settings.template_min) if settings.template_min else None
        self.redaction = re.compile(settings.redaction)
        # a substring test in C rules out almost every text before the regex runs
        self.marker = "NAME_" if settings.redaction == DEFAULT_REDACTION else None
        self.near: Any = None
        self._seen = 0

    def open(self) -> None:
        if self.settings.near_duplicates is not None:
            from llmkit_instruct_data.minhash import NearDuplicateIndex

            self.near = NearDuplicateIndex(self.settings.near_duplicates, self.settings.num_perm)
        for path in self.settings.resume_from:
            rebuild(self, path)

    def process(self, records: list[Record]) -> list[Outcome]:
        return [self._one(record) for record in records]

    def _one(self, record: Record) -> Outcome:
        text = first_user_turn(record, self.settings.field)
        if isinstance(text, Reject):
            return text
        if "instruction" in record or "flags" in record:
            clash = self._clash(record, text)
            if clash is not None:
                return clash
        flags = self.flag(text, self._ident(record))
        out = {**record, "instruction": text, "flags": flags}
        if self.settings.keep_flagged:
            return out
        reason = flag_reason(flags)
        return out if reason is None else Reject(reason, _describe(flags))

    def _clash(self, record: Record, text: str) -> Reject | None:
        if record.get("instruction", text) != text:  # another text under our output's name
            # a chat list is read before --field, so renaming is the only way out
            hint = "rename it" if any(name in record for name in CHAT_FIELDS) else "rename it, or give --field instruction to read it"
            return existing_field(record, "instruction", hint=hint)
        return existing_field(record, "flags", earlier=dict)

    def _ident(self, record: Record) -> Any:
        """The id ``duplicate_of`` points to: ``--id-field``, else the record's FILE:LINE (never
        null, which would read as "not a duplicate")."""
        ident = record.get(self.settings.id_field)
        if ident is None:
            ident = source_of(record)
        if ident is None:  # a step fed outside the contract: its position among the records seen
            ident = f"#{self._seen}"
        self._seen += 1
        return ident

    def flag(self, text: str, ident: Any) -> dict[str, Any]:
        """The flags of one instruction, indexing it when it is a first occurrence."""
        normal = normal_form(text)
        duplicate_of = template = near_duplicate_of = None
        if normal:
            key = digest(normal)
            first = self.index.get(key, _ABSENT)
            if first is _ABSENT:
                self.index[key] = ident
                template = self._template(normal)
                if self.near is not None:
                    near_duplicate_of = self._near(normal, ident)
            else:
                duplicate_of = first
        if self.near is None:
            return {"empty": not normal, "duplicate_of": duplicate_of, "redacted": self._redacted(text), "template": template}
        return {"empty": not normal, "duplicate_of": duplicate_of, "near_duplicate_of": near_duplicate_of,
                "redacted": self._redacted(text), "template": template}

    def _near(self, normal: str, ident: Any) -> Any:
        keys = self.near.band_keys(normal.casefold())
        found = self.near.find(keys)
        if found is None:
            self.near.add(keys, ident)
        return found

    def _redacted(self, text: str) -> bool:
        if self.marker is not None and self.marker not in text:
            return False
        return self.redaction.search(text) is not None

    def _template(self, normal: str) -> str | None:
        return None if self.templates is None else self.templates.observe(normal)

    def restore(self, text: str, ident: Any, near_duplicate: bool) -> None:
        """Index an instruction an earlier run wrote as a first occurrence (under --resume)."""
        normal = normal_form(text)
        if not normal:
            return
        key = digest(normal)
        if key in self.index:
            return
        self.index[key] = ident
        self._template(normal)
        if self.near is not None and not near_duplicate:
            self.near.add(self.near.band_keys(normal.casefold()), ident)


def flag_reason(flags: dict[str, Any]) -> str | None:
    if flags["empty"]:
        return "empty"
    if flags["duplicate_of"] is not None:
        return "duplicate"
    if flags.get("near_duplicate_of") is not None:
        return "near_duplicate"
    if flags["redacted"]:
        return "redacted"
    if flags["template"] is not None:
        return "template"
    return None


def _describe(flags: dict[str, Any]) -> str:
    parts = []
    if flags["duplicate_of"] is not None:
        parts.append(f"duplicate of {flags['duplicate_of']!r}")
    if flags.get("near_duplicate_of") is not None:
        parts.append(f"near-duplicate of {flags['near_duplicate_of']!r}")
    if flags["redacted"]:
        parts.append("holds a redaction marker")
    if flags["template"] is not None:
        parts.append(f"template {flags['template']!r}")
    return "; ".join(parts) or "no text after normalisation"


def rebuild(step: PrepareStep, path: str) -> None:
    """Index the first occurrences an earlier run wrote to ``path`` (its output, or its rejects,
    where a record is the input record with a ``reject`` field and no flags of its own)."""
    id_field = step.settings.id_field
    for record in _records(path):
        ident = record.get(id_field)
        if ident is None:
            continue
        flags = record.get("flags")
        reject = record.get("reject")
        if isinstance(reject, dict):
            if reject.get("stage") != PrepareStep.name or reject.get("reason") not in FLAG_REASONS[2:]:
                continue  # not flagged by us, empty, or a duplicate: nothing of it is indexed
            near_duplicate = reject["reason"] == "near_duplicate"
            text = first_user_turn(record, step.settings.field)
        elif isinstance(flags, dict) and isinstance(record.get("instruction"), str):
            if flags.get("empty") or flags.get("duplicate_of") is not None:
                continue
            near_duplicate = flags.get("near_duplicate_of") is not None
            text = record["instruction"]
        else:
            continue
        if isinstance(text, str):
            step.restore(text, ident, near_duplicate)


def _records(path: str) -> Iterator[Record]:
    """The JSON objects of a JSONL file the contract wrote (its torn tail is already cut off)."""
    location = Path(path)
    if not location.exists():
        return
    with open(location, "rb") as handle:
        for line in handle:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line orjson cannot read (a lone surrogate) holds no id we could match
            if isinstance(record, dict) and any(isinstance(v, float) for v in record.values()):
                # orjson reads an integer beyond 64 bits as a float: duplicate_of would then point
                # to a rounded id; the standard parser keeps it exact (rare, so the slow path)
                record = json.loads(line)
            if isinstance(record, dict):
                yield record
