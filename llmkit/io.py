"""JSONL streaming: reading inputs in batches of raw lines, writing whole lines, resume scans.

Inputs are JSONL files (``.gz`` read transparently), ``-`` for stdin, Parquet files, or
datasets saved with ``datasets.save_to_disk``. JSONL is read as raw bytes in batches and
parsed with orjson by the contract; the other formats arrive as records already parsed.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Union

import orjson

from llmkit.errors import InputError, OutputError, UsageError
from llmkit.outfiles import lock, output_key, regular_file

BOM = b"\xef\xbb\xbf"
DUMP_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY

#: orjson reads an integer beyond 64 bits as a float, silently losing digits. Such a number is a
#: run of 20 digits (or "-" and 19): with digits and "-" mapped to "0", finding one is a C scan,
#: ``bytes.translate`` then ``in`` (a regex over the batch took three times as long as parsing it).
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789-", b"0" * 11)
_LONG_NUMBER = b"0" * 20
#: any 20 consecutive bytes hold 4 bytes of every 5th: the sample a batch is scanned in first
_SAMPLED_NUMBER = b"0" * 4
#: lines joined for one scan: a few KiB, so the temporaries reuse the allocator's free memory
#: (one copy of a whole batch made the writer fault on fresh pages: 15% slower end to end)
_SCAN_LINES = 128
#: a \uD800-\uDFFF escape whose backslash is not itself escaped
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass(slots=True)
class LineBatch:
    """Raw JSONL lines from one source; ``first_line`` is the 1-based number of ``lines[0]``."""

    source: str
    first_line: int
    lines: list[bytes]
    #: the input could not be read past these lines (a truncated .gz): raised after the batch
    error: InputError | None = field(default=None)


@dataclass(slots=True)
class RecordBatch:
    """Records already parsed (Parquet, datasets); ``first_line`` is the 1-based row number."""

    source: str
    first_line: int
    records: list[dict[str, Any]]


#: files that mark a folder saved by ``datasets.save_to_disk`` (one split, or several)
DATASET_MARKERS = ("dataset_info.json", "dataset_dict.json")


def is_dataset_dir(path: Path) -> bool:
    """Whether ``path`` is a folder saved by ``datasets`` (read whole, not as a folder of files)."""
    return path.is_dir() and any((path / marker).exists() for marker in DATASET_MARKERS)


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return _gunzipped(open(path, "rb"))  # noqa: SIM115 - closed by the reader
    except OSError as exc:
        raise UsageError(f"cannot open input {path}: {exc.strerror or exc}") from exc


def _gunzipped(handle: Any) -> BinaryIO:
    """``handle``, or a gzip reader over it when it starts with gzip's magic bytes, whatever the
    file is called. A stream that cannot peek (a pyarrow file system's) is buffered first."""
    if not hasattr(handle, "peek"):
        handle = io.BufferedReader(handle)
    if handle.peek(2)[:2] == b"\x1f\x8b":
        return gzip.open(handle, "rb")  # type: ignore[return-value]
    return handle  # type: ignore[no-any-return]


#: Records per batch, or a function asked before each batch: a step whose backend opens on its
#: first batch (a vllm engine wants bigger batches than a model held in this process) can size
#: the next ones by it.
BatchSize = Union[int, Callable[[], int]]


def read_line_batches(path: str, batch_size: BatchSize, handle: BinaryIO | None = None) -> Iterator[LineBatch]:
    """Raw lines of a JSONL file in batches; a UTF-8 BOM at the start is dropped.

    ``handle`` is the file already open (a stream of a pyarrow file system, which the Ray
    executor reads URIs through): it is read instead of opening ``path``, which then only names
    it in ``FILE:LINE``; gzip is detected the same way, and the caller closes it."""
    source = "<stdin>" if path == "-" else path
    opened = handle is None
    handle = _open_binary(path) if handle is None else _gunzipped(handle)
    size = batch_size if callable(batch_size) else lambda: batch_size
    try:
        first = 1
        while True:
            lines, failure = _read_lines(handle, size())
            error = None
            if failure is not None:
                error = InputError(f"cannot read: {failure}", f"{source}:{first + len(lines)}")
                error.__cause__ = failure
            elif not lines:
                return
            if first == 1 and lines and lines[0].startswith(BOM):
                lines[0] = lines[0][len(BOM):]
            yield LineBatch(source, first, lines, error)
            if error is not None:
                return
            first += len(lines)
    finally:
        if opened and handle is not sys.stdin.buffer:
            handle.close()


def _read_lines(handle: BinaryIO, count: int) -> tuple[list[bytes], Exception | None]:
    """Up to ``count`` lines, and the error that stopped the reading early, if any."""
    lines: list[bytes] = []
    try:
        if isinstance(handle, gzip.GzipFile):
            # One line at a time: a truncated or corrupt stream fails in the middle of a batch,
            # and the whole lines read before that point must still be processed.
            append = lines.append
            for line in islice(handle, count):
                append(line)
        else:
            lines = list(islice(handle, count))
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        return lines, exc
    return lines, None


def read_table_batches(path: str, batch_size: int) -> Iterator[RecordBatch]:
    """Rows of a Parquet file or a saved dataset, streamed in order, as dicts."""
    from llmkit.errors import require

    datasets = require("datasets", "datasets", f"reading {path}")
    location = Path(path)
    try:
        if is_dataset_dir(location):
            table = datasets.load_from_disk(str(location))  # memory-mapped Arrow, read lazily
            if isinstance(table, datasets.DatasetDict):
                raise UsageError(f"{path} holds several splits ({', '.join(table)}); pass one split's folder")
            rows = table.iter(batch_size=batch_size)
        else:
            stream = datasets.load_dataset("parquet", data_files=str(location), split="train", streaming=True)
            rows = stream.iter(batch_size=batch_size)
        first = 1
        for columns in rows:
            names = list(columns)
            count = len(columns[names[0]]) if names else 0
            records = [{name: columns[name][i] for name in names} for i in range(count)]
            yield RecordBatch(path, first, records)
            first += count
    except (UsageError, InputError):
        raise
    except Exception as exc:  # pyarrow / datasets errors: a bad or unreadable table
        raise InputError(f"cannot read table: {exc}", path) from exc


def is_table(path: str) -> bool:
    location = Path(path)
    return path != "-" and (location.suffix == ".parquet" or is_dataset_dir(location))


def read_batches(path: str, batch_size: BatchSize) -> Iterator[LineBatch | RecordBatch]:
    """Batches of ``path``; JSONL asks a callable ``batch_size`` before each batch, a table once."""
    if path != "-" and Path(path).is_dir() and not is_dataset_dir(Path(path)):
        raise UsageError(f"input {path} is a folder but not a dataset saved with datasets.save_to_disk")
    if is_table(path):
        return read_table_batches(path, batch_size() if callable(batch_size) else batch_size)
    return read_line_batches(path, batch_size)


class LineWriter:
    """Writes whole JSONL lines, one write and one flush per batch, so a killed run leaves at
    most one torn final line (which ``--resume`` cuts off).

    A file is opened without truncating it and held under an exclusive ``flock`` until
    :meth:`close` (or the end of the process, however it ends): a second run writing the same
    file exits 75 instead of interleaving its lines. Lines are appended: :meth:`start_anew`
    empties the file, once every output of the run is locked. A write that fails (disk full,
    I/O error) is OutputError (74), and so is a file that cannot be opened for writing (a missing
    folder, no permission, a folder where a file is wanted): ``option`` names it in the message.
    """

    def __init__(self, path: str | None, option: str = "") -> None:
        self.path = path
        self.shown = "standard output" if path is None or path == "-" else path
        if path is None or path == "-":
            self.handle: BinaryIO = sys.stdout.buffer
            self.owned = False
            return
        try:
            self.handle = open(path, "ab")  # noqa: SIM115 - truncated (start_anew) only once locked
        except OSError as exc:
            named = f"{option} {path}" if option else path
            raise OutputError(f"{named} cannot be written: {exc.strerror or exc}") from exc
        self.owned = True
        try:
            self.regular = stat.S_ISREG(os.fstat(self.handle.fileno()).st_mode)
            if self.regular:  # /dev/null, a FIFO or a terminal is shared by nature
                lock(self.handle.fileno(), path)
        except BaseException:
            self.handle.close()
            raise

    def start_anew(self) -> None:
        """Empty the file (a run without ``--resume``)."""
        if self.owned and self.regular:
            self.handle.truncate(0)

    def write_records(self, records: list[dict[str, Any]]) -> None:
        if records:
            buffer = dump_lines(records)
            try:
                self.handle.write(buffer)
                self.handle.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise self._failed(exc) from exc

    def close(self) -> None:
        if self.owned:
            try:
                self.handle.close()
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise self._failed(exc) from exc

    def _failed(self, exc: OSError) -> OutputError:
        if not self.owned:
            _drop_buffered_stdout()
        return OutputError(
            f"cannot write {self.shown}: {exc.strerror or exc}; the lines written before are kept"
            + (" (--resume continues from them)" if self.owned else "")
        )


def dump_lines(records: list[dict[str, Any]]) -> bytearray:
    """The records as JSONL, one line each, as :class:`LineWriter` writes them."""
    # Appending each line to one bytearray frees every small bytes object at once; a list of
    # them for b"".join costs a page fault per line on fresh memory (measured 6x slower).
    buffer = bytearray()
    dumps = orjson.dumps
    for record in records:
        try:
            buffer += dumps(record, default=_to_json, option=DUMP_OPTIONS)
        except orjson.JSONEncodeError:
            buffer += _dumps_fallback(record)
    return buffer


def _drop_buffered_stdout() -> None:
    """Point stdout at /dev/null after a failed write, so that the interpreter's last flush of
    what is still buffered does not fail again (a traceback after the error message)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def check_distinct_files(inputs: Sequence[str], output: str | None, rejects: str | None) -> None:
    """UsageError (exit 2) when an output is one of the inputs, or the output and the rejects
    are one file; checked before anything is opened for writing.

    Files are compared by device and inode, so a symlink, a hard link, ``./name`` and a shell
    redirection (``< in.jsonl``, ``>> in.jsonl``) are recognised; an output that does not exist
    yet, by its resolved path. Devices, FIFOs and terminals (``/dev/null`` for both outputs)
    are not files a run could destroy, and pass.
    """
    sources: dict[Any, str] = {}
    for path in inputs:
        key = regular_file(path, 0)
        if key is not None:
            sources.setdefault(key, "standard input" if path == "-" else path)
    outputs: list[tuple[str, str | None]] = [("-o/--output", output)]
    if rejects is not None:
        outputs.append(("--rejects", rejects))
    for option, target in outputs:
        key = regular_file(target, 1)
        if key in sources:
            where = "standard output" if target in (None, "-") else f"{option} {target}"
            raise UsageError(f"{where} is the input {sources[key]}: writing it would destroy the input; write elsewhere")
    if rejects is None:
        return
    out_key, rejects_key = output_key(output), output_key(rejects)
    if out_key is not None and out_key == rejects_key:
        raise UsageError(
            f"--rejects {rejects} and the output ({'standard output' if output in (None, '-') else output}) are the same file: "
            "their lines would interleave; give the rejects a file of their own"
        )


def _to_json(value: Any) -> Any:
    """What orjson cannot write by itself: bytes (a binary column of a Parquet file or a saved
    dataset) become standard base64 text, so a record keeps every field as JSON."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    tolist = getattr(value, "tolist", None)  # numpy values, in the json module's fallback
    if callable(tolist):
        return tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as null, as orjson writes them (the json module would
    write ``NaN``, which is not JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _dumps_fallback(record: dict[str, Any]) -> bytes:
    """A record orjson cannot write: an integer beyond 64 bits, strings with lone surrogates
    (from a JSON ``\\ud800`` escape), or keys that are not strings. The json module writes big
    integers exactly and escapes surrogates, so the data survives the round trip; anything else
    it cannot write either is a bug in a step."""
    try:
        plain = _finite(record)
        text = json.dumps(plain, ensure_ascii=False, allow_nan=False, default=_to_json)
        try:
            return (text + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: only an escape can carry it
            return (json.dumps(plain, ensure_ascii=True, allow_nan=False, default=_to_json) + "\n").encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"cannot write a record as JSON: {exc}") from exc


def canonical_json(value: Any, sort_keys: bool = False) -> bytes:
    """The JSON of ``value`` as orjson writes it, or as the json module does for what orjson
    refuses (big integers, lone surrogates): a stable key for shards and resume."""
    try:
        return orjson.dumps(value, default=_to_json, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except orjson.JSONEncodeError:
        text = json.dumps(_finite(value), sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=_to_json)
        return text.encode("utf-8", "surrogatepass")


def may_hold_big_int(lines: list[bytes]) -> bool:
    """Whether the lines have a run of 20 digits (or "-" and 19), where orjson may lose digits.
    False positives (a long digit string inside a string) only cost an exact parse."""
    chunks = (b"".join(lines[start : start + _SCAN_LINES]) for start in range(0, len(lines), _SCAN_LINES))
    return any(map(_long_number_in, chunks))


def _long_number_in(data: bytes) -> bool:
    # Every 5th byte first: that fifth of the work rules out almost all data (only runs of 16
    # digits or more pass); then every byte.
    if _SAMPLED_NUMBER not in data[::5].translate(_DIGITS_TO_ZERO):
        return False
    return _LONG_NUMBER in data.translate(_DIGITS_TO_ZERO)


def has_surrogate_escape(line: bytes) -> bool:
    return b"\\u" in line and _SURROGATE_ESCAPE.search(line) is not None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range for a double")
    return value


def loads_lenient(line: bytes) -> Any:
    """Parse a line with the json module: exact integers (up to Python's 4300 digits), and lone surrogate escapes
    (valid JSON, invalid Unicode) accepted. NaN, Infinity, numbers beyond a double and invalid
    UTF-8 are refused as orjson refuses them. Raises ValueError when the line is not JSON."""
    try:
        return json.loads(line.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def loads_exact(line: bytes) -> Any:
    """``orjson.loads``, with integers beyond 64 bits kept exact. Raises orjson.JSONDecodeError."""
    value = orjson.loads(line)
    if _long_number_in(line):
        try:
            return loads_lenient(line)
        except ValueError:  # orjson read it: only json's recursion limit can refuse it here
            pass
    return value


def read_jsonl(path: str, what: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    """The JSON objects of a side file a subcommand reads besides its input (a file of heads,
    neurons, needles, ...), each with its ``FILE:LINE``; ``.gz`` read transparently, blank lines
    skipped, integers beyond 64 bits kept exact. ``what`` names the option in errors. A file that
    cannot be read is a UsageError (exit 2); a line that is not a JSON object, or a damaged .gz,
    an InputError (65)."""
    file = Path(path).expanduser()
    label = f"{what} {path}" if what else path
    try:
        handle = gzip.open(file, "rb") if file.suffix == ".gz" else open(file, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read {label}: {exc.strerror or exc}") from exc
    number = 0
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = loads_exact(line)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"invalid JSON: {exc}", where) from None
                if not isinstance(record, dict):
                    raise InputError("expected a JSON object", where)
                yield record, where
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz, a failing disk
            raise InputError(f"cannot read past this line: {exc}", f"{path}:{number}") from None


@dataclass(slots=True)
class Done:
    """What an earlier run already wrote, for ``--resume``: record ids, and the ``FILE:LINE``
    of rejected lines that had no id (lines that were not JSON objects), FILE resolved."""

    ids: set[Any] = field(default_factory=set)
    lines: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.ids) + len(self.lines)


def scan_done(path: str, id_field: str, done: Done | None = None) -> Done:
    """Add what a JSONL output (or rejects file) already holds to ``done``, for ``--resume``.

    A torn last line (a run killed in the middle of a write) is cut off the file first, so the
    appended records start on a line of their own and nothing is duplicated. The file is read in
    blocks: an output of many gigabytes costs its ids in memory, not its size.
    """
    done = done if done is not None else Done()
    location = Path(path)
    if not location.exists():
        return done
    with open(location, "r+b") as handle:
        end = _cut_torn_tail(handle)
        _note_done_blocks(_line_blocks(handle, end), path, id_field, done)
    return done


def scan_done_stream(handle: Any, source: str, id_field: str, done: Done) -> Done:
    """:func:`scan_done` for a file already open for reading (a part file read through a
    pyarrow file system): written whole, it has no torn tail to cut. ``source`` names it in
    errors."""
    _note_done_blocks(_line_blocks(handle, None), source, id_field, done)
    return done


def _note_done_blocks(blocks: Iterator[list[bytes]], source: str, id_field: str, done: Done) -> None:
    number = 0
    for lines in blocks:
        exact = may_hold_big_int(lines)  # ids beyond 64 bits must match the input's exactly
        for line in lines:
            number += 1
            _note_done(line, exact, id_field, done, f"{source}:{number}")


def _note_done(line: bytes, exact: bool, id_field: str, done: Done, where: str) -> None:
    if not line.strip():
        return
    try:
        record = loads_exact(line) if exact else orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            record = loads_lenient(line)  # a kept record with a lone surrogate escape
        except ValueError:
            raise InputError(f"cannot resume: not JSON ({exc})", where) from exc
    if not isinstance(record, dict):
        return
    if id_field in record:
        done.ids.add(id_key(record[id_field]))
    elif isinstance(reject := record.get("reject"), dict) and isinstance(reject.get("source"), str):
        done.lines.add(resolved_source(reject["source"]))  # a bad input line, known by where it was


def resolved_source(source: str) -> str:
    """``FILE:LINE`` with FILE resolved (from the current folder, links followed), so that
    ``in.jsonl``, ``./in.jsonl``, its absolute path and a link to it name one input."""
    name, colon, line = source.rpartition(":")
    if not colon or not name or name == "<stdin>" or "://" in name:  # a URI names one file already
        return source
    return f"{os.path.realpath(name)}:{line}"


def _cut_torn_tail(handle: BinaryIO, step: int = 1 << 16) -> int:
    """Truncate ``handle`` after its last newline, reading back from the end; the new size."""
    size = handle.seek(0, os.SEEK_END)
    position, end = size, 0
    while position > 0:
        start = max(0, position - step)
        handle.seek(start)
        newline = handle.read(position - start).rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        position = start
    if end < size:
        handle.truncate(end)
    return end


def _line_blocks(handle: Any, end: int | None, block: int = 1 << 23) -> Iterator[list[bytes]]:
    """The first ``end`` bytes of ``handle`` (whole lines), as lists of lines, block by block;
    with ``end`` None, all that a stream that cannot seek has left."""
    if end is not None:
        handle.seek(0)
    rest, left = b"", end
    while left is None or left > 0:
        chunk = handle.read(block if left is None else min(block, left))
        if not chunk:
            break
        if left is not None:
            left -= len(chunk)
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        yield data[:cut].splitlines()
    if rest:
        yield [rest]


def id_key(value: Any) -> Any:
    """A hashable key for an id value (ids can be any JSON value; bytes as written, base64)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _to_json(value)
    return canonical_json(value)
