"""The JSONL contract, implemented once: every subcommand runs its step through
:func:`llmkit.run_step` (in :mod:`llmkit.executors.run`), which hands it to an executor.

The core owns inputs, outputs, rejects, sharding, resume, limits, batching, progress and the
closing summary; a plugin supplies a :class:`~llmkit.step.Step` and gets all of it.

This module holds what every executor shares: the options, how a batch read from an input is
parsed and filtered (:func:`parse_batch`) and how the step's outcomes for it are checked, counted
and written (:func:`process_batch`). Where the step runs is an executor's business
(``llmkit.executors``: ``local``, this process; ``ray_driver``, a Ray cluster); the executors import
this module, never the reverse.
"""

from __future__ import annotations

import base64
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, cast

import orjson
import typer

from llmkit.errors import InputError, UsageError
from llmkit.io import (
    Done,
    LineBatch,
    LineWriter,
    RecordBatch,
    canonical_json,
    has_surrogate_escape,
    id_key,
    loads_exact,
    loads_lenient,
    may_hold_big_int,
    resolved_source,
)
from llmkit.options import option_set
from llmkit.step import Reject, SplitStep, Step, check_outcomes
from llmkit.summary import Summary

_PANEL = "Input and output"


class OnError(str, Enum):
    fail = "fail"
    skip = "skip"


class Executor(str, Enum):
    local = "local"
    ray = "ray"


_CLUSTER = "Running on a cluster"


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
class ClusterOptions:
    """Where a step runs: this process (the default) or a Ray cluster. Its options are offered
    by every command that runs a step (:data:`io_options` includes them)."""

    executor: Annotated[
        Executor, typer.Option(help="Run the step here (local) or on a Ray cluster (ray: -o and --rejects are folders of part files).", rich_help_panel=_CLUSTER)
    ] = Executor.local
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray started for the run).", rich_help_panel=_CLUSTER)
    ] = None
    replicas: Annotated[int, typer.Option(min=1, help="Ray actors, each holding one opened step (one model).", rich_help_panel=_CLUSTER)] = 1
    cpus_per_replica: Annotated[float, typer.Option(min=0, help="CPUs each replica reserves on Ray.", rich_help_panel=_CLUSTER)] = 1.0
    gpus_per_replica: Annotated[float, typer.Option(min=0, help="GPUs each replica reserves on Ray (a vLLM tensor-parallel size).", rich_help_panel=_CLUSTER)] = 0.0
    stall_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds without a finished batch after which a Ray run stops (exit 69).", rich_help_panel=_CLUSTER)
    ] = 600.0

    def __post_init__(self) -> None:
        # a step author (llmkit.ClusterOptions) may name the executor "ray": run_step asks for the
        # member itself, and a plain string would run the step here without a word
        try:
            self.executor = Executor(self.executor)
        except ValueError:
            names = ", ".join(member.value for member in Executor)
            raise UsageError(f"executor must be one of {names}, got {self.executor!r}") from None


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
    #: where the step runs (this process, or a Ray cluster): an option set of its own, whose
    #: options every command that takes these also offers
    cluster: ClusterOptions = field(default_factory=ClusterOptions)

    def validate(self) -> tuple[int, int] | None:
        if self.resume and (self.output is None or self.output == "-"):
            raise UsageError("--resume needs --output FILE (it reads the ids already written there)")
        return parse_shard(self.shard)


@dataclass
class WholeInputOptions(IOOptions):
    """The contract's options for a subcommand that analyses its whole input at once (an
    aggregating step): no ``--shard`` and no ``--resume``, which would analyse a part or append
    a second result, so ``--help`` does not offer them."""

    shard: str | None = field(default=None, init=False)
    resume: bool = field(default=False, init=False)


#: Decorator that adds the contract's options (with the cluster's) to a Typer command, which
#: receives them in its parameter annotated ``IOOptions``.
io_options = option_set(IOOptions)
#: The same for aggregating subcommands (a parameter annotated ``WholeInputOptions``).
whole_input_options = option_set(WholeInputOptions)


@dataclass(slots=True)
class Batch:
    """Records of one input source with their 1-based line (or row) numbers, side by side."""

    source: str
    records: list[dict[str, Any]]
    lines: Sequence[int]
    #: records the contract itself rejects (by object identity); the step never sees them
    prerejected: dict[int, Reject] = field(default_factory=dict)

    #: each record's FILE:LINE by object identity, built on the first source_of() call (runs
    #: that never ask pay nothing per record); it lives and dies with the batch
    sources: dict[int, str] | None = None

    def where(self, index: int) -> str:
        return f"{self.source}:{self.lines[index]}"

    def source_of(self, record: dict[str, Any]) -> str | None:
        if self.sources is None:
            self.sources = {id(r): self.where(i) for i, r in enumerate(self.records)}
        return self.sources.get(id(record))


