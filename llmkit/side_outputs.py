"""Side outputs: every file or folder a command writes besides ``-o`` and ``--rejects``.

A spill file between two passes, a second set of records (``--shared``), saved tensors
(``--scores``), a checkpoint folder (``--export``), a folder of figures (``--plot``): a command
claims each before any work starts, and the contract's rules for ``-o`` hold for it too:

- **never an input, never another output.** A side output that is one of the inputs, ``-o``,
  ``--rejects`` or another side output (compared by device and inode, so links and ``./name``
  count; by resolved path when it does not exist yet) is a UsageError (exit 2) naming both, raised
  before any file is opened for writing;
- **one run at a time.** Each is held under an exclusive lock until the run ends: a second run
  exits 75 naming the process that holds it (:mod:`llmkit.outfiles`);
- **written whole or not at all.** :meth:`SideOutput.replacing` gives a temporary file (or
  folder) beside the target, renamed onto it once complete: a run that fails leaves the old file
  as it was. A link is written through (the file it points to is replaced, the link stays); a
  device or a FIFO is written to directly, as ``-o`` is;
- **errors name the path.** A path that cannot be written (a missing folder, no permission, a
  file where a folder is wanted) is an OutputError (exit 74) naming the option and the path,
  before any work; so is a write that fails at the end.

In a command::

    with llmkit.SideOutputs(io) as side:
        shared = side.file("--shared", shared_path)  # None when the option is not given
        export = side.folder("--export", export_path, new=True)
        llmkit.run_step(MyStep(shared, export), io)

and in the step: ``shared.write_records(rows)``, or ``with export.replacing() as tmp: save(tmp)``.
A file the core itself writes line by line (a first pass's ``-o``) is claimed the same way and
its path handed to :func:`llmkit.run_step`: the core's writer sees that this process holds it.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from llmkit.errors import OutputError, UsageError
from llmkit.io import check_distinct_files, dump_lines
from llmkit.outfiles import FileKey, hold, let_go, output_key, regular_file

Kind = Literal["file", "folder", "device"]


class ContractFiles(Protocol):
    """What a claim needs of a command's contract options (``llmkit.IOOptions`` has it): the inputs
    and the two outputs. A protocol, not the class, so that this module depends on no option set
    (the report, which claims its file here, is noted into from the backends those sets load)."""

    inputs: list[str] | None
    output: str | None
    rejects: str | None


@dataclass
class SideOutput:
    """One claimed side output. ``target`` is where it is written (links resolved); ``str()`` is the
    path as the user gave it, for messages."""

    option: str
    given: str
    target: Path
    kind: Kind
    #: a folder whose files are written one by one (figures), rather than one new folder whole
    shared_folder: bool = False
    #: the claim made the file or folder (it did not exist): removed again if the run fails first
    created: bool = False
    written: bool = False
    _fd: int | None = field(default=None, repr=False)
    _key: FileKey | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.given

    @property
    def path(self) -> str:
        """The path as given (``~`` expanded): what to hand to the core's writer (``-o`` of a
        first pass), which then names it in messages as the user wrote it."""
        return os.path.expanduser(self.given)

    @contextmanager
    def replacing(self, name: str | None = None) -> Iterator[Path]:
        """A temporary path to write completely; renamed onto the target when the block ends
        without error, removed otherwise. ``name``: a file inside a folder of figures."""
        final = self._final(name)
        if self.kind == "device":  # nothing to replace: written to as it is
            try:
                yield final
            except OSError as exc:
                raise self.failed(exc) from exc
            self.written = True
            return
        temporary = self._temporary(final)
        try:
            yield temporary
            os.replace(temporary, final)
        except OSError as exc:
            raise self.failed(exc) from exc
        finally:
            _remove(temporary)
        self.written = True

    def write_bytes(self, data: bytes | bytearray, name: str | None = None) -> None:
        with self.replacing(name) as path:
            with open(path, "wb") as handle:
                handle.write(data)

    def write_records(self, records: Sequence[dict[str, Any]], name: str | None = None) -> None:
        """The records as JSONL, written as the core writes ``-o`` (integers beyond 64 bits exact)."""
        self.write_bytes(dump_lines(list(records)), name)

    def empty(self) -> None:
        """Truncate a claimed file (a fresh run of a file the core's writer then appends to): safe,
        since it is locked; a device is left as it is."""
        if self._fd is not None and self.kind == "file":
            try:
                os.ftruncate(self._fd, 0)
            except OSError as exc:
                raise self.failed(exc) from exc

    def failed(self, exc: OSError) -> OutputError:
        """The OutputError (exit 74) for a write to this output that failed."""
        return OutputError(f"cannot write {self.option} {self.given}: {exc.strerror or exc}")

    def _final(self, name: str | None) -> Path:
        if name is None:
            if self.shared_folder:
                raise ValueError(f"{self.option} is a folder of files: name the file to write")
            return self.target
        if not self.shared_folder:
            raise ValueError(f"{self.option} is written whole: no file name inside it")
        if os.sep in name or name in ("", ".", ".."):
            raise ValueError(f"not a file name: {name!r}")
        return self.target / name

    def _temporary(self, final: Path) -> Path:
        """A new path beside ``final`` (same folder, so the rename is atomic), with its suffix (a
        figure's format is read from it) and the mode the target has."""
        mode = os.fstat(self._fd).st_mode if self._fd is not None else 0o666
        try:
            if self.kind == "folder" and not self.shared_folder:
                made = Path(tempfile.mkdtemp(prefix=f".llmkit-{final.name}.", dir=final.parent))
            else:
                fd, name = tempfile.mkstemp(prefix=".llmkit-", suffix=f"-{final.name}", dir=final.parent)
                os.close(fd)
                made = Path(name)
                mode &= 0o666
            os.chmod(made, stat.S_IMODE(mode))
        except OSError as exc:
            raise self.failed(exc) from exc
        return made

    def release(self, failed: bool) -> None:
        """End the claim: the lock goes; after a failure, a file or folder the claim made and the
        run never wrote goes too."""
        if failed and self.created and not self.written and _is_empty(self.target):
            _remove(self.target)
        if self._key is not None:
            let_go(self._key)
            self._key = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SideOutputs:
    """The side outputs of one run, claimed before it starts and held until it ends (a context
    manager). ``io`` gives the inputs and the contract's outputs they must differ from (``-o`` and
    ``--rejects`` are checked against the inputs here too, as the run would, but before the
    command does any work of its own); with
    ``lock_outputs``, ``-o`` and ``--rejects`` are locked now too (a command that runs several
    passes finds a locked output before the first pass, not after it)."""

    def __init__(self, io: ContractFiles | None = None, *, inputs: Sequence[str] = (), lock_outputs: bool = False) -> None:
        self.claimed: list[SideOutput] = []
        self._inputs: dict[Any, str] = {}
        self._outputs: dict[Any, str] = {}
        for path in [*inputs, *((io.inputs or ["-"]) if io is not None else [])]:
            for key in _identity(path, 0):
                self._inputs.setdefault(key, "standard input" if path == "-" else path)
        if io is None:
            return
        check_distinct_files(io.inputs or ["-"], io.output, io.rejects)  # now, not when the run opens them
        contract = [("-o/--output", io.output), ("--rejects", io.rejects)]
        try:
            for option, named in contract:
                if lock_outputs and named not in (None, "-"):
                    self.file(option, named)
                elif option == "-o/--output" or named is not None:
                    key = output_key(named)
                    if key is not None:
                        self._outputs.setdefault(key, "standard output" if named in (None, "-") else f"{option} {named}")
        except BaseException:
            self.close(failed=True)  # no ``with`` block will: the object was never made
            raise

    def file(self, option: str, path: str | os.PathLike[str] | None) -> SideOutput | None:
        """Claim the file ``path`` for ``option``; None when the option was not given. The file is
        not emptied: it is replaced whole (:meth:`SideOutput.replacing`), or appended to by the
        core's writer, which starts it anew once every output of its run is locked."""
        if path is None:
            return None
        return self._claim(option, os.fspath(path), "file", new=False, shared=False)

    def folder(self, option: str, path: str | os.PathLike[str] | None, *, new: bool = True) -> SideOutput | None:
        """Claim the folder ``path`` (made with its parents when missing). ``new``: it is written
        whole (a checkpoint) and must be new or empty; otherwise files are written into it one by
        one with :meth:`SideOutput.replacing` (figures)."""
        if path is None:
            return None
        return self._claim(option, os.fspath(path), "folder", new=new, shared=not new)

    def _claim(self, option: str, given: str, kind: Kind, new: bool, shared: bool) -> SideOutput:
        if given == "-":
            raise UsageError(f"{option} cannot be standard output (it carries the records); give a {kind}")
        target = Path(os.path.realpath(os.path.expanduser(given)))
        self._check_distinct(option, given, target)
        side = SideOutput(option, given, target, kind, shared_folder=shared)
        try:
            if kind == "file":
                _open_file(side)
            else:
                _open_folder(side, new)
        except OSError as exc:
            side.release(failed=True)
            raise side.failed(exc) from exc
        except BaseException:
            side.release(failed=True)
            raise
        self.claimed.append(side)
        for key in _identity(str(target), -1):
            self._outputs[key] = f"{option} {given}"
        return side

    def _check_distinct(self, option: str, given: str, target: Path) -> None:
        for key in _identity(str(target), -1):
            if key in self._inputs:
                raise UsageError(
                    f"{option} {given} is the input {self._inputs[key]}: writing it would destroy the input; write elsewhere"
                )
            if key in self._outputs:
                raise UsageError(f"{option} {given} and {self._outputs[key]} are the same file: give each output a file of its own")

    def close(self, failed: bool = False) -> None:
        """Release every claim (see :meth:`SideOutput.release`)."""
        while self.claimed:
            self.claimed.pop().release(failed)

    def __enter__(self) -> SideOutputs:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None) -> None:
        self.close(failed=kind is not None)


def _identity(path: str, fd: int) -> list[Any]:
    """The keys that name ``path`` for the distinctness rules: (device, inode) of a regular file
    or a folder, and its resolved path; none for a device or a FIFO (shared by nature). ``-`` is
    the file behind ``fd`` (0 for standard input)."""
    if path == "-":
        key = regular_file(None, fd) if fd >= 0 else None
        return [key] if key is not None else []
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return [os.path.realpath(path)]
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        return [(info.st_dev, info.st_ino), os.path.realpath(path)]
    return []


def _open_file(side: SideOutput) -> None:
    target = side.target
    if target.is_dir():
        raise OutputError(f"cannot write {side.option} {side.given}: it is a folder; give a file")
    if target.exists() and not target.is_file():
        side.kind = "device"  # /dev/null, a FIFO: written to directly, as -o is
        return
    if not os.access(target.parent, os.W_OK):  # the replacing file is made beside the target
        raise OutputError(f"cannot write {side.option} {side.given}: {target.parent} is not writable")
    try:
        side._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        side.created = True
    except FileExistsError:
        side._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)  # never truncated here
    side._key = hold(side._fd, side.given)


def _open_folder(side: SideOutput, new: bool) -> None:
    target = side.target
    if target.exists() and not target.is_dir():
        raise OutputError(f"cannot write {side.option} {side.given}: it exists and is not a folder")
    if target.exists():
        if new and any(target.iterdir()):
            raise UsageError(f"{side.option} {side.given} exists and is not empty; give a new folder")
    else:
        target.mkdir(parents=True)
        side.created = True
    writable = target.parent if new else target  # a new folder is made beside it, then renamed
    if not os.access(writable, os.W_OK):
        raise OutputError(f"cannot write {side.option} {side.given}: {writable} is not writable")
    side._fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    side._key = hold(side._fd, side.given)


def _is_empty(path: Path) -> bool:
    try:
        return not any(path.iterdir()) if path.is_dir() else path.stat().st_size == 0
    except OSError:
        return False


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        pass  # a leftover temporary file is harmless; the run's own error matters more
