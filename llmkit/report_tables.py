"""A run report as rich tables (``llmkit report show``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def report_tables(report: dict[str, Any]) -> list[Table]:
    """The run, its counts (rejects by reason), generation, inputs and model: one table each,
    the sections a report has."""
    tables = [_run(report)]
    counts = report.get("counts")
    if counts:
        tables.append(_pairs("Counts", [(k, v) for k, v in counts.items() if k != "rejected_by_reason"]))
        if counts["rejected_by_reason"]:
            tables.append(_pairs("Rejected by reason", list(counts["rejected_by_reason"].items())))
    generation = report.get("generation")
    if generation:
        rows = [(k, v) for k, v in generation.items() if k != "backend_errors"]
        rows += [(f"backend error: {k}", v) for k, v in generation["backend_errors"].items()]
        tables.append(_pairs("Generation", rows))
    tables.append(_pairs("Time", list(report["time"].items())))
    inputs = report.get("inputs")
    if inputs:
        rows = [(f"input {p['path']}", f"{p['bytes']:,} bytes" if p["bytes"] is not None else "(stream)") for p in inputs["paths"]]
        rows += [(k, v) for k, v in inputs.items() if k != "paths"]
        tables.append(_pairs("Inputs", rows))
    model = report.get("model")
    if model:
        rows = [(k, v) for k, v in model.items() if k not in ("files_sha256", "engine_args") and v is not None]
        rows += [(f"engine {k}", v) for k, v in (model.get("engine_args") or {}).items()]
        tables.append(_pairs("Model", rows))
    if report.get("prompts"):
        tables.append(_pairs("Prompts", [(p["path"], p["sha256"]) for p in report["prompts"]]))
    return tables


def _run(report: dict[str, Any]) -> Table:
    software = report["software"]
    versions = ", ".join(f"{k} {v}" for k, v in software.items() if k not in ("plugins", "platform"))
    rows: list[tuple[str, Any]] = [
        ("command", report["command"]),
        ("outcome", f"{report['outcome']} (exit {report['exit_status']})"),
        ("error", report["error"]),
        ("host", report["host"]),
        ("started", report["started_at"]),
        ("ended", report["ended_at"]),
        ("software", versions),
    ]
    if report.get("merged_from"):
        rows.append(("merged from", f"{len(report['merged_from'])} reports"))
    return _pairs("Run", [(k, v) for k, v in rows if v is not None])


def _pairs(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in rows:
        table.add_row(str(key), _shown(value))
    return table


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)
