"""Where the Ray executor's files live: a local path, or a URI of a pyarrow file system.

``-i``, ``-o`` and ``--rejects`` of ``--executor ray`` may be URIs that
``pyarrow.fs.FileSystem.from_uri`` opens (``s3://``, ``gs://``, ``hdfs://``, ``file://``, ...).
Each names a :class:`Place`: the file system, the path on it, and the name the user sees in
``FILE:LINE``, rejects' ``source`` and errors (the URI; for a file found under a folder or glob,
the URI of that file). A ``?query`` of a URI is the file system's options (``?region=...``,
``?endpoint_override=...``), so a glob in a URI uses ``*``, ``**`` and ``[...]``, not ``?``.

Part files are written whole: on the local file system and HDFS under a temporary name, then
moved into place (a rename); on an object store (S3, GCS, ...) straight to the final name, as an
object appears whole when its upload closes. So ``--resume`` reads every part as it is.

No lock guards a folder on another file system than the local one (an object store has no
``flock``): two runs writing the same ``s3://`` folder at once are not detected, and each
removes the other's parts when it starts without ``--resume``. A local folder, given as a path
or a ``file://`` URI, is locked by the executor as before.

pyarrow comes with the ``ray`` extra; it is imported inside the functions, as the Ray executor is.
"""

from __future__ import annotations

import fnmatch
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from llmkit.errors import BackendUnavailable, InputError, OutputError, UsageError
from llmkit.io import DATASET_MARKERS, Done, LineBatch, RecordBatch, read_line_batches, scan_done_stream

#: file systems where a part is written aside and renamed into place; elsewhere (object stores,
#: where a rename is a copy) straight to its name
_RENAMING = frozenset({"local", "hdfs"})
#: glob characters in a URI: ``?`` starts its query
_URI_MAGIC = re.compile(r"[*\[]")
_PARTS = "part-*.jsonl"
_TEMPORARIES = ".part-*.tmp"


@dataclass(frozen=True)
class Place:
    """A file or folder: its pyarrow file system, its path there, and its name for the user."""

    fs: Any
    path: str
    shown: str

    @property
    def local(self) -> bool:
        return bool(self.fs.type_name == "local")


def is_uri(text: str) -> bool:
    return "://" in text


def place_of(given: str, what: str) -> Place:
    """The place a path or URI names; ``what`` names the option in errors (``-o``, ``input``)."""
    from pyarrow import fs as pafs

    if not is_uri(given):
        return Place(pafs.LocalFileSystem(), os.path.abspath(given), given)
    try:
        filesystem, path = pafs.FileSystem.from_uri(given)
    except ValueError as exc:  # pyarrow's ArrowInvalid: not a URI, or a scheme it does not know
        raise UsageError(f"{what} {given}: pyarrow cannot open this URI ({exc}); percent-encode spaces and the like") from exc
    except OSError as exc:  # a file system that cannot start (HDFS without Java, ...)
        raise BackendUnavailable(f"{what} {given}: cannot reach its file system: {exc}") from exc
    return Place(filesystem, path, given)


def _file_in(base: Place, path: str) -> Place:
    """A file found under ``base``, named by its own URI (``base`` given as a URI) or path."""
    if not is_uri(base.shown):
        return Place(base.fs, path, os.path.join(base.shown, os.path.relpath(path, base.path)))
    parts = urlsplit(base.shown)
    # a local or HDFS path is absolute and follows the host; an object store's begins with the bucket
    shown = f"{parts.scheme}://{parts.netloc}{path}" if path.startswith("/") else f"{parts.scheme}://{path}"
    return Place(base.fs, path, shown)


def _reached(what: str, given: str, exc: OSError) -> UsageError | BackendUnavailable:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return UsageError(f"cannot open {what} {given}: No such file or directory")
    return BackendUnavailable(f"cannot read {what} {given}: {exc} (check the URI, the credentials and the network)")


# -- inputs ----------------------------------------------------------------------------------


