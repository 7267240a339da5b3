"""Steps: the unit of work a subcommand plugs into the JSONL contract.

A step receives batches of records (plain dicts, every field as it came) and returns one outcome
per record, in the same order:

- a ``dict``: the record to write (usually the input record with fields added);
- a :class:`Reject`: the record goes to ``--rejects`` with the reason (or is counted);
- ``None``: the record was consumed without output; only an aggregating step (``aggregate =
  True``, such as a PCA) may return it.

Anything else, or a list of another length than the batch, is a bug in the step: the core stops
the run with exit 70 naming the step (:class:`StepContractError`), so a record never vanishes.

``finish()`` may yield extra records after the last batch (the results of an aggregate), and
:class:`LateReject` items for input records an aggregate removes only once it has seen them all.
A step never opens stdin, stdout or files of the contract itself; the core owns those, and so a
step can be tested by calling ``process`` on a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Union, runtime_checkable

from llmkit.errors import LlmkitError

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a record was not written to the output. ``stage`` defaults to the step's name."""

    reason: str
    detail: str | None = None
    stage: str | None = None
    #: the record's ``FILE:LINE`` when the step knows it better than the line it was read from
    #: (a second pass over the step's own spill file names the user's input line)
    source: str | None = None


Outcome = Union[Record, Reject, None]


@dataclass(frozen=True, slots=True)
class LateReject:
    """An input record an aggregate step removes only in ``finish()``, once it has seen its whole
    input (say, a model dropped for missing scores). The core writes it to ``--rejects`` and
    counts it like a reject returned by ``process``; ``source`` is its ``FILE:LINE``, from
    :func:`llmkit.source_of` while its batch was processed."""

    record: Record
    reject: Reject
    source: str | None = None


class StepContractError(LlmkitError):
    """A step broke the outcome contract (exit 70, an internal error of the step's plugin)."""


def check_outcomes(step: Step, count: int, outcomes: Any) -> list[Outcome]:
    """``outcomes`` as a list when it holds one valid outcome for each of ``count`` records,
    else :class:`StepContractError` naming the step. A dict (or a dict subclass) is kept, a
    :class:`Reject` rejected, ``None`` allowed from an aggregate step only."""
    if type(outcomes) is not list:
        if not isinstance(outcomes, (list, tuple)):
            raise StepContractError(
                f"step {step.name!r} returned {type(outcomes).__name__} from process(), not a list of outcomes"
            )
        outcomes = list(outcomes)
    if len(outcomes) != count:
        raise StepContractError(f"step {step.name!r} returned {len(outcomes)} outcomes for {count} records")
    if {*map(type, outcomes)} <= _PLAIN:  # the common case, checked in C
        return outcomes
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, (dict, Reject)) or (outcome is None and step.aggregate):
            continue
        if outcome is None:
            raise StepContractError(
                f"step {step.name!r} returned None for record {index + 1} of its batch: only an aggregate "
                "step may consume a record without output (return the record, or a Reject)"
            )
        raise StepContractError(
            f"step {step.name!r} returned a {type(outcome).__name__} for record {index + 1} of its batch, "
            "not a record (dict) or a Reject"
        )
    return outcomes


class Step:
    """Base class of a batch step. Subclasses implement :meth:`process`."""

    name: ClassVar[str] = "step"
    #: Records per batch when the user gives no ``--batch-size``. The core asks before each batch
    #: (the first time after ``open()``), so a step may size it by the backend it opened.
    batch_size: int = 256
    #: An aggregate's result depends on all its input (a PCA, an evaluation): ``--shard`` would
    #: silently analyse a part and ``--resume`` would append a second result, so both are refused.
    aggregate: ClassVar[bool] = False

    def open(self) -> None:
        """Called once before the first batch (load models here, not in ``__init__``)."""

    def process(self, records: list[Record]) -> list[Outcome]:
        raise NotImplementedError

    def finish(self) -> Iterable[Record | LateReject]:
        """Records to write after the last batch (aggregates), and :class:`LateReject` items for
        input records to reject now. Default: none."""
        return ()

    def close(self) -> None:
        """Called once at the end, also after an error."""


