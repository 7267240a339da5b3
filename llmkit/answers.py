"""What the generation template makes of a record's answers: its reject when the backend failed
one of its prompts, and a second ask of an answer the step cannot use.

For each record of a batch whose prompts are all answered, in this order:

1. a prompt the backend failed (:func:`reject_of`: its ``error``, ``too_long`` or ``empty_prompt``,
   or ``no_answer`` without a completion) rejects the record with that failure, the first one in
   prompt order (unless the step keeps ``partial_results``: then every result goes to
   ``accept_results``, failed ones included);
2. the step's ``retry(record, index, result, attempt)`` hook is asked of each answered prompt: a
   :class:`Retry` says the answer is not usable, which prompt to ask instead and which reject the
   record is when no attempt is left (``max_attempts``, the first ask included). The first of the
   record's retries with no attempt left is its reject;
3. a record none of whose answers is retried goes to ``accept_results`` with the last answer of
   each prompt; a retried result lists the answers before it in ``GenerationResult.earlier``.

The prompts asked again of a whole batch go to the backend in one call per round, so a batch takes
at most ``max_attempts`` calls; a record rejected in one round asks nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from llmkit.backends.base import Backend, GenerationResult, Prompt, SamplingParams
from llmkit.report import note_results
from llmkit.step import Outcome, Record, Reject

__all__ = ["Answers", "Retry", "reject_of"]


@dataclass(frozen=True, slots=True)
class Retry:
    """An answer the step cannot use: ask ``prompt`` instead; when no attempt is left the record
    is ``reject`` (so its detail can say what was wrong with this, the last, answer)."""

    prompt: Prompt
    reject: Reject


def reject_of(result: GenerationResult) -> Reject | None:
    """The reject a result stands for when the backend could not answer the prompt: its ``error``
    (``too_long``, ``empty_prompt``) with the backend's detail, or ``no_answer`` when it gave no
    completion; None for an answered prompt."""
    if result.error is not None:
        return Reject(result.error, result.detail)
    if not result.completions:
        return Reject("no_answer", "the backend returned no completion")
    return None


class AnsweringStep(Protocol):
    """The generation step's hooks that decide what its answers become."""

    max_attempts: int
    partial_results: ClassVar[bool]

    @property
    def backend(self) -> Backend: ...

    def retry(self, record: Record, index: int, result: GenerationResult, attempt: int) -> Retry | None: ...

    def accept_results(self, record: Record, results: list[GenerationResult]) -> Outcome: ...

    def sampling_for(self, records: list[Record]) -> SamplingParams: ...


@dataclass(slots=True)
class _Waiting:
    """A record with answers to ask again: all its results so far, and the retries by prompt."""

    results: list[GenerationResult]
    retries: dict[int, Retry]


class Answers:
    """The outcomes of one batch's records, filled in as their answers come (:meth:`take`) and
    once the answers asked again are in (:meth:`finish`)."""

    def __init__(self, step: AnsweringStep, records: list[Record], outcomes: list[Outcome]) -> None:
        self.step, self.records, self.outcomes = step, records, outcomes
        self.waiting: dict[int, _Waiting] = {}

    def finish(self) -> None:
        """Ask the retried prompts again, a round (one backend call) at a time."""
        attempt = 1
        while self.waiting:
            attempt += 1
            asked = [(index, position, retry) for index, waiting in self.waiting.items()
                     for position, retry in sorted(waiting.retries.items())]
            params = self.step.sampling_for([self.records[index] for index in self.waiting])
            answers = self.step.backend.generate([retry.prompt for _, _, retry in asked], params)
            note_results(answers, retries=True)
            if len(answers) != len(asked):
                name = self.step.backend.name
                raise RuntimeError(f"backend {name!r} returned {len(answers)} results for {len(asked)} prompts")
            for (index, position, _), answer in zip(asked, answers):
                results = self.waiting[index].results
                answer.earlier = [*results[position].earlier, results[position]]
                results[position] = answer
            waiting, self.waiting = self.waiting, {}
            for index, record_waiting in waiting.items():
                self.take(index, record_waiting.results, sorted(record_waiting.retries), attempt)

    def take(self, index: int, results: list[GenerationResult], answered: Iterable[int] | None = None,
             attempt: int = 1) -> None:
        """Steps 1-3 of the module doc for record ``index``: its first answers (``answered``: every
        prompt), or those of the prompts asked again at their ``attempt``-th ask. One pass, as it
        runs for every record: the first failure ends it (a backend failure wins over the retries
        of answers before it)."""
        step, record = self.step, self.records[index]
        retries: dict[int, Retry] | None = None
        for position in range(len(results)) if answered is None else answered:
            result = results[position]
            if result.error is None and result.completions:
                again = step.retry(record, position, result, attempt)
                if again is not None:
                    retries = retries or {}
                    retries[position] = again
            elif not step.partial_results:
                self.outcomes[index] = reject_of(result)
                return
        if retries is None:
            self.outcomes[index] = step.accept_results(record, results)
        elif attempt >= step.max_attempts:
            self.outcomes[index] = retries[min(retries)].reject
        else:
            self.waiting[index] = _Waiting(results, retries)