def input_places(given: str, suffixes: tuple[str, ...]) -> list[Place]:
    """The files behind one ``-i`` URI, in a stable order: a file as given, a folder's files
    whose names end with ``suffixes`` (recursively, sorted by path), a glob's matches (sorted).
    A folder saved by ``datasets`` is refused: it is read whole, by ``datasets``, from a path."""
    location = given.partition("?")[0]
    if _URI_MAGIC.search(location[location.index("://") + 3:]):
        return _glob(given)
    from pyarrow import fs as pafs

    place = place_of(given, "input")
    try:
        info = place.fs.get_file_info(place.path)
        if info.type == pafs.FileType.File:
            return [place]
        if info.type != pafs.FileType.Directory:
            raise UsageError(f"cannot open input {given}: No such file or directory")
        markers = place.fs.get_file_info([f"{place.path.rstrip('/')}/{name}" for name in DATASET_MARKERS])
        found = place.fs.get_file_info(pafs.FileSelector(place.path, recursive=True))
    except OSError as exc:
        raise _reached("input", given, exc) from exc
    if any(marker.type == pafs.FileType.File for marker in markers):
        raise UsageError(
            f"input {given} is a folder saved by datasets, which --executor ray reads only from a path every node "
            "mounts: copy it there, or write it as Parquet (Dataset.to_parquet) and give that"
        )
    files = sorted(item.path for item in found if item.type == pafs.FileType.File and item.path.endswith(suffixes))
    if not files:
        raise UsageError(f"input folder {given} holds no .jsonl, .jsonl.gz or .parquet file")
    return [_file_in(place, path) for path in files]


def _glob(given: str) -> list[Place]:
    """A glob's matching files: the folder before its first pattern part is listed, the rest of
    the pattern is matched part by part (``*`` within a name, ``**`` across folders)."""
    from pyarrow import fs as pafs

    location, mark, query = given.partition("?")
    start = location.index("://") + 3
    parts = location[start:].split("/")
    first = next(i for i, part in enumerate(parts) if _URI_MAGIC.search(part))
    if first == 0:
        raise UsageError(f"input {given}: a glob cannot name the bucket or host; put the pattern after it")
    base = place_of(location[:start] + ("/".join(parts[:first]) or "/") + mark + query, "input")
    pattern = parts[first:]
    try:
        found = base.fs.get_file_info(pafs.FileSelector(base.path, recursive=len(pattern) > 1 or "**" in pattern,
                                                        allow_not_found=True))
    except OSError as exc:
        raise _reached("input", given, exc) from exc
    root = base.path.rstrip("/") + "/"
    files = sorted(item.path for item in found
                   if item.type == pafs.FileType.File and _matches(item.path[len(root):].split("/"), pattern))
    if not files:
        raise UsageError(f"input {given}: no file matches")
    return [_file_in(base, path) for path in files]


def _matches(names: list[str], pattern: list[str]) -> bool:
    """Whether a relative path (its parts) matches a glob (its parts), as ``glob.glob`` with
    ``recursive=True`` would: a name starting with a dot only where the pattern says so."""
    if not pattern:
        return not names
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(names[skip:], rest) for skip in range(len(names) + 1)
                   if not any(name.startswith(".") for name in names[:skip]))
    if not names or (names[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], head) and _matches(names[1:], rest)


def read_place_batches(place: Place, size: int) -> Iterator[LineBatch | RecordBatch]:
    """The contract's batches of a file on a file system: JSONL (gzip detected by its magic
    bytes) as raw lines, Parquet as records; each names the place's URI as its source."""
    if place.path.endswith(".parquet"):
        yield from _parquet_batches(place, size)
        return
    try:
        stream = place.fs.open_input_stream(place.path, compression=None)
    except OSError as exc:
        raise _reached("input", place.shown, exc) from exc
    with stream:
        yield from read_line_batches(place.shown, size, handle=stream)


def _parquet_batches(place: Place, size: int) -> Iterator[RecordBatch]:
    import pyarrow.parquet as pq

    try:
        with place.fs.open_input_file(place.path) as handle:
            first = 1
            for table in pq.ParquetFile(handle).iter_batches(batch_size=size):
                records = table.to_pylist()
                yield RecordBatch(place.shown, first, records)
                first += len(records)
    except FileNotFoundError as exc:
        raise _reached("input", place.shown, exc) from exc
    except (OSError, ValueError) as exc:  # pyarrow's errors: a damaged or unreadable table
        raise InputError(f"cannot read table: {exc}", place.shown) from exc


