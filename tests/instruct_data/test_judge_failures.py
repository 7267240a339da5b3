"""instruct-data judge keeps a record whose judge prompt the backend failed: that response scores -1."""

from __future__ import annotations

from llmkit_instruct_data.judge import JudgeSettings, JudgeStep

import llmkit
from llmkit.testing import ScriptedBackend, failure


def test_a_failed_judge_prompt_scores_no_score_and_the_record_is_kept(tiny_llama):
    def answer(prompt):
        return failure("too_long", "x") if "\nlong one\n" in prompt[0]["content"] else "Score: 7"

    step = JudgeStep(JudgeSettings(tokenizer=str(tiny_llama)), llmkit.BackendOptions(model="judge"), backend=ScriptedBackend(answer))
    step.open()
    [out] = step.process([{"instruction": "q", "responses": ["short", "long one"]}])
    assert out["preference_score"] == [7.0, -1.0]
