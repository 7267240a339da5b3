"""instruct-data judge on scripted judge answers: parsing, batching, averaging, flags, lengths."""

from __future__ import annotations

import pytest
from llmkit_instruct_data.judge import JudgeSettings, JudgeStep
from llmkit_instruct_data.scoring import parse_score

import llmkit
from llmkit.testing import ScriptedBackend


@pytest.mark.parametrize(("answer", "score"), [
    ("The answer is correct and clear.\nScore: 8", 8.0),
    ("Fine.\nScore: eight", 8.0),  # a score in words
    ("Good.\nRating: Ten out of ten", 10.0),
    ("Score: 7/10", 7.0),  # the denominator is not a second number
    ("Score: 6 out of 10\n\n", 6.0),
    ("Rating: [[6.5]]", 6.5),
    ("スコア：９", 9.0),  # full-width digits, after NFKC
    ("Somewhere between 7 and 8.", -1.0),  # two numbers
    ("Score: 7-8", -1.0),
    ("I cannot rate this.", -1.0),  # none
    ("Score: one of the best", -1.0),
    ("Score: 11", -1.0),  # out of range
    ("Score: -2", -1.0),
    ("Score: 9\nThanks for asking!", -1.0),  # the final line holds no score
    ("", -1.0),
])
def test_parse_score(answer, score):
    assert parse_score(answer) == score


def judge(answers, records, tokenizer, **settings):
    backend = ScriptedBackend(answers, max_model_len=settings.pop("max_model_len", None))
    step = JudgeStep(JudgeSettings(tokenizer=str(tokenizer), **settings), llmkit.BackendOptions(model="judge"), backend=backend)
    step.open()
    return step.process(records), backend


def by_response(table):
    """A scripted judge that answers from the response in its prompt."""
    def answer(prompt):
        text = prompt[0]["content"]
        return next(reply for key, reply in table.items() if f"\n{key}\n" in text)
    return answer


def test_one_backend_call_per_batch_and_scores_per_response(tiny_llama):
    from transformers import AutoTokenizer

    records = [
        {"id": 1, "instruction": "Name a colour.", "responses": ["Red.", "Blue is a colour.", "no idea"],
         "repetition": [False, False, False]},
        {"id": 2, "messages": [{"role": "user", "content": "Say hi"}], "response": "Hi there"},
    ]
    answers = by_response({"Red.": "Short.\nScore: 6", "Blue is a colour.": "Good.\nScore: 9",
                           "no idea": "Useless.\nScore: zero", "Hi there": "Nothing to rate"})
    out, backend = judge(answers, records, tiny_llama, keep_judge_text=True)
    assert backend.calls == 1 and len(backend.prompts) == 4
    assert "Name a colour." in backend.prompts[0][0]["content"] and "Blue is a colour." in backend.prompts[1][0]["content"]
    assert out[0]["preference_score"] == [6.0, 9.0, 0.0] and out[1]["preference_score"] == -1.0
    assert out[1]["judge_text"] == "Nothing to rate" and out[0]["judge_text"][1] == "Good.\nScore: 9"
    reference = AutoTokenizer.from_pretrained(tiny_llama)
    assert out[0]["response_token_length"] == [len(reference("Red.", add_special_tokens=False)["input_ids"]),
                                               len(reference("Blue is a colour.", add_special_tokens=False)["input_ids"]),
                                               len(reference("no idea", add_special_tokens=False)["input_ids"])]
    assert isinstance(out[1]["response_token_length"], int)
    assert out[0]["repetition_flag"] == [False, False, False] and out[1]["repetition_flag"] is False
    assert backend.params[0].temperature == 0.0 and backend.params[0].n == 1
    assert out[0]["responses"] == records[0]["responses"]  # every input field passes through