@dataclass
class Run:
    options: IOOptions
    step: Step
    shard: tuple[int, int] | None
    done: Done = field(default_factory=Done)
    summary: Summary = field(default_factory=Summary)
    position: int = 0
    taken: int = 0
    rejects: LineWriter | None = None
    #: under --resume: whether the records carry their own ids (set by the first record)
    own_ids: bool | None = None
    #: under --resume: why every record must have its own id (an executor that cannot number
    #: records by their input position says so here); None: a position may stand in for it
    ids_required: str | None = None
    #: whether the step comes in two halves (:class:`~llmkit.step.SplitStep`), asked once
    split: bool = field(init=False)

    def __post_init__(self) -> None:
        self.split = isinstance(self.step, SplitStep)

    @property
    def filters(self) -> bool:
        return self.shard is not None or self.options.resume or self.options.limit is not None

    @property
    def full(self) -> bool:
        """``--limit`` is reached: nothing more is taken from the input."""
        return self.options.limit is not None and self.taken >= self.options.limit


#: The batch the step is processing now; set only by :func:`processing_records` (a context
#: variable, so concurrent runs in threads each see their own).
_current_batch: ContextVar[Batch | None] = ContextVar("llmkit_current_batch", default=None)


@contextmanager
def processing_records(source: str, records: list[dict[str, Any]], lines: Sequence[int] | None = None) -> Iterator[None]:
    """While the block runs, ``records`` are the batch being processed: :func:`source_of` names
    ``records[i]`` ``SOURCE:lines[i]`` (``lines`` default: 1, 2, ... in order). The executors and
    :func:`llmkit.testing.run_records` say so around a step's work on a batch; the batch before,
    if any, is back when the block ends."""
    batch = Batch(source, records, range(1, len(records) + 1) if lines is None else lines)
    token = _current_batch.set(batch)
    try:
        yield
    finally:
        _current_batch.reset(token)


def source_of(record: dict[str, Any]) -> str | None:
    """Where a record came from (``FILE:LINE``), for a record of the batch being processed.

    Steps use it to name the line in an ``InputError`` that must stop the run, or to keep the
    source of a record an aggregate may reject late (:class:`~llmkit.LateReject`).
    """
    batch = _current_batch.get()
    return batch.source_of(record) if batch is not None else None


def process_batch(run: Run, batch: Batch, out: LineWriter, rejects: LineWriter | None) -> None:
    """The step's outcomes for one batch, checked, counted and written (kept records to ``out``,
    rejects to ``rejects``)."""
    complete_batch(run, begin_batch(run, batch), out, rejects)


@dataclass(slots=True)
class Begun:
    """A batch the step has begun (:meth:`~llmkit.step.SplitStep.begin`; for any other step,
    its records waiting for ``process``) and not yet completed."""

    batch: Batch
    todo: list[dict[str, Any]]
    state: Any


def begin_batch(run: Run, batch: Batch) -> Begun:
    """The first half of :func:`process_batch`: the step begins the batch's records (those the
    contract did not reject itself)."""
    todo = batch.records
    if batch.prerejected:
        todo = [r for r in batch.records if id(r) not in batch.prerejected]
    with processing_records(batch.source, batch.records, batch.lines):
        state = cast(SplitStep, run.step).begin(todo) if todo and run.split else todo
    return Begun(batch, todo, state)


def complete_batch(run: Run, begun: Begun, out: LineWriter, rejects: LineWriter | None) -> None:
    """The second half of :func:`process_batch`: the step's outcomes, checked, counted, written."""
    batch, todo = begun.batch, begun.todo
    with processing_records(batch.source, batch.records, batch.lines):
        if not todo:
            outcomes = []
        else:
            outcomes = cast(SplitStep, run.step).complete(begun.state) if run.split else run.step.process(begun.state)
    plain = type(outcomes) is list and len(outcomes) == len(todo) and _all_dicts(outcomes)
    if not plain:  # a record never vanishes silently: anything but dicts and Rejects is a bug
        outcomes = check_outcomes(run.step, len(todo), outcomes)
    # counted once the step is done with them, so that a run stopped by an error or a signal
    # still reports in = out + rejected
    run.summary.read += len(batch.records)
    if batch.prerejected:
        given = iter(outcomes)
        outcomes = [batch.prerejected.get(id(r)) or next(given) for r in batch.records]
        plain = False
    if plain:  # the common case: everything kept
        kept = outcomes
    else:
        kept, rejected = [], []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, dict):
                kept.append(outcome)
            elif isinstance(outcome, Reject):
                run.summary.count_reject(outcome.reason, outcome.stage or run.step.name)
                rejected.append(reject_record(batch.records[index], outcome.source or batch.where(index), outcome, run.step.name))
        if rejects is not None:
            rejects.write_records(rejected)
    out.write_records(kept)  # type: ignore[arg-type]
    run.summary.written += len(kept)


