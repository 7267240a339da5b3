"""The judge step: an LLM scores each (instruction, response) pair 0-10.

Every pair of a batch of records goes to the backend in one generate call, with ``n`` =
``--n-judge`` samples per pair; a pair's ``preference_score`` is the mean of the samples that
gave a score (:mod:`llmkit_instruct_data.scoring`), -1 when none did or the pair did not fit the
judge's context. ``response_token_length`` counts the response's tokens with the judge's
tokenizer (or ``--tokenizer``), without special tokens. ``repetition_flag`` is carried over from
the record (its own ``repetition_flag``, or contrastive-gen's ``repetition``), else computed with
the core's ``find_repetition``; ``--repetition-tokens N`` also flags responses longer than N
tokens (the released scoring script's rule, with 2000).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llmkit
from llmkit import Outcome, Record, Reject, Step, UsageError, existing_field, find_repetition

from llmkit_instruct_data.normalize import first_user_turn
from llmkit_instruct_data.scoring import NO_SCORE, mean_score, parse_score

#: greedy for one judgement; several samples need sampling to differ
GREEDY = {"temperature": 0.0, "max_tokens": 512}
SAMPLED = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 512}
OUTPUT_FIELDS = ("preference_score", "response_token_length")


@dataclass(frozen=True)
class JudgeSettings:
    field: str = "instruction"
    n_judge: int = 1
    keep_judge_text: bool = False
    tokenizer: str | None = None
    prompt_file: str | Path | None = None
    repetition_tokens: int | None = None


def check_settings(settings: JudgeSettings) -> None:
    if settings.n_judge < 1:
        raise UsageError("--n-judge must be >= 1")
    if settings.repetition_tokens is not None and settings.repetition_tokens < 1:
        raise UsageError("--repetition-tokens must be >= 1")


@dataclass
class _Item:
    """One record to judge: its instruction and responses, and where its pairs sit in the call."""

    index: int
    instruction: str
    responses: list[str]
    several: bool
    #: the record's own repetition flags (``repetition_flag``, or contrastive-gen's ``repetition``)
    flags: list[bool] | None = None
    first_pair: int = 0


class JudgeStep(Step):
    name = "judge"
    batch_size = 16

    def __init__(self, settings: JudgeSettings, options: llmkit.BackendOptions, backend: llmkit.Backend | None = None) -> None:
        self.settings = settings
        self.options = options
        self.template = llmkit.load_prompt("llmkit_instruct_data", "judge", settings.prompt_file,
                                           required={"instruction", "response"})
        self.model = backend
        self._owned = backend is None
        self.params = llmkit.SamplingParams()
        self.tokenizer: Any = None

    def open(self) -> None:
        if self.model is None:
            self.model = llmkit.open_backend(self.options)
        defaults = GREEDY if self.settings.n_judge == 1 else SAMPLED
        self.params = dataclasses.replace(self.options.sampling(**defaults), n=self.settings.n_judge)
        if self.settings.tokenizer is not None:
            self.tokenizer = llmkit.load_tokenizer(self.settings.tokenizer, self.options.trust_remote_code)
        else:
            self.tokenizer = self.model.tokenizer
        if self.tokenizer is None:
            raise UsageError(f"the {self.model.name!r} backend has no local tokenizer to count response tokens; "
                             "give --tokenizer (the judge's, a folder or hub name)")

    def close(self) -> None:
        if self._owned and self.model is not None:
            self.model.close()
        self.model = None

    def process(self, records: list[Record]) -> list[Outcome]:
        assert self.model is not None, "open() first"
        outcomes: list[Outcome] = [None] * len(records)
        items: list[_Item] = []
        prompts: list[llmkit.Prompt] = []
        for i, record in enumerate(records):
            item = self._item(i, record)
            if isinstance(item, Reject):
                outcomes[i] = item
                continue
            item.first_pair = len(prompts)
            prompts.extend(self.options.prompt(self.template.render(instruction=item.instruction, response=r))
                           for r in item.responses)
            items.append(item)
        results = self.model.generate(prompts, self.params) if prompts else []
        lengths = self._token_lengths([r for item in items for r in item.responses])
        for item in items:
            span = slice(item.first_pair, item.first_pair + len(item.responses))
            outcomes[item.index] = self._output(records[item.index], item, results[span], lengths[span])
        return outcomes

    def _item(self, index: int, record: Record) -> _Item | Reject:
        instruction = first_user_turn(record, self.settings.field)
        if isinstance(instruction, Reject):
            return instruction
        several = "responses" in record
        responses = record.get("responses") if several else record.get("response")
        if responses is None:
            return Reject("missing_field", "no field 'response' or 'responses'")
        listed = responses if several else [responses]
        if not isinstance(listed, list) or not listed or not all(isinstance(r, str) for r in listed):
            return Reject("bad_responses", "'responses' must be a non-empty list of strings, 'response' a string")
        for name in OUTPUT_FIELDS + (("judge_text",) if self.settings.keep_judge_text else ()):
            clash = existing_field(record, name)
            if clash is not None:
                return clash
        given = record.get("repetition_flag", record.get("repetition"))
        flags = None if given is None else given if several else [given]
        if flags is not None and (not isinstance(flags, list) or len(flags) != len(listed)
                                  or not all(isinstance(f, bool) for f in flags)):
            return Reject("bad_responses", "the record's repetition flags do not match its responses (one bool each)")
        return _Item(index, instruction, listed, several, flags)

    def _token_lengths(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _output(self, record: Record, item: _Item, results: list[llmkit.GenerationResult], lengths: list[int]) -> Outcome:
        answers = [[c.text for c in result.completions] if result.error is None else [] for result in results]
        scores = [mean_score([parse_score(a) for a in texts]) if texts else NO_SCORE for texts in answers]
        flags = self._repetition(item, lengths)
        one = not item.several
        out = {
            **record,
            "preference_score": scores[0] if one else scores,
            "response_token_length": lengths[0] if one else lengths,
            "repetition_flag": flags[0] if one else flags,
        }
        if self.settings.keep_judge_text:
            kept: list[Any] = [t[0] if len(t) == 1 else t for t in answers]
            out["judge_text"] = kept[0] if one else kept
        return out

    def _repetition(self, item: _Item, lengths: list[int]) -> list[bool]:
        flags = item.flags if item.flags is not None else [find_repetition(r) is not None for r in item.responses]
        limit = self.settings.repetition_tokens
        if limit is not None:
            flags = [f or n > limit for f, n in zip(flags, lengths)]
        return list(flags)
