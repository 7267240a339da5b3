"""The stage names, their fixed order, and the ``stages`` field that records what a record passed."""

from __future__ import annotations

import llmkit

ALL_STAGES = ("syntax", "lint", "sgcr", "scor")
LLM_STAGES = frozenset({"sgcr", "scor"})
#: The fields each stage adds besides ``stages`` (the LLM stages also write --field, on purpose).
STAGE_FIELDS = {
    "syntax": (),
    "lint": ("lint_score", "lint_raw_score", "comment_ratio"),
    "sgcr": ("sgcr_score",),
    "scor": ("unresolved_names",),
}


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


def field_clash(record: llmkit.Record, stage: str) -> llmkit.Reject | None:
    """``field_exists`` when ``stage`` would overwrite data the record came with.

    ``stages`` must be a list (it is appended to). A field the stage writes counts as the
    stage's own, and is replaced, only when ``stages`` names the stage: a re-run of, say, lint on
    its own output. The same name on any other record is input data, and is not overwritten.
    """
    clash = llmkit.existing_field(record, "stages", earlier=list)  # appended to, when a list
    if clash is not None:
        return clash
    history = record.get("stages", [])
    for name in STAGE_FIELDS[stage]:
        if name in record and stage not in history:
            return llmkit.Reject("field_exists", f"the record already has a field {name!r}, which the {stage} stage "
                                                 "writes, and its 'stages' does not list that stage; rename it in the input")
    return None
