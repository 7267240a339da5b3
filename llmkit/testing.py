"""Test doubles for plugin authors: a scripted backend and a step run over a list of records.

``ScriptedBackend(answers)`` answers each prompt from a script, no model and no network::

    backend = ScriptedBackend(["first answer", "second answer"])          # in order
    backend = ScriptedBackend(lambda prompt: "same answer")               # per prompt
    backend = ScriptedBackend([Completion("cut", [1], "length"),          # a finish reason
                               failure("too_long", "longer than the context")])  # an error result

An answer is a string (a completion with finish reason ``finish_reason``, token ids its UTF-8
bytes), a :class:`~llmkit.Completion` (as it is), or a :class:`~llmkit.backends.GenerationResult`
(the whole result of that prompt: an error, or several completions). The backend keeps every
prompt and :class:`~llmkit.SamplingParams` it got (``prompts``, ``params``, ``calls``).

``run_records(step, records)`` opens the step, feeds it the records in batches, collects what the
core would write, reject or add at the end, and closes it::

    result = run_records(MyStep(...), [{"text": "a"}, {"text": ""}])
    assert result.outputs == [...] and result.reasons == ["empty"]

The outcomes are checked as the core checks them (a wrong list is ``StepContractError``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Union

from llmkit.backends.base import Backend, Completion, GenerationResult, Prompt, SamplingParams
from llmkit.step import LateReject, Record, Reject, Step, check_outcomes

__all__ = ["Answer", "ScriptedBackend", "StepRun", "failure", "run_records"]

#: One scripted answer: a text, a whole completion, or a whole result (an error, say).
Answer = Union[str, Completion, GenerationResult]


def failure(reason: str, detail: str | None = None) -> GenerationResult:
    """A result the backend could not produce (``too_long``, ``empty_prompt``, ...)."""
    return GenerationResult(error=reason, detail=detail)


class ScriptedBackend(Backend):
    """A backend that answers from a script (see the module docstring)."""

    name = "scripted"

    def __init__(
        self,
        answers: Sequence[Answer] | Callable[[Prompt], Answer],
        max_model_len: int | None = None,
        *,
        finish_reason: str = "stop",
    ) -> None:
        self._script = answers if callable(answers) else iter(answers)
        self._max_model_len = max_model_len
        self.finish_reason = finish_reason
        self.prompts: list[Prompt] = []
        self.params: list[SamplingParams] = []
        self.calls = 0
        self.closed = False

    def _next(self, prompt: Prompt) -> Answer:
        return self._script(prompt) if callable(self._script) else next(self._script)

    def _completion(self, answer: str | Completion) -> Completion:
        if isinstance(answer, Completion):
            return answer
        return Completion(answer, list(answer.encode()), self.finish_reason)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        self.calls += 1
        self.prompts.extend(prompts)
        self.params.append(params)
        results = []
        for prompt in prompts:
            # with a context length, a prompt is "too long" by the length of its repr: crude, but
            # it lets a test plant a too_long result without a tokenizer
            if self._max_model_len is not None and len(str(prompt)) > self._max_model_len:
                results.append(failure("too_long", "prompt longer than the context"))
                continue
            completions = []
            result = None
            for _ in range(params.n):
                answer = self._next(prompt)
                if isinstance(answer, GenerationResult):
                    result = answer
                    break
                completions.append(self._completion(answer))
            results.append(result if result is not None else GenerationResult(completions))
        return results

    def close(self) -> None:
        self.closed = True


@dataclass
class StepRun:
    """What the core would have done with a step's outcomes."""

    #: records written, in order (those of ``finish()`` last)
    outputs: list[Record] = field(default_factory=list)
    #: (input record, reject) pairs, in order, late rejects of ``finish()`` last
    rejects: list[tuple[Record, Reject]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """The reasons of the rejects, in order."""
        return [reject.reason for _, reject in self.rejects]


def run_records(step: Step, records: Iterable[Record], batch_size: int | None = None) -> StepRun:
    """Run ``step`` over ``records`` as the core would (open, batches, finish, close)."""
    todo = list(records)
    size = batch_size or step.batch_size
    run = StepRun()
    step.open()
    try:
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            for record, outcome in zip(batch, check_outcomes(step, len(batch), step.process(batch))):
                if isinstance(outcome, Reject):
                    run.rejects.append((record, outcome))
                elif outcome is not None:
                    run.outputs.append(outcome)
        for item in step.finish():
            if isinstance(item, LateReject):
                run.rejects.append((item.record, item.reject))
            else:
                run.outputs.append(item)
    finally:
        step.close()
    return run
