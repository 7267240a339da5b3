"""The output fields of utf8-eval, and the rule that keeps them from overwriting input data."""

from __future__ import annotations

from typing import Any

from llmkit import Reject


def field_clash(record: dict[str, Any], name: str) -> Reject | None:
    """``field_exists`` when ``record[name]`` holds something other than an earlier utf8-eval
    result. Every result is an object, so an object there is this command's own output (a re-run
    replaces it); anything else (a flag, a string) is the input's own data and is kept."""
    if name in record and not isinstance(record[name], dict):
        return Reject("field_exists", f"the record already has a field {name!r} ({type(record[name]).__name__}, "
                                      "not an earlier utf8-eval result), which this command writes; rename it in the input")
    return None
