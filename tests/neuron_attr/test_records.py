"""Task records: what becomes an item, what is rejected and why (through the CLI, to --rejects)."""

from __future__ import annotations

import orjson
import pytest

from llmkit import Reject
from llmkit.testing import run_command
from llmkit_neuron_attr.records import RecordRules, parse_item


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):
    from llmkit.backends import load_tokenizer

    return load_tokenizer(str(tiny_llama))


BAD = [
    ({"choices": ["a", "b"], "answer": 0}, "missing_field"),
    ({"prompt": "q"}, "missing_field"),
    ({"prompt": "q", "choices": ["a"], "answer": 0}, "bad_choices"),
    ({"prompt": "q", "choices": ["a", "a"], "answer": 0}, "bad_choices"),
    ({"prompt": "q", "choices": "ab", "answer": 0}, "bad_choices"),
    ({"prompt": "q", "choices": ["a", "b"]}, "missing_field"),
    ({"prompt": "q", "choices": ["a", "b"], "answer": 2}, "bad_answer"),
    ({"prompt": "q", "choices": ["a", "b"], "answer": "c"}, "bad_answer"),
    ({"prompt": "q", "choices": ["a", "b"], "answer": True}, "bad_answer"),
    ({"prompt": "q", "target": ""}, "missing_field"),
    ({"prompt": "q " * 40, "target": "b"}, "too_long"),
]


@pytest.mark.parametrize(("record", "reason"), BAD)
def test_bad_records_are_rejected_with_their_reason(tokenizer, record, reason):
    outcome = parse_item({"task": "t", **record}, tokenizer, RecordRules(max_len=32))
    assert isinstance(outcome, Reject) and outcome.reason == reason


def test_task_from_field_or_option(tokenizer):
    record = {"prompt": "q", "target": " b"}
    assert parse_item(record, tokenizer, RecordRules()).reason == "missing_field"  # type: ignore[union-attr]
    assert parse_item(record, tokenizer, RecordRules(default_task="x")).task == "x"  # type: ignore[union-attr]
    assert parse_item({**record, "task": "own"}, tokenizer, RecordRules(default_task="x")).task == "own"  # type: ignore[union-attr]


def test_answer_by_text_equals_answer_by_index_and_tokens(tokenizer):
    by_index = parse_item({"task": "t", "prompt": "Capital:", "choices": [" Paris", " Rome"], "answer": 1}, tokenizer, RecordRules())
    by_text = parse_item({"task": "t", "prompt": "Capital:", "choices": [" Paris", " Rome"], "answer": " Rome"}, tokenizer, RecordRules())
    assert by_index == by_text
    assert by_index.prompt_ids == tokenizer.encode("Capital:", add_special_tokens=True)  # type: ignore[union-attr]
    assert by_index.answer_ids == tokenizer.encode(" Rome", add_special_tokens=False)  # type: ignore[union-attr]


def test_chat_renders_the_template_as_the_backends_do(tokenizer):
    item = parse_item({"task": "t", "prompt": "hello", "target": "x"}, tokenizer, RecordRules(chat=True))
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hello"}], tokenize=False, add_generation_prompt=True)
    assert item.prompt_ids == tokenizer.encode(text, add_special_tokens=False)  # type: ignore[union-attr]


def test_score_cli_writes_rejects_with_reasons_and_lines(tiny_llama, tmp_path):
    data = tmp_path / "task.jsonl"
    rows = [
        {"prompt": "a b", "choices": [" c", " d"], "answer": 0},
        {"prompt": "a b", "choices": [" c", " d"], "answer": 5},
        {"prompt": "a b", "target": " c d"},
        {"prompt": 3, "target": "x"},
    ]
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    rejects = tmp_path / "rejects.jsonl"
    run = run_command(["neuron-attr", "score", "-m", str(tiny_llama), "-i", str(data), "--task", "t", "--top-k", "5",
                       "--rejects", str(rejects), "-q"])  # fmt: skip
    assert run.status == 0
    out = run.outputs
    assert [r["rank"] for r in out] == [1, 2, 3, 4, 5]
    assert all(r["examples"] == 2 and r["layers"] == 2 and r["task"] == "t" for r in out)
    assert [r["score"] for r in out] == sorted((r["score"] for r in out), reverse=True)
    bad = [orjson.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["reject"]["reason"], r["reject"]["source"]) for r in bad] == [
        ("bad_answer", f"{data}:2"),
        ("missing_field", f"{data}:4"),
    ]
