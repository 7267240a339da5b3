"""The JSONL contract, implemented once: every subcommand runs its step through :func:`run_step`.

The core owns inputs, outputs, rejects, sharding, resume, limits, batching, progress and the
closing summary; a plugin supplies a :class:`~llmkit.step.Step` and gets all of it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any

import orjson
import typer

from llmkit.errors import InputError, OutputClosed, UsageError
from llmkit.io import LineBatch, LineWriter, id_key, loads_lenient, read_batches, scan_done_ids
from llmkit.options import option_set
from llmkit.progress import Progress
from llmkit.step import Reject, Step
from llmkit.summary import Summary

_PANEL = "Input and output"


class OnError(str, Enum):
    fail = "fail"
    skip = "skip"


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``K/N`` with 1 <= K <= N, or None."""
    if value is None:
        return None
    try:
        k_text, n_text = value.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise UsageError(f"--shard must look like K/N (e.g. 1/4), got {value!r}") from None
    if n < 1 or not 1 <= k <= n:
        raise UsageError(f"--shard {value}: need 1 <= K <= N")
    return k, n


@dataclass
class IOOptions:
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="Input JSONL (.gz ok), Parquet or saved dataset; repeatable; - = stdin.", rich_help_panel=_PANEL),
    ] = None
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output JSONL (default: stdout).", rich_help_panel=_PANEL)
    ] = None
    rejects: Annotated[
        str | None, typer.Option(help="Write rejected records here, each with a 'reject' field.", rich_help_panel=_PANEL)
    ] = None
    on_error: Annotated[
        OnError, typer.Option(help="A line that is not a JSON object: fail (exit 65) or skip (to --rejects).", rich_help_panel=_PANEL)
    ] = OnError.fail
    shard: Annotated[
        str | None, typer.Option(metavar="K/N", help="Process only the K-th of N disjoint parts (by id hash).", rich_help_panel=_PANEL)
    ] = None
    resume: Annotated[
        bool, typer.Option(help="Skip records whose id is already in --output (and --rejects); append the rest.", rich_help_panel=_PANEL)
    ] = False
    id_field: Annotated[str, typer.Option(help="Field holding the record id.", rich_help_panel=_PANEL)] = "id"
    limit: Annotated[int | None, typer.Option(min=0, help="Stop after this many records.", rich_help_panel=_PANEL)] = None
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Records per batch (default: the subcommand's).", rich_help_panel=_PANEL)
    ] = None
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary on stderr.", rich_help_panel=_PANEL)] = False

    def validate(self) -> tuple[int, int] | None:
        if self.resume and (self.output is None or self.output == "-"):
            raise UsageError("--resume needs --output FILE (it reads the ids already written there)")
        return parse_shard(self.shard)


#: Decorator that adds the contract's options to a Typer command and passes ``io: IOOptions``.
io_options = option_set(IOOptions, "io")


@dataclass(slots=True)
class _Batch:
    """Records of one input source with their 1-based line (or row) numbers, side by side."""

    source: str
    records: list[dict[str, Any]]
    lines: list[int]
    #: records the contract itself rejects (by object identity); the step never sees them
    prerejected: dict[int, Reject] = field(default_factory=dict)

    def where(self, index: int) -> str:
        return f"{self.source}:{self.lines[index]}"


@dataclass
class _Run:
    options: IOOptions
    step: Step
    shard: tuple[int, int] | None
    done: set[Any] = field(default_factory=set)
    summary: Summary = field(default_factory=Summary)
    position: int = 0
    taken: int = 0
    rejects: LineWriter | None = None

    @property
    def filters(self) -> bool:
        return self.shard is not None or self.options.resume or self.options.limit is not None


def run_step(step: Step, options: IOOptions) -> Summary:
    """Stream the inputs through ``step`` under the JSONL contract. Returns the summary."""
    shard = options.validate()
    if step.aggregate and (shard is not None or options.resume):
        raise UsageError(f"{step.name} analyses its whole input at once: --shard and --resume do not apply")
    run = _Run(options, step, shard)
    if options.resume:
        run.done = scan_done_ids(options.output, options.id_field)  # type: ignore[arg-type]
        if options.rejects:
            run.done |= scan_done_ids(options.rejects, options.id_field)
        run.summary.resumed = len(run.done)
    out = LineWriter(options.output, append=options.resume)
    rejects = run.rejects = LineWriter(options.rejects, append=options.resume) if options.rejects else None
    progress = Progress(enabled=not options.quiet)
    try:
        _stream(run, out, rejects, progress)
    except BrokenPipeError as exc:
        raise OutputClosed() from exc
    finally:
        run.summary.seconds = time.monotonic() - run.summary.started
        step.close()
        _close_quietly(out)
        if rejects:
            rejects.close()
    if not options.quiet:
        run.summary.print()
    return run.summary


def _close_quietly(out: LineWriter) -> None:
    try:
        out.close()
    except BrokenPipeError:
        pass


def _stream(run: _Run, out: LineWriter, rejects: LineWriter | None, progress: Progress) -> None:
    step = run.step
    with progress:
        step.open()
        for batch, error in _batches(run):
            if batch.records:
                _process(run, batch, out, rejects)
                progress.update(run.summary)
            if error is not None:
                raise error
        extra = list(step.finish())
        out.write_records(extra)
        run.summary.written += len(extra)


#: The batch a step is processing, and its records' sources by object identity (built on
#: first use, so runs that never ask pay nothing per record).
_current: list[_Batch] = []
_sources: dict[int, str] = {}


def source_of(record: dict[str, Any]) -> str | None:
    """Where a record came from (``FILE:LINE``), for a record of the batch being processed.

    Steps use it to name the line in an ``InputError`` that must stop the run.
    """
    if not _sources and _current:
        batch = _current[0]
        _sources.update((id(r), batch.where(i)) for i, r in enumerate(batch.records))
    return _sources.get(id(record))


