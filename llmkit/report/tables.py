"""A run report as rich tables (``llmkit report show``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def report_tables(report: dict[str, Any]) -> list[Table]:
    """The run, its counts (rejects by reason), generation, time, inputs, model, prompts and,
    under Ray, its replicas: one table each, the sections a report has."""
    tables = [_run(report)]
    counts = report.get("counts")
    if counts:
        tables.append(_pairs("Counts", [(k, v) for k, v in counts.items() if k != "rejected_by_reason"]))
        if counts["rejected_by_reason"]:
            tables.append(_pairs("Rejected by reason", list(counts["rejected_by_reason"].items())))
    generation = report.get("generation")
    if generation:
        rows = [(k, _share(v) if k == "engine_idle_share" else v) for k, v in generation.items()
                if k not in ("backend_errors", "request_retries")]
        rows += [(f"backend error: {k}", v) for k, v in generation["backend_errors"].items()]
        rows += [(f"request retried: {k}", v) for k, v in (generation.get("request_retries") or {}).items()]
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
    cluster = report.get("cluster")
    if cluster and cluster.get("replicas"):
        tables.append(_replicas(cluster["replicas"]))
    return tables


#: a replica's columns (header, field); the engine's only where a replica timed it
_REPLICA_COLUMNS = [("replica", "replica"), ("node", "ip"), ("batches", "batches"), ("in", "in"), ("out", "out"),
                    ("tokens", "generated_tokens")]
_ENGINE_COLUMNS = [("busy s", "engine_busy_s"), ("idle s", "engine_idle_s"), ("idle", "engine_idle_share")]


def _replicas(replicas: list[dict[str, Any]]) -> Table:
    """What each replica of a Ray run did, one row each, narrow enough for 80 columns (its rejects
    are in the report; the counts table has the run's)."""
    columns = _REPLICA_COLUMNS + (_ENGINE_COLUMNS if any("engine_busy_s" in r for r in replicas) else [])
    table = Table(title="Replicas", title_justify="left", box=None, pad_edge=False)
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for replica in replicas:
        row = [_share(replica.get(key)) if key == "engine_idle_share" else _shown(replica.get(key)) for _, key in columns]
        row[0] = row[0][:8]  # an actor id is 32 hex digits: its start tells the replicas apart
        table.add_row(*row)
    return table


def _share(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, (int, float)) else "-"


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
