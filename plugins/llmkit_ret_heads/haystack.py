"""Needle-in-a-haystack trials: a needle sentence placed at a depth of a haystack cut to a length.

The needle goes at a sentence boundary, as in Wu et al. (who walk back to a '.' token): the
insertion point is the token at ``depth`` of the haystack part, moved back to the start of its
sentence. The length counts the whole prompt (template, question, needle, special tokens), so a
trial's prompt is about ``length`` tokens (a few more or fewer where a cut falls inside a word).
The needle span is the answer's tokens inside the needle sentence, found through the tokenizer's
character offsets of the whole prompt, so it is exact whatever merges the tokenizer makes there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import llmkit

_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")


@dataclass(frozen=True)
class Needle:
    context: str
    question: str
    answer: str


@dataclass
class Trial:
    needle: int
    length: int
    depth: float
    ids: list[int]
    #: the answer's tokens in ``ids``: [start, end)
    span: tuple[int, int]


def default_haystack() -> str:
    return files("llmkit_ret_heads").joinpath("data/haystack.txt").read_text(encoding="utf-8")


def default_needles_path() -> str:
    return str(files("llmkit_ret_heads").joinpath("data/needles.jsonl"))


def read_haystack(path: str, field: str) -> str:
    """The texts of a JSONL corpus (field ``field``), joined by blank lines."""
    texts = []
    for record, where in llmkit.read_jsonl(path, "--haystack"):
        text = record.get(field)
        if not isinstance(text, str):
            raise llmkit.InputError(f"no string field {field!r}", where)
        texts.append(text.strip())
    if not any(texts):
        raise llmkit.UsageError(f"--haystack {path} holds no text in field {field!r}")
    return "\n\n".join(texts)


def needle_of(record: llmkit.Record) -> Needle | llmkit.Reject:
    values = {}
    for name in ("context", "question", "answer"):
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            return llmkit.Reject("missing_field", f"a needle needs a non-empty string {name!r}")
        values[name] = value.strip()
    if values["answer"] not in values["context"]:
        return llmkit.Reject("answer_not_in_context", "the answer must appear word for word in the context sentence")
    return Needle(**values)


class TrialBuilder:
    """Builds trial prompts from one haystack text for one tokenizer and prompt template."""

    def __init__(self, tokenizer: Any, haystack: str, template: llmkit.PromptTemplate, chat: bool, longest: int) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self.chat = chat
        haystack = haystack.strip()
        if not tokenizer.is_fast:
            raise llmkit.UsageError("ret-heads detect needs a fast tokenizer (it locates the needle by character offsets)")
        # a haystack shorter than the longest context is repeated (said in the README)
        once = len(self._offsets(haystack))
        copies = 1 if once >= longest else longest // max(1, once) + 2
        self.text = "\n\n".join([haystack] * copies)
        self.offsets = self._offsets(self.text) if copies > 1 else self._offsets(haystack)

    def _offsets(self, text: str) -> list[tuple[int, int]]:
        return self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]

    def build(self, index: int, needle: Needle, length: int, depth: float) -> Trial:
        overhead = len(self._tokenize(self._render(needle.context, needle.question))[0])
        budget = length - overhead
        if budget < 1:
            raise llmkit.UsageError(f"--lengths {length} is too short: the prompt without haystack is {overhead} tokens")
        part = self.text[: self.offsets[budget - 1][1]]
        point = self._sentence_start(part, self.offsets[round(depth * budget) - 1][1] if depth > 0 else 0)
        context = f"{part[:point]}{needle.context} {part[point:]}"
        prompt = self._render(context, needle.question)
        ids, offsets = self._tokenize(prompt)
        answer_at = prompt.index(context) + point + needle.context.index(needle.answer)
        answer_end = answer_at + len(needle.answer)
        inside = [i for i, (a, b) in enumerate(offsets) if b > a and b > answer_at and a < answer_end]
        return Trial(index, length, depth, ids, (inside[0], inside[-1] + 1))

    @staticmethod
    def _sentence_start(text: str, position: int) -> int:
        """The start of the sentence holding character ``position`` (0 when none ends before it)."""
        ends = [match.end() for match in _SENTENCE_END.finditer(text, 0, position) if match.end() <= position]
        return ends[-1] if ends else 0

    def _render(self, context: str, question: str) -> str:
        text = self.template.render(context=context, question=question)
        if not self.chat:
            return text
        return self.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)

    def _tokenize(self, prompt: str) -> tuple[list[int], list[tuple[int, int]]]:
        # a chat template writes the special tokens itself; plain text gets the tokenizer's (BOS)
        encoded = self.tokenizer(prompt, add_special_tokens=not self.chat, return_offsets_mapping=True)
        return encoded["input_ids"], encoded["offset_mapping"]
