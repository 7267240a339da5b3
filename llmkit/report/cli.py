"""``llmkit report merge`` and ``llmkit report show``: the built-in commands over run reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from llmkit.errors import InputError, UsageError

app = typer.Typer(help="Run reports (--report): add up the reports of one job, or show one.", no_args_is_help=True)


def read_report(path: str) -> dict[str, Any]:
    """The report in ``path``: exit 2 when it cannot be read, 65 when it is not a report."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read report {path}: {exc.strerror or exc}") from None
    try:
        report = json.loads(text)
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", path) from None
    if not isinstance(report, dict) or report.get("report_version") != 1:
        raise InputError("not an llmkit run report (no report_version 1)", path)
    for field in ("command", "options", "counts", "time", "exit_status", "outcome", "host", "started_at", "ended_at", "software", "argv"):
        if field not in report:
            raise InputError(f"not an llmkit run report: no {field!r}", path, field)
    return report


@app.command("merge")
def merge(
    reports: Annotated[list[str], typer.Argument(metavar="REPORT...", help="Reports of one job's runs (shards, cron runs).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the merged report here (default: stdout).")] = None,
) -> None:
    """Add up the reports of one job's runs: counts, tokens and times. Reports of different
    commands, options (which part of the input, outputs and speed aside), models or prompts are
    refused (exit 2) with the first difference."""
    from llmkit.report.merge import merge_reports
    from llmkit.side_outputs import SideOutputs

    with SideOutputs(inputs=reports) as side:  # never written over one of the reports it adds up
        target = side.file("-o/--output", output) if output not in (None, "-") else None
        merged = merge_reports([(path, read_report(path)) for path in reports])
        data = (json.dumps(merged, indent=2, ensure_ascii=False) + "\n").encode()
        if target is None:
            typer.echo(data.decode(), nl=False)
        else:
            target.write_bytes(data)


@app.command("show")
def show(report: Annotated[str, typer.Argument(metavar="REPORT", help="A report (--report) or a merged one.")]) -> None:
    """Print a report as tables: the run, its counts and rejects, generation (the engine's idle share
    where it was timed), time, inputs, model, prompts and, for a Ray run, each replica."""
    from rich.console import Console

    from llmkit.report.tables import report_tables

    console = Console()
    for table in report_tables(read_report(report)):
        console.print(table)
