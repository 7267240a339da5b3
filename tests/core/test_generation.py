"""llmkit.GenerationStep and LazyBackend: what the template owns, on a scripted backend."""

from __future__ import annotations

import pytest

import llmkit
from llmkit import BackendOptions, Completion, GenerationStep, LazyBackend, Reject, UsageError
from llmkit.testing import ScriptedBackend, failure, run_records


class Echo(GenerationStep):
    name = "echo"
    sampling_defaults = {"temperature": 0.3, "max_tokens": 7}

    def __init__(self, backend_options=None, backend=None, **kwargs):
        super().__init__(backend_options or BackendOptions(model="m"), backend, field="text", writes=("answer",), **kwargs)

    def check(self, record):
        return Reject("banned") if record.get("banned") else None

    def prompt(self, record, text):
        return Reject("empty") if not text else f"Q: {text}"

    def accept(self, record, completions):
        if completions[0].finish_reason == "length":
            return Reject("truncated")
        return {**record, "answer": completions[0].text}


def test_the_template_owns_checks_errors_and_one_call_per_batch():
    records = [
        {"id": 1, "text": "x"},
        {"id": 2, "text": "y"},
        {"id": 3, "text": "z"},
        {"id": 4, "text": "w"},
        {"id": 5},                                  # missing_field
        {"id": 6, "text": 3},                       # missing_field (not a string)
        {"id": 7, "text": "v", "answer": "mine"},   # field_exists
        {"id": 8, "text": "u", "banned": True},     # the subclass's own check, first
        {"id": 9, "text": ""},                      # the subclass's prompt reject
    ]

    def answer(prompt):  # the fourth prompt gets a result with no completion
        value = next(script)
        return llmkit.backends.GenerationResult([]) if value is None else value

    script = iter(["a1", Completion("cut", [1], "length"), failure("too_long", "big"), None])
    backend = ScriptedBackend(answer)
    result = run_records(Echo(backend=backend), records)
    assert result.outputs == [{"id": 1, "text": "x", "answer": "a1"}]
    assert result.reasons == ["truncated", "too_long", "no_answer", "missing_field", "missing_field",
                              "field_exists", "banned", "empty"]
    assert backend.calls == 1 and backend.prompts == ["Q: x", "Q: y", "Q: z", "Q: w"]
    assert backend.params[0].temperature == 0.3 and backend.params[0].max_tokens == 7


def test_user_values_override_the_defaults_once_when_built():
    step = Echo(BackendOptions(model="m", temperature=0.9), backend=ScriptedBackend([]))
    assert step.params.temperature == 0.9 and step.params.max_tokens == 7
    with pytest.raises(UsageError, match="--model is required"):
        Echo(BackendOptions())
    Echo(BackendOptions(backend="openai", base_url="http://127.0.0.1:1/v1"))  # a server knows its model


def test_the_backend_opens_on_first_use_and_a_shared_one_closes_once():
    opened = []

    def opener(options):
        backend = ScriptedBackend(lambda prompt: "ok")
        opened.append(backend)
        return backend

    shared = LazyBackend(BackendOptions(), opener=opener)
    first, second = Echo(shared=shared), Echo(shared=shared)
    assert opened == [] and not shared.opened
    chain = llmkit.Chain([first, second])
    chain.open()
    assert opened == []  # open() of the template does not load the model
    out = chain.process([{"text": "x"}])
    assert out == [Reject("field_exists", out[0].detail, "echo")]  # the second stage sees the first's answer
    assert len(opened) == 1 and second.backend is first.backend
    chain.close()
    assert opened[0].closed and not shared.opened


def test_a_given_backend_is_not_closed_by_the_step():
    backend = ScriptedBackend(["a"])
    run_records(Echo(backend=backend), [{"text": "x"}])
    assert not backend.closed


class PerPrefix(GenerationStep):
    """Several prompts per record: one per prefix of the text."""

    name = "prefixes"
    sampling_per_batch = True

    def __init__(self, backend):
        super().__init__(BackendOptions(model="m"), backend, field="text")

    def prompts(self, record, text):
        return [text[:k] for k in range(1, len(text) + 1)]

    def accept_results(self, record, results):
        return {**record, "got": [r.completions[0].text for r in results]}

    def sampling_for(self, records):
        return self.params.__class__(max_tokens=max(len(r["text"]) for r in records))


def test_several_prompts_per_record_go_in_one_call():
    backend = ScriptedBackend(lambda prompt: prompt.upper())
    result = run_records(PerPrefix(backend), [{"text": "ab"}, {"text": "xyz"}])
    assert [r["got"] for r in result.outputs] == [["A", "AB"], ["X", "XY", "XYZ"]]
    assert backend.calls == 1 and backend.params[0].max_tokens == 3
