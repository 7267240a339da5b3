"""Task records to token ids: multiple choice ``{prompt, choices, answer}`` or completion
``{prompt, target}``.

Every continuation (a choice, a target) is tokenised on its own, without special tokens, and
appended to the prompt's ids, as lm-evaluation-harness does: all choices of a record share the
prompt's tokens exactly, so their scores differ only by the continuation. A choice that should be
read after a space carries that space itself (``" Paris"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit import Record, Reject
from llmkit.backends import render_prompt


@dataclass(slots=True)
class TaskItem:
    """One task record, tokenised. ``continuations`` holds the choices, or the target alone;
    ``answer`` is the index of the correct one."""

    task: str
    prompt_ids: list[int]
    continuations: list[list[int]]
    answer: int
    multiple_choice: bool

    @property
    def answer_ids(self) -> list[int]:
        return self.continuations[self.answer]


@dataclass(frozen=True)
class RecordRules:
    """How records become items: the task of records without a ``task`` field, whether prompts are
    rendered with the chat template, and the context length every row must fit in."""

    default_task: str | None = None
    chat: bool = False
    max_len: int | None = None
    task_field: str = "task"


def record_task(record: Record, rules: RecordRules) -> str | Reject:
    """The record's task: its own ``task`` field, else ``--task``."""
    task = record.get(rules.task_field, rules.default_task)
    if task is None:
        return Reject("missing_field", f"no {rules.task_field!r} field and no --task")
    if not isinstance(task, str) or not task:
        return Reject("missing_field", f"field {rules.task_field!r} must be a non-empty string")
    return task


def parse_item(record: Record, tokenizer: Any, rules: RecordRules) -> TaskItem | Reject:
    """The record as a :class:`TaskItem`, or the reason it cannot be one."""
    task = record_task(record, rules)
    if isinstance(task, Reject):
        return task
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return Reject("missing_field", "no 'prompt' string")
    if "choices" in record:
        answer = choice_answer(record)
        if isinstance(answer, Reject):
            return answer
        texts, index = answer
        multiple_choice = True
    elif "target" in record:
        target = record["target"]
        if not isinstance(target, str) or not target:
            return Reject("missing_field", "'target' must be a non-empty string")
        texts, index, multiple_choice = [target], 0, False
    else:
        return Reject("missing_field", "a record needs 'choices' and 'answer' (multiple choice) or 'target' (completion)")
    turn = [{"role": "user", "content": prompt}] if rules.chat else prompt
    prompt_ids = render_prompt(tokenizer, turn)  # as the backends render it
    continuations = [list(tokenizer.encode(text, add_special_tokens=False)) for text in texts]
    if any(not ids for ids in continuations):
        return Reject("bad_choices", "a choice or target has no tokens")
    longest = len(prompt_ids) + max(len(ids) for ids in continuations)
    if rules.max_len is not None and longest > rules.max_len:
        return Reject("too_long", f"prompt and continuation take {longest} tokens; the context holds {rules.max_len}")
    return TaskItem(task, prompt_ids, continuations, index, multiple_choice)


def choice_answer(record: Record) -> tuple[list[str], int] | Reject:
    """The choices and the index of the correct one; ``answer`` is an index or the choice's text."""
    choices = record["choices"]
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
        return Reject("bad_choices", "'choices' must be a list of at least two non-empty strings")
    if len(set(choices)) != len(choices):
        return Reject("bad_choices", "two choices are the same text")
    if "answer" not in record:
        return Reject("missing_field", "no 'answer' (an index into 'choices' or the correct choice's text)")
    answer = record["answer"]
    if isinstance(answer, int) and not isinstance(answer, bool):
        if not 0 <= answer < len(choices):
            return Reject("bad_answer", f"answer index {answer} is outside 0..{len(choices) - 1}")
        return choices, answer
    if isinstance(answer, str):
        if answer not in choices:
            return Reject("bad_answer", f"answer {answer!r} is not one of the choices")
        return choices, choices.index(answer)
    return Reject("bad_answer", f"answer must be an index or a choice's text, not {type(answer).__name__}")
