"""The select step: the best-scored response per instruction, as an SFT record or a DPO pair.

A response is a candidate to be chosen when the judge scored it (``preference_score`` >= 0; -1
means the judge gave no score) and it is not flagged for repetition (``repetition_flag``, or
contrastive-gen's ``repetition``), unless ``--allow-repetition``. The best has the highest score;
ties go to the shorter response (``response_token_length``, else characters), then to the first.
For ``--pairs``, the rejected response is the lowest-scored of the other scored responses
(repetition allowed: a looping answer is a fine negative; ties go to the first), and a pair needs
the chosen score to be strictly higher.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from llmkit import Outcome, Record, RecordStep, Reject, UsageError

from llmkit_instruct_data.normalize import instruction_of

FORMATS = ("messages", "plain")


@dataclass(frozen=True)
class SelectSettings:
    format: str = "messages"
    pairs: bool = False
    min_score: float | None = None
    allow_repetition: bool = False
    keep_fields: bool = False
    field: str = "instruction"
    id_field: str = "id"


def check_settings(settings: SelectSettings) -> None:
    if settings.format not in FORMATS:
        raise UsageError(f"--format must be messages or plain, not {settings.format!r}")


@dataclass(frozen=True, slots=True)
class Candidate:
    index: int
    text: str
    score: float
    repeated: bool
    length: int


class SelectStep(RecordStep):
    name = "select"
    batch_size = 1024

    def __init__(self, settings: SelectSettings) -> None:
        self.settings = settings

    def process_record(self, record: Record) -> Outcome:
        instruction = instruction_of(record, self.settings.field)
        if isinstance(instruction, Reject):
            return instruction
        candidates = read_candidates(record)
        if isinstance(candidates, Reject):
            return candidates
        chosen = best(candidates, self.settings.allow_repetition)
        if chosen is None:
            return Reject("no_scored_response", "no response has a judge score (>= 0)"
                          + ("" if self.settings.allow_repetition else " without a repetition flag"))
        if self.settings.min_score is not None and chosen.score < self.settings.min_score:
            return Reject("low_score", f"the best score {chosen.score:g} is below --min-score {self.settings.min_score:g}")
        if not self.settings.pairs:
            return self._write(record, self._sft(instruction, chosen))
        rejected = worst(candidates, chosen)
        if rejected is None or rejected.score >= chosen.score:
            return Reject("no_pair", "no other scored response scores lower than the best")
        return self._write(record, self._pair(instruction, chosen, rejected))

    def _sft(self, instruction: str, chosen: Candidate) -> dict[str, Any]:
        if self.settings.format == "plain":
            out: dict[str, Any] = {"instruction": instruction, "response": chosen.text}
        else:
            out = {"messages": [{"role": "user", "content": instruction}, {"role": "assistant", "content": chosen.text}]}
        out["preference_score"] = chosen.score
        return out

    def _pair(self, instruction: str, chosen: Candidate, rejected: Candidate) -> dict[str, Any]:
        # TRL's DPO forms: standard (strings) or conversational (an implicit prompt of messages)
        if self.settings.format == "plain":
            out: dict[str, Any] = {"prompt": instruction, "chosen": chosen.text, "rejected": rejected.text}
        else:
            out = {
                "prompt": [{"role": "user", "content": instruction}],
                "chosen": [{"role": "assistant", "content": chosen.text}],
                "rejected": [{"role": "assistant", "content": rejected.text}],
            }
        out["score_chosen"], out["score_rejected"] = chosen.score, rejected.score
        return out

    def _write(self, record: Record, fields: dict[str, Any]) -> Outcome:
        id_field = self.settings.id_field
        if not self.settings.keep_fields:
            return {id_field: record[id_field], **fields} if id_field in record else fields
        for name, value in fields.items():
            if name in record and record[name] != value and name != "preference_score":
                return Reject("field_exists", f"the record already has a field {name!r}, which select writes; "
                                              "drop --keep-fields to write the training fields alone")
        return {**record, **fields}


def read_candidates(record: Record) -> list[Candidate] | Reject:
    """The responses of a record with their scores, flags and lengths, checked for shape."""
    several = "responses" in record
    texts = record.get("responses") if several else record.get("response")
    if texts is None:
        return Reject("missing_field", "no field 'response' or 'responses'")
    scores = record.get("preference_score")
    if scores is None:
        return Reject("missing_field", "no field 'preference_score' (run instruct-data judge first)")
    flags = record.get("repetition_flag", record.get("repetition"))
    lengths = record.get("response_token_length")
    if not several:
        texts, scores = [texts], [scores]
        flags = None if flags is None else [flags]
        lengths = None if lengths is None else [lengths]
    problem = _shape_problem(texts, scores, flags, lengths)
    if problem is not None:
        return Reject("bad_scores", problem)
    return [
        Candidate(i, text, float(scores[i]), bool(flags[i]) if flags else False, lengths[i] if lengths else len(text))
        for i, text in enumerate(texts)
    ]


def _shape_problem(texts: Any, scores: Any, flags: Any, lengths: Any) -> str | None:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return "the responses are not a list of strings"
    n = len(texts)
    if not isinstance(scores, list) or len(scores) != n or not all(_is_number(s) for s in scores):
        return f"preference_score must hold one number per response ({n}), each within a double's range"
    if flags is not None and (not isinstance(flags, list) or len(flags) != n or not all(isinstance(f, bool) for f in flags)):
        return f"repetition_flag must hold one true/false flag per response ({n})"
    if lengths is not None and (not isinstance(lengths, list) or len(lengths) != n or not all(_is_number(x) for x in lengths)):
        return f"response_token_length must hold one number per response ({n})"
    return None


def _is_number(value: Any) -> bool:
    """A JSON number that a double holds: llmkit reads integers exactly, and one beyond a
    double's range (about 1.8e308) cannot be compared as a score."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, float) or abs(value) <= _LARGEST_DOUBLE


_LARGEST_DOUBLE = int(sys.float_info.max)


def best(candidates: list[Candidate], allow_repetition: bool) -> Candidate | None:
    eligible = [c for c in candidates if c.score >= 0 and (allow_repetition or not c.repeated)]
    return min(eligible, key=lambda c: (-c.score, c.length, c.index), default=None)


def worst(candidates: list[Candidate], chosen: Candidate) -> Candidate | None:
    others = [c for c in candidates if c.score >= 0 and c.index != chosen.index]
    return min(others, key=lambda c: (c.score, c.index), default=None)
