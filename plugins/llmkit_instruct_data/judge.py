"""The judge step: an LLM scores each (instruction, response) pair 0-10.

Built on the core's generation template (:class:`llmkit.GenerationStep`): a record asks one
prompt per response, and every pair of a batch of records goes to the backend in one generate
call, with ``n`` = ``--n-judge`` samples per pair. A pair's ``preference_score`` is the mean of
the samples that gave a score (:mod:`llmkit_instruct_data.scoring`), -1 when none did or the pair
did not fit the judge's context. ``response_token_length`` counts the response's tokens with the
judge's tokenizer (or ``--tokenizer``), without special tokens. ``repetition_flag`` is carried
over from the record (its own ``repetition_flag``, or contrastive-gen's ``repetition``), else
computed with the core's ``find_repetition``; ``--repetition-tokens N`` also flags responses
longer than N tokens (the released scoring script's rule, with 2000).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llmkit
from llmkit import Outcome, Record, Reject, UsageError, find_repetition

from llmkit_instruct_data.normalize import instruction_of
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


def check_settings(settings: JudgeSettings, options: llmkit.BackendOptions) -> None:
    if settings.n_judge < 1:
        raise UsageError("--n-judge must be >= 1")
    if settings.repetition_tokens is not None and settings.repetition_tokens < 1:
        raise UsageError("--repetition-tokens must be >= 1")
    if options.backend == "openai" and settings.tokenizer is None:
        raise UsageError("the openai backend has no local tokenizer to count response tokens; "
                         "give --tokenizer (the judge's, a folder or hub name)")


@dataclass(frozen=True)
class Pairs:
    """What a record gives the judge: its instruction and responses, and its own flags."""

    instruction: str
    responses: list[str]
    several: bool
    flags: list[bool] | None


def read_pairs(record: Record, field: str) -> Pairs | Reject:
    instruction = instruction_of(record, field)
    if isinstance(instruction, Reject):
        return instruction
    several = "responses" in record
    responses = record.get("responses") if several else record.get("response")
    if responses is None:
        return Reject("missing_field", "no field 'response' or 'responses'")
    listed = responses if several else [responses]
    if not isinstance(listed, list) or not listed or not all(isinstance(r, str) for r in listed):
        return Reject("bad_responses", "'responses' must be a non-empty list of strings, 'response' a string")
    given = record.get("repetition_flag", record.get("repetition"))
    flags = None if given is None else given if several else [given]
    if flags is not None and (not isinstance(flags, list) or len(flags) != len(listed)
                              or not all(isinstance(f, bool) for f in flags)):
        return Reject("bad_responses", "the record's repetition flags do not match its responses (one bool each)")
    return Pairs(instruction, listed, several, flags)


class JudgeStep(llmkit.GenerationStep):
    name = "judge"
    batch_size = 16
    #: a response whose judge prompt failed gets NO_SCORE; the record is kept with the others' scores
    partial_results = True

    def __init__(self, settings: JudgeSettings, options: llmkit.BackendOptions, backend: Any = None) -> None:
        writes = OUTPUT_FIELDS + (("judge_text",) if settings.keep_judge_text else ())
        super().__init__(options, backend, writes=writes, sampling=GREEDY if settings.n_judge == 1 else SAMPLED)
        self.params = dataclasses.replace(self.params, n=settings.n_judge)
        self.settings = settings
        self.template = llmkit.load_prompt("llmkit_instruct_data", "judge", settings.prompt_file,
                                           required={"instruction", "response"})
        self._tokenizer: Any = None

    def open(self) -> None:
        if self.settings.tokenizer is not None:
            from llmkit.backends import load_tokenizer

            self._tokenizer = load_tokenizer(self.settings.tokenizer, self.backend_options.trust_remote_code)

    @property
    def tokenizer(self) -> Any:
        """--tokenizer, else the judge's own (the backend is open once a batch was judged)."""
        if self._tokenizer is None:
            self._tokenizer = self.backend.tokenizer
            if self._tokenizer is None:
                raise UsageError(f"the {self.backend.name!r} backend has no local tokenizer to count response "
                                 "tokens; give --tokenizer (the judge's, a folder or hub name)")
        return self._tokenizer

    def prompts(self, record: Record, text: str | None) -> list[llmkit.Prompt] | Reject:
        pairs = read_pairs(record, self.settings.field)
        if isinstance(pairs, Reject):
            return pairs
        render = self.template.render
        return [self.chat_prompt(render(instruction=pairs.instruction, response=r)) for r in pairs.responses]

    def accept_results(self, record: Record, results: list[Any]) -> Outcome:
        pairs = read_pairs(record, self.settings.field)
        assert not isinstance(pairs, Reject), "prompts() accepted this record"
        answers = [[c.text for c in result.completions] if result.error is None else [] for result in results]
        scores = [mean_score([parse_score(a) for a in texts]) if texts else NO_SCORE for texts in answers]
        lengths = [len(ids) for ids in self.tokenizer(pairs.responses, add_special_tokens=False)["input_ids"]]
        flags = pairs.flags if pairs.flags is not None else [find_repetition(r) is not None for r in pairs.responses]
        if self.settings.repetition_tokens is not None:
            flags = [f or n > self.settings.repetition_tokens for f, n in zip(flags, lengths)]
        one = not pairs.several
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
