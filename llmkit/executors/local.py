"""The local executor (``--executor local``, the default): the step runs in this process.

Inputs are read in order, one contract batch at a time (its size asked before each batch, so a
step whose backend opens on its first batch sizes the next ones by it), processed, and written
in order to one output file (or stdout) and one rejects file, each locked for the run. A step in
two halves that ``overlaps`` (:class:`~llmkit.step.SplitStep`) has the next batch begun before
this one is completed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any, cast

from llmkit import report
from llmkit.contract import Batch, Begun, IOOptions, Run, begin_batch, complete_batch, parse_batch, reject_record
from llmkit.errors import InputError, OutputClosed, UsageError
from llmkit.io import LineWriter, check_distinct_files, read_batches, scan_done
from llmkit.progress import Progress
from llmkit.step import LateReject, SplitStep, Step
from llmkit.summary import Summary


def run_local(step: Step, options: IOOptions) -> Summary:
    """Stream the inputs through ``step`` in this process. Returns the summary."""
    shard = options.validate()
    if step.aggregate and (shard is not None or options.resume):
        raise UsageError(f"{step.name} analyses its whole input at once: --shard and --resume do not apply")
    run = Run(options, step, shard)
    report.note_run(options, run.summary)
    out, rejects = run_outputs = _open_outputs(options)
    run.rejects = rejects
    if options.resume:
        try:
            scan_done(options.output, options.id_field, run.done)  # type: ignore[arg-type]
            if options.rejects:
                scan_done(options.rejects, options.id_field, run.done)
        except BaseException:
            _close_all(run_outputs)
            raise
        run.summary.resumed = len(run.done)
    progress = Progress(enabled=not options.quiet)
    try:
        _stream(run, out, rejects, progress)
    except BrokenPipeError as exc:
        raise OutputClosed() from exc
    finally:
        run.summary.seconds = time.monotonic() - run.summary.started
        try:
            step.close()
        finally:
            # Every run ends with its summary, also one that stops on an error (65, 69, 130):
            # the counts reached say what was written, before the CLI shows the error.
            if not options.quiet:
                run.summary.print()
            _close_all(run_outputs)
    return run.summary


def _open_outputs(options: IOOptions) -> tuple[LineWriter, LineWriter | None]:
    """The output and rejects writers, each file locked for the whole run. Nothing is opened
    before the same-file rule has passed, and a file is emptied (a run without ``--resume``) only
    once both are held, so a run refused with exit 2 or 75 has changed no file."""
    check_distinct_files(options.inputs or ["-"], options.output, options.rejects)
    out = LineWriter(options.output, "-o")
    try:
        rejects = LineWriter(options.rejects, "--rejects") if options.rejects else None
    except BaseException:
        out.close()
        raise
    if not options.resume:
        out.start_anew()
        if rejects is not None:
            rejects.start_anew()
    return out, rejects


def _close_all(writers: tuple[LineWriter, LineWriter | None]) -> None:
    """Close both writers, the rejects even when closing the output fails (its error is raised)."""
    out, rejects = writers
    try:
        out.close()
    except BrokenPipeError:
        pass
    finally:
        if rejects is not None:
            rejects.close()


def _stream(run: Run, out: LineWriter, rejects: LineWriter | None, progress: Progress) -> None:
    step = run.step
    # an overlapping step has the next batch begun while this one is completed and written:
    # its engine never waits for llmkit between batches (two batches in memory at most)
    ahead = 1 if run.split and cast(SplitStep, step).overlaps else 0
    # bad lines of a batch read ahead are held until the batches before it are written: the
    # rejects file stays in input order
    held = _Held(rejects) if ahead and rejects is not None else None
    if held is not None:
        run.rejects = held  # type: ignore[assignment]
    with progress:
        step.open()
        begun: deque[Begun] = deque()
        started = completed = 0
        try:
            for batch, error in _batches(run):
                if held is not None:
                    held.mark(started)  # this batch's bad lines follow the batches begun before it
                if batch.records:
                    begun.append(begin_batch(run, batch))
                    started += 1
                while len(begun) > ahead or (begun and error is not None):
                    complete_batch(run, begun.popleft(), out, rejects)
                    run.summary.note_output()
                    completed += 1
                    progress.update(run.summary)
                if held is not None:
                    held.release(completed)
                if error is not None:
                    raise error
            while begun:
                complete_batch(run, begun.popleft(), out, rejects)
                run.summary.note_output()
                progress.update(run.summary)
        finally:
            if held is not None:  # counted when read: written also when the run stops
                held.mark(started)
                held.release()
                run.rejects = rejects
        extra = []
        for item in step.finish():
            if isinstance(item, LateReject):
                _reject_late(run, item)
            else:
                extra.append(item)
        out.write_records(extra)
        run.summary.written += len(extra)
        run.summary.note_output()


class _Held:
    """Stands in for the rejects writer while batches are read ahead: the bad lines found while
    a batch is read wait until every batch begun before it is written."""

    def __init__(self, writer: LineWriter) -> None:
        self.writer = writer
        self.records: list[dict[str, Any]] = []
        self.waiting: deque[tuple[int, list[dict[str, Any]]]] = deque()

    def write_records(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    def mark(self, after: int) -> None:
        """The lines held since the last mark go once ``after`` batches are completed."""
        if self.records:
            self.waiting.append((after, self.records))
            self.records = []

    def release(self, completed: int | None = None) -> None:
        """Write the lines whose batches before them are completed (all, when None)."""
        while self.waiting and (completed is None or self.waiting[0][0] <= completed):
            self.writer.write_records(self.waiting.popleft()[1])


def _reject_late(run: Run, late: LateReject) -> None:
    """An input record an aggregate removed in ``finish()``: counted and written like any reject."""
    run.summary.count_reject(late.reject.reason, late.reject.stage or run.step.name)
    if run.rejects is not None:
        run.rejects.write_records([reject_record(late.record, late.source, late.reject, run.step.name)])


def _batches(run: Run) -> Iterator[tuple[Batch, InputError | None]]:
    """Batches of parsed, sharded, resumed and limited records, with a fatal error to raise
    after the batch (so the valid records before a bad line are still written)."""
    options = run.options

    def size() -> int:
        # asked before each batch (after open()): a step whose backend opens on its first batch
        # sizes the next ones by it (a vllm engine wants more than the step's default)
        return options.batch_size or run.step.batch_size

    for path in options.inputs or ["-"]:
        for raw in read_batches(path, size):
            batch, error = parse_batch(run, raw)
            yield batch, error
            if error is not None or run.full:
                return