def inside(file: Place, folder: Place) -> bool:
    """Whether ``file`` lies under ``folder`` (on one file system; local paths with links resolved)."""
    if file.fs.type_name != folder.fs.type_name:
        return False
    if file.local:
        return os.path.realpath(folder.path) in [os.path.realpath(p) for p in _parents(file.path)]
    return file.path.startswith(folder.path.rstrip("/") + "/")


def same(a: Place, b: Place) -> bool:
    if a.fs.type_name != b.fs.type_name:
        return False
    if a.local:
        return os.path.realpath(a.path) == os.path.realpath(b.path)
    return a.path.rstrip("/") == b.path.rstrip("/")


def _parents(path: str) -> Iterator[str]:
    while (parent := os.path.dirname(path)) != path:
        yield parent
        path = parent


# -- output folders --------------------------------------------------------------------------


def prepare_folder(folder: Place, option: str) -> None:
    """Make the output folder (and its parents) unless it exists; a file there is refused."""
    from pyarrow import fs as pafs

    try:
        kind = folder.fs.get_file_info(folder.path).type
        if kind == pafs.FileType.File:
            raise UsageError(f"--executor ray writes a folder of part files, and {option} {folder.shown} is a file")
        if kind == pafs.FileType.NotFound:
            folder.fs.create_dir(folder.path, recursive=True)
    except OSError as exc:
        raise OutputError(f"cannot make the folder {option} {folder.shown}: {exc}") from exc


def _listed(folder: Place, pattern: str) -> list[Place]:
    from pyarrow import fs as pafs

    found = folder.fs.get_file_info(pafs.FileSelector(folder.path, allow_not_found=True))
    return [_file_in(folder, item.path) for item in sorted(found, key=lambda item: item.path)
            if item.type == pafs.FileType.File and fnmatch.fnmatchcase(os.path.basename(item.path), pattern)]


def list_parts(folder: Place) -> list[Place]:
    """The folder's part files, sorted by name."""
    try:
        return _listed(folder, _PARTS)
    except OSError as exc:
        raise _reached("folder", folder.shown, exc) from exc


def remove_parts(folder: Place) -> None:
    """A run without --resume starts the folder anew: its part files (and temporaries left by a
    killed run) go; any other file stays."""
    try:
        for part in _listed(folder, _PARTS) + _listed(folder, _TEMPORARIES):
            folder.fs.delete_file(part.path)
    except OSError as exc:
        raise OutputError(f"cannot remove the earlier parts of {folder.shown}: {exc}") from exc


def remove_temporaries(folder: Place) -> None:
    """Remove the partial parts (``.part-*.tmp``) a failed or killed write left: ``--resume``
    keeps the finished parts and runs the batches of these again."""
    try:
        for partial in _listed(folder, _TEMPORARIES):
            folder.fs.delete_file(partial.path)
    except OSError as exc:
        raise OutputError(f"cannot remove the partial parts of {folder.shown}: {exc}") from exc


def scan_parts(folder: Place, id_field: str, done: Done) -> None:
    """Add the ids (and rejected lines) the folder's parts hold to ``done``, for ``--resume``."""
    for part in list_parts(folder):
        try:
            with part.fs.open_input_stream(part.path, compression=None) as stream:
                scan_done_stream(stream, part.shown, id_field, done)
        except OSError as exc:
            raise _reached("part", part.shown, exc) from exc


def write_part(folder: Place, name: str, data: bytes | bytearray) -> None:
    """One batch's part, whole or not at all: on a file system that renames, written aside and
    moved into place; on an object store, uploaded to its name (visible once whole)."""
    final = folder.path.rstrip("/") + "/" + name
    target = final
    if folder.fs.type_name in _RENAMING:
        target = f"{folder.path.rstrip('/')}/.{name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        with folder.fs.open_output_stream(target, compression=None) as stream:
            stream.write(data)
        if target != final:
            folder.fs.move(target, final)
    except OSError as exc:
        raise OutputError(f"cannot write {_file_in(folder, final).shown}: {exc}") from exc