def reject_record(record: dict[str, Any], source: str | None, reject: Reject, step_name: str) -> dict[str, Any]:
    info: dict[str, Any] = {"stage": reject.stage or step_name, "reason": reject.reason}
    if reject.detail is not None:
        info["detail"] = reject.detail
    if source is not None:
        info["source"] = source
    return {**record, "reject": info}


def parse_batch(run: Run, raw: LineBatch | RecordBatch) -> tuple[Batch, InputError | None]:
    """One batch read from an input, parsed (JSONL) and filtered by the run's shard, resume and
    limit; with the error that must stop the run after the batch's records (a bad line under
    ``--on-error fail``, a read failure), if any."""
    if isinstance(raw, RecordBatch):
        return _take_all(run, raw.source, raw.records, raw.first_line)
    batch, error = _parse(run, raw)
    return batch, error or raw.error


def _parse(run: Run, raw: LineBatch) -> tuple[Batch, InputError | None]:
    loads = orjson.loads
    try:  # fast path: every line is a JSON object
        records = [loads(line) for line in raw.lines]
    except orjson.JSONDecodeError:
        records = None
    if records is not None and _all_dicts(records):
        if may_hold_big_int(raw.lines):  # a C scan of the batch; hits are rare
            _exact_big_ints(records, raw.lines)
        return _take_all(run, raw.source, records, raw.first_line)
    return _parse_lines(run, raw)


def _all_dicts(values: list[Any]) -> bool:
    # a set of the types, built in C, is twice as fast as all() over a generator
    return not values or {*map(type, values)} == _DICT_ONLY


_DICT_ONLY = {dict}


def _exact_big_ints(records: list[Any], lines: list[bytes]) -> None:
    """Parse again, exactly, the lines where orjson may have read a big integer as a float."""
    for index, line in enumerate(lines):
        if may_hold_big_int([line]):
            try:
                records[index] = loads_lenient(line)
            except ValueError:  # orjson read it: only json's recursion limit can refuse it here
                pass


def _take_all(
    run: Run, source: str, records: list[dict[str, Any]], first_line: int
) -> tuple[Batch, InputError | None]:
    lines = range(first_line, first_line + len(records))  # no list: lines are numbered in a row
    if not run.filters:
        return Batch(source, records, lines), None
    taken_lines: list[int] = []
    batch = Batch(source, [], taken_lines)
    for record, line in zip(records, lines):
        if run.full:
            break
        try:
            taken = _take(run, record)
        except _MixedIds as exc:
            return batch, InputError(str(exc), f"{source}:{line}")
        if taken:
            batch.records.append(record)
            taken_lines.append(line)
    return batch, None


def _parse_lines(run: Run, raw: LineBatch) -> tuple[Batch, InputError | None]:
    """The slow path, line by line, for a batch with a line that is not a JSON object: the lines
    are taken in order, so the limit, shards and resume apply to bad lines as to records."""
    taken_lines: list[int] = []
    batch = Batch(raw.source, [], taken_lines)
    for offset, line in enumerate(raw.lines):
        if run.full:
            break
        if not line.strip():
            continue  # blank lines carry no record
        where = f"{raw.source}:{raw.first_line + offset}"
        record, problem, reject = _parse_line(line)
        if record is not None:  # a record, perhaps with the contract's own reject
            try:
                taken = _take(run, record)
            except _MixedIds as exc:
                return batch, InputError(str(exc), where)
            if taken:
                batch.records.append(record)
                taken_lines.append(raw.first_line + offset)
                if reject is not None:
                    batch.prerejected[id(record)] = reject
            continue
        assert problem is not None  # no record: the line's problem is known
        if not _take_line(run, line, where):
            continue
        run.summary.invalid += 1
        if run.options.on_error is OnError.fail:
            return batch, InputError(problem, where)
        run.summary.read += 1  # taken in, and rejected: the counts add up
        _write_invalid(run, line, problem, where)
    return batch, None


