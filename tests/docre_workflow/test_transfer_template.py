"""`docre transfer` on the generation template: its batches overlap, and a unit's backend failure
on its second ask rejects the document (the template's retry hook, not a process of its own)."""

from __future__ import annotations

import copy

from llmkit_docre.transfer import TransferConfig, TransferStep

import llmkit
from llmkit.testing import ScriptedBackend, failure
from tests.docre_workflow.fixtures import CAPITAL_JA, capital_doc, source_text


def step_on(backend, **config):
    step = TransferStep(llmkit.BackendOptions(model="scripted"), TransferConfig(**{"target_lang": "ja", **config}), backend=backend)
    step.open()
    return step


def test_the_next_batch_is_submitted_before_this_one_is_collected():
    events = []

    class Watched(ScriptedBackend):
        def submit(self, prompts, params):
            events.append(("submit", len(prompts)))
            return super().submit(prompts, params)

        def collect(self, ticket):
            events.append(("collect", len(ticket[0])))
            return super().collect(ticket)

    backend = Watched(lambda prompt: CAPITAL_JA.get(source_text(prompt), source_text(prompt)))
    step = step_on(backend)
    first = step.begin([capital_doc()])
    second = step.begin([capital_doc()])
    outcomes = step.complete(first) + step.complete(second)
    assert [type(o) for o in outcomes] == [dict, dict]
    assert events == [("submit", 3), ("submit", 3), ("collect", 3), ("collect", 3)]  # two sentences and a title each


def test_a_backend_failure_of_a_unit_asked_again_rejects_the_document():
    wrong = {"seen": 0}

    def answer(prompt):
        text = source_text(prompt)
        if "could not be used" in prompt[-1]["content"]:
            return failure("too_long", "the retry prompt does not fit")
        if "Tokyo" in text and not wrong["seen"]:
            wrong["seen"] = 1
            return "no tags at all"
        return CAPITAL_JA.get(text, text)

    backend = ScriptedBackend(answer)
    [out] = step_on(backend, retries=2).process([copy.deepcopy(capital_doc())])
    assert out == llmkit.Reject("too_long", "the retry prompt does not fit")
    assert backend.calls == 2  # the first asks, then the one retry: no third round for a rejected document
