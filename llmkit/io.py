"""JSONL streaming: reading inputs in batches of raw lines, writing whole lines, resume scans.

Inputs are JSONL files (``.gz`` read transparently), ``-`` for stdin, Parquet files, or
datasets saved with ``datasets.save_to_disk``. JSONL is read as raw bytes in batches and
parsed with orjson by the contract; the other formats arrive as records already parsed.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from llmkit.errors import InputError, UsageError

BOM = b"\xef\xbb\xbf"
DUMP_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY


@dataclass(slots=True)
class LineBatch:
    """Raw JSONL lines from one source; ``first_line`` is the 1-based number of ``lines[0]``."""

    source: str
    first_line: int
    lines: list[bytes]


@dataclass(slots=True)
class RecordBatch:
    """Records already parsed (Parquet, datasets); ``first_line`` is the 1-based row number."""

    source: str
    first_line: int
    records: list[dict[str, Any]]


def _is_dataset_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists())


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the reader
        if handle.peek(2)[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            return gzip.open(handle, "rb")  # type: ignore[return-value]
        return handle
    except OSError as exc:
        raise UsageError(f"cannot open input {path}: {exc.strerror or exc}") from exc


def read_line_batches(path: str, batch_size: int) -> Iterator[LineBatch]:
    """Raw lines of a JSONL file in batches; a UTF-8 BOM at the start is dropped."""
    source = "<stdin>" if path == "-" else path
    handle = _open_binary(path)
    try:
        first = 1
        while True:
            try:
                lines = list(islice(handle, batch_size))
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise InputError(f"cannot read: {exc}", f"{source}:{first}") from exc
            if not lines:
                return
            if first == 1 and lines[0].startswith(BOM):
                lines[0] = lines[0][len(BOM):]
            yield LineBatch(source, first, lines)
            first += len(lines)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def read_table_batches(path: str, batch_size: int) -> Iterator[RecordBatch]:
    """Rows of a Parquet file or a saved dataset, streamed in order, as dicts."""
    from llmkit.errors import require

    datasets = require("datasets", "datasets", f"reading {path}")
    location = Path(path)
    try:
        if _is_dataset_dir(location):
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
    return path != "-" and (location.suffix == ".parquet" or _is_dataset_dir(location))


def read_batches(path: str, batch_size: int) -> Iterator[LineBatch | RecordBatch]:
    if path != "-" and Path(path).is_dir() and not _is_dataset_dir(Path(path)):
        raise UsageError(f"input {path} is a folder but not a dataset saved with datasets.save_to_disk")
    if is_table(path):
        return read_table_batches(path, batch_size)
    return read_line_batches(path, batch_size)


class LineWriter:
    """Writes whole JSONL lines, one write and one flush per batch, so a killed run leaves at
    most one torn final line (which ``--resume`` cuts off)."""

    def __init__(self, path: str | None, append: bool = False) -> None:
        self.path = path
        if path is None or path == "-":
            self.handle: BinaryIO = sys.stdout.buffer
            self.owned = False
        else:
            try:
                self.handle = open(path, "ab" if append else "wb")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
            self.owned = True

    def write_records(self, records: list[dict[str, Any]]) -> None:
        if records:
            # Appending each line to one bytearray frees every small bytes object at once; a
            # list of them for b"".join costs a page fault per line on fresh memory (measured 6x slower).
            buffer = bytearray()
            dumps = orjson.dumps
            for record in records:
                try:
                    buffer += dumps(record, option=DUMP_OPTIONS)
                except orjson.JSONEncodeError:
                    buffer += _dumps_fallback(record)
            self.handle.write(buffer)
            self.handle.flush()

    def close(self) -> None:
        if self.owned:
            self.handle.close()


def _dumps_fallback(record: dict[str, Any]) -> bytes:
    """A record orjson cannot write: strings with lone surrogates (from a JSON ``\\ud800``
    escape), or keys that are not strings. The json module escapes surrogates, so the data
    survives the round trip; anything else it cannot write either is a bug in a step."""
    import json

    try:
        return (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot write a record as JSON: {exc}") from exc


def loads_lenient(line: bytes) -> Any:
    """Parse a line orjson refused, with the json module: it accepts lone surrogate escapes
    (valid JSON, invalid Unicode). Raises ValueError when the line is not JSON at all."""
    import json

    return json.loads(line)


def scan_done_ids(path: str, id_field: str) -> set[Any]:
    """Ids of the records already in a JSONL output, for ``--resume``.

    A torn last line (a run killed in the middle of a write) is cut off the file first, so the
    appended records start on a line of their own and nothing is duplicated.
    """
    done: set[Any] = set()
    location = Path(path)
    if not location.exists():
        return done
    with open(location, "r+b") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            handle.truncate(end)
    for number, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            try:
                record = loads_lenient(line)  # a kept record with a lone surrogate escape
            except ValueError:
                raise InputError(f"cannot resume: not JSON ({exc})", f"{path}:{number}") from exc
        if isinstance(record, dict) and id_field in record:
            done.add(id_key(record[id_field]))
    return done


def id_key(value: Any) -> Any:
    """A hashable key for an id value (ids can be any JSON value)."""
    return value if isinstance(value, (str, int, float, bool)) or value is None else orjson.dumps(value)
