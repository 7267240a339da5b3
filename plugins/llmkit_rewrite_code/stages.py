"""The stage names, their fixed order, and the ``stages`` field that records what a record passed."""

from __future__ import annotations

import llmkit

ALL_STAGES = ("syntax", "lint", "sgcr", "scor")
LLM_STAGES = frozenset({"sgcr", "scor"})


def parse_stages(value: str) -> list[str]:
    """``syntax,lint`` -> the chosen stages in pipeline order (whatever order they were given in)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_STAGES))
    if unknown or not names:
        raise llmkit.UsageError(f"--stages: unknown stage(s) {unknown or [value]}; choose from {', '.join(ALL_STAGES)}")
    return [stage for stage in ALL_STAGES if stage in names]


def passed_stage(record: llmkit.Record, stage: str) -> llmkit.Record:
    """The record with ``stage`` appended to its ``stages`` list.

    A ``stages`` list the record already has (an earlier job that ran other stages) is extended,
    so a CPU job (syntax, lint) and a GPU job (sgcr, scor) joined by files end with the full list.
    """
    before = record.get("stages")
    history = list(before) if isinstance(before, list) else []
    record["stages"] = [*history, stage]
    return record
