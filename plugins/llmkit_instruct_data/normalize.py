"""Instruction text: the first user turn of a record, its normal form and its dedup key.

Two instructions are exact duplicates when their normal forms are equal: Unicode NFKC (full-width
letters, compatibility characters and ligatures folded) then every run of whitespace as one
space, with none at the ends. Case is kept: "Hi" and "hi" are different instructions, as in the
released datasets' exact dedup. The index keeps a 64-bit hash of the normal form, not the text:
a million instructions cost their hashes whatever their lengths. The hash is Python's own string
hash (SipHash, keyed per process; four times faster here than an 8-byte BLAKE2b digest): keys need
not be stable across runs, since ``--resume`` rebuilds the index from the written text. Two
different instructions share a key with probability about n^2 / 2^65 over n instructions (3e-8
for a million, 3e-2 for a billion; the later one would be flagged a duplicate of the earlier).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from llmkit import Record, Reject, get_text_field

#: roles of the user in the chat layouts we read (OpenAI/LMSYS ``role``, ShareGPT ``from``)
USER_ROLES = frozenset({"user", "human"})
#: chat lists, in the order they are looked for
CHAT_FIELDS = ("conversation", "messages")


def normal_form(text: str) -> str:
    """NFKC, whitespace runs as one space, no space at the ends."""
    if text.isascii() and text.isprintable():
        # ASCII is its own NFKC form, and a printable ASCII text has no whitespace but spaces:
        # most instructions are already normal, and two C scans say so
        if "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text
        return " ".join(text.split())
    return " ".join(unicodedata.normalize("NFKC", text).split())


def digest(normal: str) -> int:
    """The dedup key of a normal form: a 64-bit hash."""
    return hash(normal)


def first_user_turn(record: Record, field: str) -> str | Reject:
    """The instruction of a record: the first user turn of its ``conversation`` (LMSYS-Chat-1M)
    or ``messages`` list, else the string in ``record[field]``."""
    for name in CHAT_FIELDS:
        chat = record.get(name)
        if chat is not None:
            return _from_chat(chat, name)
    if record.get(field) is None:
        return Reject("missing_field", f"no {' or '.join(CHAT_FIELDS)} list and no field {field!r}")
    return get_text_field(record, field)


def _from_chat(chat: Any, name: str) -> str | Reject:
    if not isinstance(chat, list):
        return Reject("bad_messages", f"{name!r} is {type(chat).__name__}, not a list of turns")
    for turn in chat:
        if not isinstance(turn, dict):
            return Reject("bad_messages", f"a turn of {name!r} is {type(turn).__name__}, not an object")
        role = turn.get("role")
        if role is None:
            role = turn.get("from")
        if role is not None and not isinstance(role, str):
            # a list or object here is a malformed turn, not a role this reader does not know
            return Reject("bad_messages", f"a turn's role in {name!r} is {type(role).__name__}, not a string")
        if role in USER_ROLES:
            content = turn["content"] if "content" in turn else turn.get("value")
            if not isinstance(content, str):
                return Reject("bad_messages", f"the first user turn's content is {type(content).__name__}, not a string")
            return content
    return Reject("missing_field", f"{name!r} has no user turn")


def instruction_of(record: Record, field: str) -> str | Reject:
    """The instruction a response answers (judge, select): the string in ``record[field]``, else
    the first user turn of the chat list. The field comes first, as contrastive-gen reads it: the
    responses answer that text, which can differ from the chat's first user turn."""
    value = record.get(field)
    if isinstance(value, str):
        return value
    return first_user_turn({k: v for k, v in record.items() if k != field}, field)
