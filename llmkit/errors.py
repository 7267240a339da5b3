"""The one exception tree of llmkit, shaped by what the caller can do about each error.

    LlmkitError                 exit 70  internal error (a bug: please report it)
     +-- UsageError             exit 2   a bad option or option value: fix the command line
     +-- InputError             exit 65  bad input data: fix the file (message names FILE:LINE and field)
     +-- BackendUnavailable     exit 69  a model, server or optional dependency cannot be reached or loaded
     +-- MissingDependency      exit 69  an optional extra is not installed: the message says what to install
     +-- OutputClosed           exit 0   the reader of stdout went away (`| head`): a normal end

Plugins and backends raise these; only the CLI entry (`llmkit.cli.main`) turns them into exit
statuses. Errors of third-party libraries are translated at the boundary that calls them
(`raise UsageError(...) from exc`), so no foreign exception reaches the user as a traceback.
"""

from __future__ import annotations


class LlmkitError(Exception):
    """Base class. ``exit_code`` is the process exit status the CLI uses for it."""

    exit_code: int = 70

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(LlmkitError):
    """A bad option or option value (exit 2)."""

    exit_code = 2


class InputError(LlmkitError):
    """Bad input data (exit 65). ``source`` is ``FILE:LINE`` when known."""

    exit_code = 65

    def __init__(self, message: str, source: str | None = None, field: str | None = None) -> None:
        self.source = source
        self.field = field
        where = f"{source}: " if source else ""
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}{what}{message}")


class BackendUnavailable(LlmkitError):
    """A model, server or backend cannot be reached or loaded (exit 69)."""

    exit_code = 69


class MissingDependency(BackendUnavailable):
    """An optional extra is missing; the message carries the pip command that fixes it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package {package!r}, which is not installed. "
            f"Install it with: pip install 'llmkit[{extra}]'"
        )


class OutputClosed(LlmkitError):
    """Stdout was closed by its reader; the run ends quietly with status 0."""

    exit_code = 0

    def __init__(self) -> None:
        super().__init__("output closed by the reader")


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise :class:`MissingDependency` naming the extra; a module
    that is installed but fails to import (a broken build, a missing shared library) is
    BackendUnavailable with its own error, since reinstalling the extra may not be the fix."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == module.split(".")[0]
        if missing:
            raise MissingDependency(module, extra, purpose) from exc
        raise BackendUnavailable(f"{purpose} needs {module!r}, which is installed but fails to import: {exc}") from exc
