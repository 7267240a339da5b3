"""``--report PATH`` (and ``LLMKIT_REPORT``) on every command of the tree, added once here rather
than declared by each plugin: a third-party subcommand gets it too."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import typer

from llmkit import report

_HELP = "Write a JSON report of the run here when it ends, whatever the outcome (counts, tokens, times, provenance)."


def _report_parameter() -> Any:
    """The ``--report`` option as the command line parser of the tree declares it (made by Typer,
    so its flag and help look like every other option's)."""

    def holder(
        llmkit_report: Annotated[
            str | None, typer.Option("--report", metavar="PATH", envvar=report.REPORT_ENV, help=_HELP, show_envvar=True)
        ] = None,
    ) -> None:
        """Holds the option."""

    app = typer.Typer(add_completion=False)
    app.command()(holder)
    return typer.main.get_command(app).params[0]


def offer_report(command: Any, path: str = "", skip: frozenset[str] = frozenset()) -> None:
    """Give every command under ``command`` (a group's commands; not the groups, nor those named
    in ``skip``) the ``--report`` option; the command, when called, begins the run's report with
    its options."""
    for name, sub in (getattr(command, "commands", None) or {}).items():
        if name not in skip:
            offer_report(sub, f"{path} {name}".strip())
    callback = getattr(command, "callback", None)
    if getattr(command, "commands", None) is not None or callback is None or getattr(callback, "reports", False):
        return
    if any("--report" in getattr(param, "opts", ()) for param in command.params):
        return  # the command has a --report of its own: it keeps it
    command.params.append(_report_parameter())
    flags = {param.name: _flag(param) for param in command.params}
    name = path or command.name

    @functools.wraps(callback)
    def reported(*args: Any, llmkit_report: str | None = None, **kwargs: Any) -> Any:
        report.begin_command(name, {flags.get(key, key): value for key, value in kwargs.items()}, llmkit_report)
        return callback(*args, **kwargs)

    reported.reports = True  # type: ignore[attr-defined]
    command.callback = reported


def _flag(param: Any) -> str:
    """The option's long flag (``--max-tokens``), or an argument's name."""
    opts = [opt for opt in getattr(param, "opts", ()) if opt.startswith("--")]
    return max(opts, key=len) if opts else str(param.name)