def test_n_judge_samples_are_averaged_over_those_that_scored(tiny_llama):
    replies = iter(["Score: 6", "no score here", "Score: 9", "x", "y", "z"])
    out, backend = judge(lambda prompt: next(replies), [{"instruction": "q", "responses": ["a", "b"]}], tiny_llama, n_judge=3)
    assert out[0]["preference_score"] == [7.5, -1.0]
    assert backend.params[0].n == 3 and backend.params[0].temperature == 1.0


def test_repetition_computed_carried_or_by_length(tiny_llama):
    loop = "the cat sat on the mat " * 12
    records = [{"instruction": "q", "responses": [loop, "fine answer"]},
               {"instruction": "q", "response": loop, "repetition_flag": False},  # the record's own flag wins
               {"instruction": "q", "response": "one two three four five six seven eight nine ten"}]
    out, _ = judge(lambda p: "Score: 5", records, tiny_llama)
    assert out[0]["repetition_flag"] == [True, False] and out[1]["repetition_flag"] is False
    assert out[2]["repetition_flag"] is False
    out, _ = judge(lambda p: "Score: 5", records[2:], tiny_llama, repetition_tokens=5)
    assert out[0]["repetition_flag"] is True


def test_rejects_and_pairs_that_do_not_fit(tiny_llama):
    records = [{"instruction": "q"}, {"instruction": "q", "responses": []}, {"instruction": "q", "responses": "a"},
               {"instruction": "q", "response": "a", "preference_score": 3}, {"response": "a"},
               {"instruction": "q", "responses": ["a", "b"], "repetition": [True]},
               {"instruction": "q", "responses": ["short", "x" * 2000]}]
    out, backend = judge(lambda p: "Score: 4", records, tiny_llama, max_model_len=1500)
    reasons = [getattr(o, "reason", None) for o in out]
    assert reasons == ["missing_field", "bad_responses", "bad_responses", "field_exists", "missing_field", "bad_responses", None]
    assert out[-1]["preference_score"] == [4.0, -1.0]  # the long pair did not fit the judge: no score
    assert len(backend.prompts) == 2  # rejected records never reach the judge


def test_a_backend_without_tokenizer_needs_tokenizer():
    from llmkit_instruct_data.judge import check_settings

    step = JudgeStep(JudgeSettings(), llmkit.BackendOptions(model="judge"), backend=ScriptedBackend(["Score: 1"]))
    step.open()
    with pytest.raises(llmkit.UsageError, match="--tokenizer"):
        step.process([{"instruction": "q", "response": "a"}])
    with pytest.raises(llmkit.UsageError, match="--tokenizer"):  # known before anything opens
        check_settings(JudgeSettings(), llmkit.BackendOptions(backend="openai", base_url="http://127.0.0.1:1/v1"))


def test_prompt_file(tmp_path, tiny_llama):
    mine = tmp_path / "judge.txt"
    mine.write_text("Rate {response} for {instruction}")
    out, backend = judge(lambda p: "Score: 2", [{"instruction": "q", "response": "a"}], tiny_llama, prompt_file=mine)
    assert backend.prompts[0][0]["content"] == "Rate a for q" and out[0]["preference_score"] == 2.0
    bad = tmp_path / "bad.txt"
    bad.write_text("Rate {answer}")
    with pytest.raises(llmkit.UsageError, match="placeholders"):
        JudgeStep(JudgeSettings(prompt_file=bad), llmkit.BackendOptions(model="judge"))


def test_the_instruction_field_comes_before_the_chat_list(tiny_llama):
    # contrastive-gen answered 'instruction' (its --field); the judge must see that text, not
    # the first user turn of a chat list the record also carries
    records = [{"instruction": "Translate: good morning", "response": "おはよう",
                "messages": [{"role": "user", "content": "Something else entirely"}]},
               {"messages": [{"role": "user", "content": "Say hi"}], "response": "Hi"}]
    _, backend = judge(lambda p: "Score: 5", records, tiny_llama)
    assert "Translate: good morning" in backend.prompts[0][0]["content"]
    assert "Something else entirely" not in backend.prompts[0][0]["content"]
    assert "Say hi" in backend.prompts[1][0]["content"]