class RecordStep(Step):
    """A step that handles one record at a time; implement :meth:`process_record`."""

    def process_record(self, record: Record) -> Outcome:
        raise NotImplementedError

    def process(self, records: list[Record]) -> list[Outcome]:
        return [self.process_record(record) for record in records]


class Chain(Step):
    """Run steps one after another; a record rejected by one step skips the rest.

    Each step sees only the records the previous steps kept, in one batch, so a model-backed
    step still gets full batches of survivors.
    """

    name = "chain"

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.batch_size = min((s.batch_size for s in self.steps), default=256)
        # an instance attribute shadows the ClassVar: the chain consumes records if a step does
        self.aggregate = any(s.aggregate for s in self.steps)  # type: ignore[misc]

    def open(self) -> None:
        for step in self.steps:
            step.open()

    def process(self, records: list[Record]) -> list[Outcome]:
        outcomes: list[Outcome] = list(records)
        for step in self.steps:
            alive = [i for i, o in enumerate(outcomes) if isinstance(o, dict)]
            if not alive:
                break
            results = check_outcomes(step, len(alive), step.process([outcomes[i] for i in alive]))  # type: ignore[misc]
            for i, result in zip(alive, results):
                if isinstance(result, Reject) and result.stage is None:
                    result = Reject(result.reason, result.detail, step.name)
                outcomes[i] = result
        return outcomes

    def finish(self) -> Iterable[Record | LateReject]:
        for step in self.steps:
            yield from step.finish()

    def close(self) -> None:
        for step in reversed(self.steps):
            step.close()


@runtime_checkable
class SplitStep(Protocol):
    """A step whose work on a batch comes in two halves (the generation template is one).

    The executors recognise it by these members, with no base class to inherit: they call
    :meth:`begin` with a batch's records and :meth:`complete` with what it returned, in the order
    begun, instead of ``process``. When ``overlaps`` is true the local executor begins the next
    batch before it completes this one, so an engine in another process has the next prompts
    while the core writes this batch and reads the next; two batches are then in memory at once,
    never more.
    """

    overlaps: bool

    def begin(self, records: list[Record]) -> Any:
        """Start work on a batch; return what :meth:`complete` needs to end it."""

    def complete(self, begun: Any) -> list[Outcome]:
        """The outcomes of a batch :meth:`begin` started, one per record."""


@runtime_checkable
class PlansBatchSize(Protocol):
    """A step that knows, before ``open()``, the batch size it will ask for once open (a
    generation step asks its backend's class): for an executor that cuts the input before any
    replica opens the step (Ray)."""

    def planned_batch_size(self) -> int: ...


def planned_batch_size(step: Step) -> int:
    """The batch size ``step`` will ask for once open: its plan, else its ``batch_size``."""
    return step.planned_batch_size() if isinstance(step, PlansBatchSize) else step.batch_size


_PLAIN = frozenset({dict, Reject})


def existing_field(
    record: Record, name: str, *, earlier: type | tuple[type, ...] | None = None, hint: str = "rename it in the input"
) -> Reject | None:
    """``field_exists`` when writing ``name`` would replace data the record came with, else None.

    A subcommand never overwrites its input. ``earlier`` is the type of the subcommand's own
    earlier result (an object of scores, a list of stages): a value of that type is a previous
    run's output, which a re-run may replace or merge into; any other value is the input's own.
    ``hint`` says how to avoid the clash (an option that renames the output, say)."""
    if name not in record or (earlier is not None and isinstance(record[name], earlier)):
        return None
    kind = type(record[name]).__name__
    return Reject("field_exists", f"the record already has a field {name!r} ({kind}), which this subcommand writes; {hint}")


def get_text_field(record: Record, field: str) -> str | Reject:
    """The string in ``record[field]``, or the standard ``missing_field`` reject."""
    value = record.get(field)
    if value is None:
        return Reject("missing_field", f"no field {field!r}")
    if not isinstance(value, str):
        return Reject("missing_field", f"field {field!r} is {type(value).__name__}, not a string")
    return value
