"""instruct-data select: the best response per instruction, ties, thresholds, formats, pairs."""

from __future__ import annotations

import pytest
from llmkit_instruct_data.select import SelectSettings, SelectStep

from llmkit import Reject

from .helpers import ok, read_jsonl, write_jsonl


def select(records, **settings):
    return SelectStep(SelectSettings(**settings)).process(records)


RECORD = {"id": "c1", "instruction": "Name a fruit.", "responses": ["An apple.", "Pear", "Banana!!", "loop loop loop"],
          "preference_score": [8, 8, 3, 9.5], "response_token_length": [3, 1, 4, 50],
          "repetition_flag": [False, False, False, True]}


def test_best_score_ties_go_to_the_shorter():
    (out,) = select([RECORD])
    # 9.5 is flagged for repetition; 8 ties between two: the shorter (1 token) wins
    assert out == {"id": "c1", "messages": [{"role": "user", "content": "Name a fruit."},
                                            {"role": "assistant", "content": "Pear"}], "preference_score": 8.0}
    (out,) = select([RECORD], allow_repetition=True)
    assert out["messages"][1]["content"] == "loop loop loop"
    # without token lengths, characters decide; equal lengths: the first
    (out,) = select([{"instruction": "q", "responses": ["bbb", "aa", "cc"], "preference_score": [5, 5, 5]}], format="plain")
    assert out == {"instruction": "q", "response": "aa", "preference_score": 5.0}


def test_min_score_and_unscored():
    (out,) = select([RECORD], min_score=8.5)
    assert isinstance(out, Reject) and out.reason == "low_score"
    (out,) = select([{"instruction": "q", "responses": ["a", "b"], "preference_score": [-1, -1]}])
    assert isinstance(out, Reject) and out.reason == "no_scored_response"
    (out,) = select([{"instruction": "q", "response": "a", "preference_score": 7, "repetition": True}])
    assert isinstance(out, Reject) and out.reason == "no_scored_response"  # contrastive-gen's flag counts too
    (out,) = select([{"instruction": "q", "response": "a", "preference_score": 7, "repetition": False}], min_score=7)
    assert out["messages"][1]["content"] == "a"


def test_pairs_in_trl_dpo_form():
    (out,) = select([RECORD], pairs=True)
    assert out == {"id": "c1", "prompt": [{"role": "user", "content": "Name a fruit."}],
                   "chosen": [{"role": "assistant", "content": "Pear"}],
                   "rejected": [{"role": "assistant", "content": "Banana!!"}], "score_chosen": 8.0, "score_rejected": 3.0}
    (out,) = select([RECORD], pairs=True, format="plain")
    assert (out["prompt"], out["chosen"], out["rejected"]) == ("Name a fruit.", "Pear", "Banana!!")
    tied = {"instruction": "q", "responses": ["a", "b"], "preference_score": [6, 6]}
    assert select([tied], pairs=True)[0].reason == "no_pair"
    assert select([{"instruction": "q", "response": "a", "preference_score": 6}], pairs=True)[0].reason == "no_pair"


@pytest.mark.parametrize(("record", "reason"), [
    ({"responses": ["a"], "preference_score": [1]}, "missing_field"),
    ({"instruction": "q", "preference_score": [1]}, "missing_field"),
    ({"instruction": "q", "responses": ["a"]}, "missing_field"),
    ({"instruction": "q", "responses": ["a", "b"], "preference_score": [1]}, "bad_scores"),
    ({"instruction": "q", "responses": ["a"], "preference_score": ["8"]}, "bad_scores"),
    ({"instruction": "q", "responses": ["a"], "preference_score": [1], "repetition_flag": [True, False]}, "bad_scores"),
    # a flag that is not a boolean: "no" is truthy and would drop the response silently
    ({"instruction": "q", "responses": ["a", "b"], "preference_score": [8, 2], "repetition_flag": ["no", False]}, "bad_scores"),
    ({"instruction": "q", "response": "a", "preference_score": 8, "repetition": 0}, "bad_scores"),
])
def test_malformed_records(record, reason):
    (out,) = select([record])
    assert isinstance(out, Reject) and out.reason == reason


def test_keep_fields():
    (out,) = select([RECORD], keep_fields=True, format="plain")
    assert out["responses"] == RECORD["responses"] and out["response"] == "Pear"
    (out,) = select([{**RECORD, "messages": [{"role": "user", "content": "other"}]}], keep_fields=True)
    assert isinstance(out, Reject) and out.reason == "field_exists"


def test_cli_counts(tmp_path):
    records = [RECORD, {"id": "c2", "instruction": "q", "response": "a", "preference_score": 2},
               {"id": "c3", "instruction": "q", "response": "a", "preference_score": -1}]
    data = write_jsonl(tmp_path / "in.jsonl", records)
    out = read_jsonl(ok("instruct-data", "select", "-i", str(data), "--min-score", "5", "--rejects",
                        str(tmp_path / "rej.jsonl"), "-q"))
    rejects = read_jsonl(tmp_path / "rej.jsonl")
    assert [r["id"] for r in out] == ["c1"]
    assert {r["id"]: r["reject"]["reason"] for r in rejects} == {"c2": "low_score", "c3": "no_scored_response"}


def test_the_instruction_is_read_as_the_judge_reads_it():
    # a record the judge scored from its chat list alone (no 'instruction') must not be lost here
    chat_only = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}],
                 "response": "Hi", "preference_score": 6}
    (out,) = select([chat_only], format="plain")
    assert out == {"instruction": "Say hi", "response": "Hi", "preference_score": 6.0}
    both = dict(chat_only, instruction="Say hello in Japanese")  # the field first, as judge and contrastive-gen
    (out,) = select([both], format="plain")
    assert out["instruction"] == "Say hello in Japanese"
