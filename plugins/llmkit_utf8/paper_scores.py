"""The UTF-8 paper's own scores, ``V_binary_strict``, ``V_binary_soft`` and ``V_partial``, as the
state machine of its code defines them (bytecanary, ``dfa.py``, ``compute_dual_score``).

They differ from llmkit's ``soft`` and ``partial`` (:mod:`llmkit_utf8.validate`) by design, so
both are offered and neither replaces the other:

- ``V_binary_soft`` is the byte offset just after the *last* complete character, over all bytes:
  every byte before that character counts as good, invalid ones included (``80 41`` scores 1.0),
  and every byte after it counts as bad. llmkit's ``soft`` counts the bytes outside error spans.
- ``V_partial`` adds to that offset a credit for an unfinished last sequence: the bytes it has
  times a fixed weight of the state the machine stopped in (:data:`PROGRESS`; 1 of 3 bytes
  weighs 0.667, 2 of 3 weigh 0.333). llmkit's ``partial`` credits a truncated sequence with its
  share of expected bytes.
- The machine takes F5-F7 as 4-byte leads (their continuation bytes then fail) and, after a lead
  whose second byte breaks a range rule (E0 80, ED A0, F0 80, F4 90), drops that second byte with
  the lead. Neither changes which characters complete, so ``V_binary_strict`` is exactly
  strict validity (llmkit's ``valid``).
- An empty byte string scores 1.0 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit_utf8.validate import second_byte_range, sequence_length

#: (bytes a sequence needs, bytes it has) -> the weight the paper gives each byte it has, when the
#: data ends there. The paper's constants, as written (0.667 and 0.333, not 2/3 and 1/3).
PROGRESS: dict[tuple[int, int], float] = {
    (2, 1): 0.5,
    (3, 1): 0.667,
    (3, 2): 0.333,
    (4, 1): 0.5,
    (4, 2): 0.75,
    (4, 3): 0.25,
}

#: Bytes a sequence starting with each byte takes in the paper's machine (0: never a lead): Unicode's
#: lengths, and F5-F7 as 4-byte leads whose next byte then fails. A table: this is the inner loop.
_NEEDS = [4 if 0xF5 <= lead <= 0xF7 else sequence_length(lead) for lead in range(256)]


@dataclass(frozen=True, slots=True)
class PaperScores:
    V_binary_strict: float
    V_binary_soft: float
    V_partial: float

    def as_dict(self) -> dict[str, Any]:
        """The two scores that differ from llmkit's (``V_binary_strict`` is ``valid`` exactly)."""
        return {"V_binary_soft": self.V_binary_soft, "V_partial": self.V_partial}


def _second_byte_fails(lead: int, byte: int) -> bool:
    """Whether continuation ``byte`` breaks the range rule of the byte after ``lead`` (Unicode's)."""
    low, high = second_byte_range(lead)
    return lead > 0xF4 or not low <= byte <= high


def paper_scores(data: bytes) -> PaperScores:
    """The paper's three scores of ``data`` (see the module docstring)."""
    if not data:
        return PaperScores(1.0, 1.0, 1.0)
    try:  # well-formed: every character completes, all scores 1.0 (C speed for most inputs)
        data.decode("utf-8")
        return PaperScores(1.0, 1.0, 1.0)
    except UnicodeDecodeError:
        pass
    last_boundary = 0  # offset just after the last complete character
    lead, needs, has = 0, 0, 0  # the unfinished sequence (needs == 0: none)
    broken = False
    position = 0
    while position < len(data):
        byte = data[position]
        if needs == 0:
            width = _NEEDS[byte]
            if width == 1:
                last_boundary = position + 1
            elif width == 0:
                broken = True
            else:
                lead, needs, has = byte, width, 1
            position += 1
        elif 0x80 <= byte <= 0xBF:
            position += 1
            if has == 1 and _second_byte_fails(lead, byte):
                broken, needs = True, 0  # the lead and this byte are both dropped
                continue
            has += 1
            if has == needs:
                last_boundary, needs = position, 0
        else:
            broken, needs = True, 0  # the sequence is cut short; read this byte again as a start
    total = len(data)
    credit = has * PROGRESS[(needs, has)] if needs else 0.0
    strict = 1.0 if not broken and needs == 0 else 0.0
    return PaperScores(strict, last_boundary / total, (last_boundary + credit) / total)
