"""The generation template's answers: backend failures of one of several prompts, and the retry hook."""

from __future__ import annotations

import pytest

from llmkit import BackendOptions, GenerationStep, Reject
from llmkit.answers import Retry
from llmkit.testing import ScriptedBackend, failure, run_records


class Words(GenerationStep):
    """One prompt per word of the text; the answers are kept in order."""

    name = "words"

    def __init__(self, backend, max_attempts=1, **kwargs):
        super().__init__(BackendOptions(model="m"), backend, field="text", writes=("got",), **kwargs)
        self.max_attempts = max_attempts

    def prompts(self, record, text):
        return text.split()

    def accept_results(self, record, results):
        return {**record, "got": [r.completions[0].text for r in results],
                "asks": [1 + len(r.earlier) for r in results]}


def scripted(answers):
    """A backend answering ``answers[prompt]``: a text, a failure, or a list consumed one ask at a time."""
    def answer(prompt):
        found = answers[prompt]
        return found.pop(0) if isinstance(found, list) else found
    return ScriptedBackend(answer)


def test_one_failing_prompt_of_several_rejects_its_record_with_the_backends_reason():
    backend = scripted({"a": "A", "b": "B", "long": failure("too_long", "prompt has 9 tokens; the context holds 8"),
                        "c": "C", "gone": failure("empty_prompt", "no tokens")})
    result = run_records(Words(backend), [{"text": "a long b"}, {"text": "a b"}, {"text": "c gone long"}])
    assert [r["got"] for r in result.outputs] == [["A", "B"]]
    assert [(r.reason, r.detail) for _, r in result.rejects] == [
        ("too_long", "prompt has 9 tokens; the context holds 8"),
        ("empty_prompt", "no tokens"),  # the first failure in prompt order
    ]
    assert backend.calls == 1


def test_a_prompt_answered_with_no_completion_is_no_answer():
    class NoCompletion(ScriptedBackend):
        def generate(self, prompts, params):
            results = super().generate(prompts, params)
            results[-1].completions = []
            return results

    result = run_records(Words(NoCompletion(lambda prompt: prompt.upper())), [{"text": "a b"}])
    assert [(r.reason, r.detail) for _, r in result.rejects] == [("no_answer", "the backend returned no completion")]


class Partial(Words):
    name = "partial"
    partial_results = True

    def accept_results(self, record, results):
        return {**record, "got": [r.completions[0].text if r.error is None else r.error for r in results]}


def test_a_step_keeping_partial_results_gets_the_failed_ones_too():
    backend = scripted({"a": "A", "long": failure("too_long")})
    result = run_records(Partial(backend), [{"text": "a long"}])
    assert [r["got"] for r in result.outputs] == [["A", "too_long"]]


class Upper(Words):
    """An answer is usable when it is upper case; else the prompt is asked again, marked."""

    name = "upper"

    def retry(self, record, index, result, attempt):
        text = result.completions[0].text
        if text.isupper():
            return None
        return Retry(f"{record['text'].split()[index]}!", Reject("not_upper", f"word {index}: {text!r} after {attempt} attempts"))


def test_a_retry_that_succeeds_is_accepted_with_its_earlier_answers():
    backend = scripted({"a": "A", "b": "b", "b!": "B", "c": "c", "c!": "C", "d": "D"})
    result = run_records(Upper(backend, max_attempts=2), [{"text": "a b"}, {"text": "c d"}])
    assert [r["got"] for r in result.outputs] == [["A", "B"], ["C", "D"]]
    assert [r["asks"] for r in result.outputs] == [[1, 2], [2, 1]]
    assert backend.calls == 2  # the batch's first asks, then every retry of the batch in one call
    assert backend.prompts[4:] == ["b!", "c!"]


def test_an_exhausted_retry_is_the_records_named_reject():
    backend = scripted({"a": "A", "b": ["b", "b", "b"], "b!": ["still b", "still b"]})
    result = run_records(Upper(backend, max_attempts=3), [{"text": "a b"}])
    assert result.outputs == []
    assert [(r.reason, r.detail) for _, r in result.rejects] == [("not_upper", "word 1: 'still b' after 3 attempts")]
    assert backend.calls == 3 and backend.prompts == ["a", "b", "b!", "b!"]


def test_without_attempts_left_the_first_unusable_answer_is_the_reject():
    backend = scripted({"a": "a", "b": "b"})
    result = run_records(Upper(backend), [{"text": "a b"}])  # max_attempts 1: never asked again
    assert [(r.reason, r.detail) for _, r in result.rejects] == [("not_upper", "word 0: 'a' after 1 attempts")]
    assert backend.calls == 1


def test_a_backend_failure_of_a_retried_prompt_rejects_the_record_and_stops_its_retries():
    backend = scripted({"a": "a", "a!": failure("too_long", "grew"), "b": "b", "b!": ["b", "B"]})
    result = run_records(Upper(backend, max_attempts=3), [{"text": "a b"}])
    assert [(r.reason, r.detail) for _, r in result.rejects] == [("too_long", "grew")]
    assert backend.prompts == ["a", "b", "a!", "b!"]  # no third round for the rejected record


def test_a_backend_failure_wins_over_answers_to_retry_in_the_same_round():
    backend = scripted({"a": "a", "b": failure("too_long")})
    result = run_records(Upper(backend, max_attempts=2), [{"text": "a b"}])
    assert result.reasons == ["too_long"] and backend.calls == 1


@pytest.mark.parametrize("answer", [failure("too_long", "x"), "X"])
def test_reject_of_is_the_templates_own(answer):
    [result] = ScriptedBackend([answer]).generate(["p"], BackendOptions(model="m").sampling())
    expected = Reject("too_long", "x") if isinstance(answer, type(result)) else None
    assert GenerationStep.reject_of(result) == expected