def _process(run: _Run, batch: _Batch, out: LineWriter, rejects: LineWriter | None) -> None:
    todo = batch.records
    if batch.prerejected:
        todo = [r for r in batch.records if id(r) not in batch.prerejected]
    _current.append(batch)
    try:
        outcomes = run.step.process(todo) if todo else []
    finally:
        _current.clear()
        _sources.clear()
    if len(outcomes) != len(todo):
        raise RuntimeError(f"step {run.step.name!r} returned {len(outcomes)} outcomes for {len(todo)} records")
    if batch.prerejected:
        given = iter(outcomes)
        outcomes = [batch.prerejected.get(id(r)) or next(given) for r in batch.records]
    if all(type(o) is dict for o in outcomes):  # the common case: everything kept
        kept = outcomes
    else:
        kept, rejected = [], []
        for index, outcome in enumerate(outcomes):
            if type(outcome) is dict:
                kept.append(outcome)
            elif isinstance(outcome, Reject):
                run.summary.count_reject(outcome.reason)
                rejected.append(_reject_record(batch.records[index], batch.where(index), outcome, run.step.name))
        if rejects is not None:
            rejects.write_records(rejected)
    out.write_records(kept)  # type: ignore[arg-type]
    run.summary.written += len(kept)


def _reject_record(record: dict[str, Any], source: str, reject: Reject, step_name: str) -> dict[str, Any]:
    info: dict[str, Any] = {"stage": reject.stage or step_name, "reason": reject.reason}
    if reject.detail is not None:
        info["detail"] = reject.detail
    info["source"] = source
    return {**record, "reject": info}


def _batches(run: _Run) -> Iterator[tuple[_Batch, InputError | None]]:
    """Batches of parsed, sharded, resumed and limited records, with a fatal error to raise
    after the batch (so the valid records before a bad line are still written)."""
    options = run.options
    size = options.batch_size or run.step.batch_size
    for path in options.inputs or ["-"]:
        for raw in read_batches(path, size):
            if isinstance(raw, LineBatch):
                batch, error = _parse(run, raw)
            else:
                lines = list(range(raw.first_line, raw.first_line + len(raw.records)))
                batch, error = _Batch(raw.source, raw.records, lines), None
                run.summary.read += len(raw.records)
            if run.filters:
                batch = _filter(run, batch)
            yield batch, error
            if error is not None or (options.limit is not None and run.taken >= options.limit):
                return


def _parse(run: _Run, raw: LineBatch) -> tuple[_Batch, InputError | None]:
    loads = orjson.loads
    try:  # fast path: every line is a JSON object
        records = [loads(line) for line in raw.lines]
        if all(type(r) is dict for r in records):
            run.summary.read += len(records)
            lines = list(range(raw.first_line, raw.first_line + len(records)))
            return _Batch(raw.source, records, lines), None
    except orjson.JSONDecodeError:
        pass
    batch = _Batch(raw.source, [], [])
    for offset, line in enumerate(raw.lines):
        number = raw.first_line + offset
        if not line.strip():
            continue  # blank lines carry no record
        try:
            record = loads(line)
            problem = None if type(record) is dict else f"expected a JSON object, got {_json_type(record)}"
        except orjson.JSONDecodeError as exc:
            problem = f"invalid JSON: {exc}"
            record = _lone_surrogate_record(line)
            if record is not None:
                detail = "a string holds a lone surrogate escape (valid JSON, not valid Unicode)"
                batch.prerejected[id(record)] = Reject("invalid_unicode", detail, "input")
                problem = None
        if problem is None:
            run.summary.read += 1
            batch.records.append(record)
            batch.lines.append(number)
            continue
        run.summary.invalid += 1
        if run.options.on_error is OnError.fail:
            return batch, InputError(problem, f"{raw.source}:{number}")
        _write_invalid(run, line, problem, f"{raw.source}:{number}")
    return batch, None


def _lone_surrogate_record(line: bytes) -> dict[str, Any] | None:
    """The record of a line orjson refused only because a string holds a lone surrogate
    (``"\\ud800"``): tokenizers and UTF-8 encoders fail on it, so the contract rejects it on
    its own (kept whole in the rejects) instead of stopping the run."""
    try:
        record = loads_lenient(line)
    except ValueError:
        return None
    return record if type(record) is dict else None


def _write_invalid(run: _Run, line: bytes, problem: str, source: str) -> None:
    run.summary.count_reject("invalid_line")
    if run.rejects is not None:
        raw = line.rstrip(b"\r\n").decode("utf-8", "replace")
        reject = {"stage": "input", "reason": "invalid_line", "detail": problem, "source": source}
        run.rejects.write_records([{"raw": raw, "reject": reject}])


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _filter(run: _Run, batch: _Batch) -> _Batch:
    options, kept = run.options, _Batch(batch.source, [], [])
    id_field = options.id_field
    for record, line in zip(batch.records, batch.lines):
        position = run.position
        run.position += 1
        has_id = id_field in record
        if run.shard is not None:
            k, n = run.shard
            key = orjson.dumps(record[id_field]) if has_id else orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            if zlib.crc32(key) % n != k - 1:
                continue
        if options.resume:
            if not has_id:
                record[id_field] = position  # the input position is the id; written so a rerun finds it
            if id_key(record[id_field]) in run.done:
                run.summary.skipped += 1
                continue
        if options.limit is not None and run.taken >= options.limit:
            break
        run.taken += 1
        kept.records.append(record)
        kept.lines.append(line)
    kept.prerejected = batch.prerejected
    return kept
