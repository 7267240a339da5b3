"""Trial prompts: the needle span holds exactly the answer's tokens, at the asked depth and length."""

from __future__ import annotations

import pytest
from llmkit_ret_heads.haystack import Needle, TrialBuilder, default_haystack, needle_of

import llmkit
import llmkit.backends

NEEDLE = Needle("The password to the old observatory is copper heron seventeen.",
                "What is the password to the old observatory?", "copper heron seventeen")


@pytest.fixture(scope="module")
def builder(tiny_llama):
    tokenizer = llmkit.backends.load_tokenizer(str(tiny_llama))
    template = llmkit.load_prompt("llmkit_ret_heads", "detect", required={"context", "question"})
    return TrialBuilder(tokenizer, default_haystack(), template, chat=False, longest=12000)


@pytest.mark.parametrize("depth", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("length", [300, 1000])
def test_span_is_the_answer(builder, depth, length):
    trial = builder.build(0, NEEDLE, length, depth)
    start, end = trial.span
    text = builder.tokenizer.decode(trial.ids[start:end])
    assert text.strip() == NEEDLE.answer
    assert abs(len(trial.ids) - length) <= 3
    place = start / len(trial.ids)
    if depth == 0.0:
        assert end <= len(builder.tokenizer(NEEDLE.context)["input_ids"]) + 1  # the needle opens the context
    else:
        assert place <= depth + 0.02 and (depth == 1.0 or place > depth - 0.25)


def test_the_default_haystack_repeats_for_long_contexts(builder):
    trial = builder.build(0, NEEDLE, 10000, 0.5)
    assert abs(len(trial.ids) - 10000) <= 3


def test_chat_template_prompt(tiny_llama):
    tokenizer = llmkit.backends.load_tokenizer(str(tiny_llama))
    template = llmkit.load_prompt("llmkit_ret_heads", "detect", required={"context", "question"})
    trial = TrialBuilder(tokenizer, default_haystack(), template, chat=True, longest=400).build(0, NEEDLE, 400, 0.5)
    assert tokenizer.decode(trial.ids).startswith("<s><|user|>")
    assert tokenizer.decode(trial.ids[slice(*trial.span)]).strip() == NEEDLE.answer


def test_length_shorter_than_the_prompt_is_a_usage_error(builder):
    with pytest.raises(llmkit.UsageError, match="too short"):
        builder.build(0, NEEDLE, 20, 0.5)


def test_malformed_needles_are_rejected():
    assert needle_of({"context": "a b c", "question": "q?"}).reason == "missing_field"
    assert needle_of({"context": "a b c", "question": "q?", "answer": "d"}).reason == "answer_not_in_context"
    assert needle_of({"context": "a b c", "question": "q?", "answer": "b"}) == Needle("a b c", "q?", "b")
