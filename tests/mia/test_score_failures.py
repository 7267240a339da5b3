"""`mia score` sampling: what the backend could not answer is the generation template's reject."""

from __future__ import annotations

from llmkit_mia.score import ScoreConfig, ScoreStep

from llmkit import BackendOptions, Reject
from llmkit.testing import ScriptedBackend, failure

TEXT = "alpha beta gamma delta epsilon zeta"


class Unanswering(ScriptedBackend):
    """Answers the first prompt; gives the second no completion at all (and no error)."""

    def generate(self, prompts, params):
        results = super().generate(prompts, params)
        results[1].completions = []
        return results


def test_a_sample_request_the_backend_failed_or_left_unanswered_is_rejected_and_the_rest_scored():
    step = ScoreStep(BackendOptions(), ScoreConfig(num_samples=2), backend=Unanswering(lambda prompt: " delta"))
    step.open()
    out = step.process([{"input": TEXT}, {"input": TEXT}])
    assert out[0]["mia"]["samia"] == 1 / 3
    assert out[1] == Reject("no_answer", "the backend returned no completion")  # was a crash: ValueError


def test_a_too_long_prompt_keeps_the_backends_reason_and_detail():
    backend = ScriptedBackend(lambda prompt: failure("too_long", "prompt has 9 tokens; the context holds 8"))
    step = ScoreStep(BackendOptions(), ScoreConfig(num_samples=1), backend=backend)
    step.open()
    assert step.process([{"input": TEXT}]) == [Reject("too_long", "prompt has 9 tokens; the context holds 8")]