def _parse_line(line: bytes) -> tuple[dict[str, Any] | None, str | None, Reject | None]:
    """A line's record and the reject the contract itself gives it (if any); or no record and
    why the line is not a JSON object."""
    try:
        record = loads_exact(line)
    except orjson.JSONDecodeError as exc:
        record, problem = _read_exactly(line)
        if problem is not None:
            return None, problem or _utf8_problem(line) or f"invalid JSON: {exc}", None
        if type(record) is dict and _holds_lone_surrogate(record):
            detail = "a string holds a lone surrogate escape (valid JSON, not valid Unicode)"
            return record, None, Reject("invalid_unicode", detail, "input")
    if type(record) is not dict:
        return None, f"expected a JSON object, got {_json_type(record)}", None
    return record, None, None


def _utf8_problem(line: bytes) -> str | None:
    """Where a line stops being UTF-8 (orjson's own words for it, "surrogates not allowed", do
    not say where), or None when it is UTF-8."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    return None


def _read_exactly(line: bytes) -> tuple[Any, str | None]:
    """A line orjson refused, read by the json module when that is what it refused: an integer
    beyond a double's range ("infinity when parsed as double"), kept exact, or a string with a
    lone surrogate escape (``"\\ud800"``, which the caller rejects alone as invalid_unicode).
    Any other refusal (NaN, Infinity, a syntax error) leaves the line invalid, whatever the json
    module would accept. Returns (value, None), or (None, why) where ``why`` is "" when orjson's
    own message says it best."""
    if not (has_surrogate_escape(line) or may_hold_big_int([line])):
        return None, ""
    try:
        return loads_lenient(line), None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # Python's guard against quadratic int(str)
            return None, f"an integer of more than {sys.get_int_max_str_digits()} digits (the most Python reads)"
        return None, ""


def _holds_lone_surrogate(value: Any) -> bool:
    # the json module joins a valid pair of escapes into one character: what is left is lone
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(k) or _holds_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_lone_surrogate(v) for v in value)
    return False


def _write_invalid(run: Run, line: bytes, problem: str, source: str) -> None:
    run.summary.count_reject("invalid_line", "input")
    if run.rejects is not None:
        body = line.rstrip(b"\r\n")
        raw = body.decode("utf-8", "replace")
        kept: dict[str, Any] = {"raw": raw}
        if "\ufffd" in raw and raw.encode("utf-8") != body:  # not UTF-8: keep the exact bytes too
            kept["raw_base64"] = base64.b64encode(line.removesuffix(b"\n")).decode("ascii")
        reject = {"stage": "input", "reason": "invalid_line", "detail": problem, "source": source}
        run.rejects.write_records([{**kept, "reject": reject}])


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _take(run: Run, record: dict[str, Any]) -> bool:
    """Whether this run takes the record (its shard, not already done); counts it either way.
    The caller checks ``--limit`` first."""
    options = run.options
    id_field = options.id_field
    position = run.position
    run.position += 1
    has_id = id_field in record
    if run.shard is not None:
        k, n = run.shard
        key = canonical_json(record[id_field]) if has_id else canonical_json(record, sort_keys=True)
        if zlib.crc32(key) % n != k - 1:
            run.summary.other_shards += 1
            return False
    if options.resume:
        if has_id is not run.own_ids:
            _check_one_kind_of_id(run, has_id)
        if not has_id:
            record[id_field] = position  # the input position is the id; written so a rerun finds it
        if id_key(record[id_field]) in run.done.ids:
            run.summary.skipped += 1
            return False
    run.taken += 1
    return True


class _MixedIds(Exception):
    """Under --resume, a record with an id after records without, or the reverse."""


def _check_one_kind_of_id(run: Run, has_id: bool) -> None:
    """Under --resume, every record has its own id or none has: a position given as id could be
    the id another record holds, and the record would be taken for done and never written."""
    name = run.options.id_field
    if run.ids_required is not None and not has_id:
        raise _MixedIds(
            f"this record has no {name!r}: {run.ids_required}, every record needs its own {name!r}. "
            f"Give every record an id, or name the field that holds one with --id-field"
        )
    if run.own_ids is None:
        run.own_ids = has_id
        return
    this, others = ("has", "have none") if has_id else ("has no", "have one")
    raise _MixedIds(
        f"this record {this} {name!r} and the records before it {others}: with --resume, either every "
        f"record has its own {name!r} or none has (then its input position is its id, and positions "
        f"could equal the ids of others). Give every record an id, or name another field with --id-field"
    )


def _take_line(run: Run, line: bytes, where: str) -> bool:
    """Whether this run handles a line that is not a JSON object: the shard of its bytes, and
    not already in the rejects of an earlier run (known there by FILE:LINE, FILE resolved, as it
    has no id)."""
    if run.shard is not None:
        k, n = run.shard
        if zlib.crc32(line.strip()) % n != k - 1:
            run.summary.other_shards += 1
            return False
    if run.options.resume and resolved_source(where) in run.done.lines:
        run.summary.skipped += 1
        return False
    return True
