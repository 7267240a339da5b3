"""contrastive-gen never overwrites a field the record came with: such a record is rejected
``field_exists`` before any model work, and the others go on (a scripted backend, no model)."""

from __future__ import annotations

import pytest

from llmkit import BackendOptions, Reject, UsageError
from llmkit.testing import ScriptedBackend


def _step(**settings):
    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings

    step = ContrastiveGenStep(GenSettings(expert="m", **settings), BackendOptions())
    step.backend = ScriptedBackend(lambda prompt: "model answer")  # no local tokenizer: messages go as they are
    return step


def test_a_human_response_is_rejected_not_overwritten():
    step = _step()
    human = {"instruction": "Say hi", "response": "HUMAN ANSWER", "repetition": "keep me", "generation": "orig"}
    clean = {"instruction": "Say bye"}
    outcomes = step.process([human, clean])
    assert isinstance(outcomes[0], Reject) and outcomes[0].reason == "field_exists"
    assert "'response'" in outcomes[0].detail and "--response-field" in outcomes[0].detail
    assert human["response"] == "HUMAN ANSWER"  # the record itself is untouched
    assert outcomes[1]["response"] == "model answer" and outcomes[1]["instruction"] == "Say bye"
    assert len(step.backend.prompts) == 1  # the clashing record never reached the model


@pytest.mark.parametrize("name", ["generation", "repetition"])
def test_the_fixed_output_fields_are_checked_too(name):
    step = _step(response_field="answer")  # a free text field does not help with these
    outcome = step.process([{"instruction": "Say hi", name: "input data"}])[0]
    assert isinstance(outcome, Reject) and outcome.reason == "field_exists" and repr(name) in outcome.detail
    assert step.backend.prompts == []


def test_response_field_moves_the_text_and_n_writes_responses():
    step = _step(response_field="model_response")
    out = step.process([{"instruction": "Say hi", "response": "HUMAN ANSWER"}])[0]
    assert out["response"] == "HUMAN ANSWER" and out["model_response"] == "model answer"
    step = _step(n=2)
    outcomes = step.process([{"instruction": "a", "responses": ["x"]}, {"instruction": "b", "response": "kept"}])
    assert isinstance(outcomes[0], Reject) and "'responses'" in outcomes[0].detail
    assert outcomes[1]["response"] == "kept" and outcomes[1]["responses"] == ["model answer"] * 2


@pytest.mark.parametrize("name", ["generation", "repetition"])
def test_a_response_field_named_like_a_fixed_field_is_a_usage_error(name):
    from llmkit_contrastive.settings import GenSettings

    with pytest.raises(UsageError, match="--response-field"):
        GenSettings(expert="m", response_field=name)


def test_a_prompt_with_no_tokens_is_empty_prompt_on_every_backend():
    class NoBos:
        """--no-chat with a tokenizer that adds no BOS: an empty text gives no ids at all."""

        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": [ord(c) for c in text]}

    step = _step()
    step.backend_options = BackendOptions(chat=False)
    step.tokenizer = NoBos()
    outcomes = step.process([{"instruction": ""}, {"instruction": "hi"}])
    assert isinstance(outcomes[0], Reject) and outcomes[0].reason == "empty_prompt"
    assert outcomes[1]["response"] == "model answer" and len(step.backend.prompts) == 1
