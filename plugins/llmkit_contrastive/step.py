"""The contrastive-gen step: records in, responses out, through one generation backend.

Contrastive runs use the pair backends of this plugin (hf lockstep, or the one-engine vLLM
pair); plain runs (no amateur, or beta 0) use the ordinary backend of the expert. Either way the
prompt is rendered and tokenized once here, with the expert's tokenizer.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from llmkit import (
    Backend,
    BackendOptions,
    GenerationResult,
    Outcome,
    Record,
    Reject,
    SamplingParams,
    Step,
    TokenIds,
    UsageError,
    existing_field,
    find_repetition,
    open_backend,
)

from llmkit_contrastive.chat import prompt_ids, record_messages
from llmkit_contrastive.formulas import Contrast

#: CoDIT's sampling defaults; the longest response we let a model write unless told otherwise.
DEFAULT_SAMPLING = dict(temperature=1.0, top_p=1.0, max_tokens=2048)
#: Fields every output record gets besides the text (whose name --response-field sets).
FIXED_FIELDS = ("generation", "repetition")


@dataclass(frozen=True)
class GenSettings:
    expert: str
    amateur: str | None = None
    contrast: Contrast = Contrast()
    field: str = "instruction"
    system: str | None = None
    n: int = 1
    stop: tuple[str, ...] = ()
    response_field: str | None = None

    @property
    def plain(self) -> bool:
        """No contrast to make: generate from the expert alone."""
        return self.amateur is None or self.contrast.beta == 0

    @property
    def output_field(self) -> str:
        """Where the text goes: --response-field, else response (responses with --n > 1)."""
        return self.response_field or ("response" if self.n == 1 else "responses")


class ContrastiveGenStep(Step):
    name = "contrastive-gen"
    batch_size = 32

    def __init__(self, settings: GenSettings, options: BackendOptions) -> None:
        self.settings = settings
        self.options = dataclasses.replace(options, model=settings.expert)
        self.params: SamplingParams = dataclasses.replace(
            self.options.sampling(**DEFAULT_SAMPLING), n=settings.n, stop=settings.stop
        )
        self.backend: Backend | None = None
        self.tokenizer: Any = None

    @property
    def chat(self) -> bool:
        return self.options.chat if self.options.chat is not None else True

    def open(self) -> None:
        # vLLM logs to stdout unless told otherwise, and reads this when first imported (its
        # engine processes inherit it): stdout carries data only
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        if self.settings.plain:
            self.backend = open_backend(self.options)
            check_chat_template(self.backend.tokenizer, self.settings.expert, self.chat)
        else:
            from llmkit_contrastive.pairs import open_pair

            self.backend = open_pair(self.settings, self.options, self.chat)
        self.tokenizer = self.backend.tokenizer
        # a vllm engine wants more records per batch than a model held here (--batch-size wins)
        self.batch_size = self.backend.preferred_batch_size(type(self).batch_size)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def process(self, records: list[Record]) -> list[Outcome]:
        assert self.backend is not None, "open() first"
        outcomes: list[Outcome] = [None] * len(records)
        prompts, where = [], []
        for i, record in enumerate(records):
            prompt = self._clash(record) or self._prompt(record)
            if isinstance(prompt, Reject):
                outcomes[i] = prompt
            elif isinstance(prompt, TokenIds) and not prompt.ids:
                # --no-chat, an empty text and a tokenizer without BOS: every backend rejects it
                # (llmkit.prompt_problem); refused here too, so that no backend is sent it
                outcomes[i] = Reject("empty_prompt", "the prompt has no tokens")
            else:
                prompts.append(prompt)
                where.append(i)
        results = self.backend.generate(prompts, self.params) if prompts else []
        for i, result in zip(where, results, strict=True):
            outcomes[i] = self._output(records[i], result)
        return outcomes

    def _clash(self, record: Record) -> Reject | None:
        """``field_exists`` when the record already holds a field the output would overwrite:
        a human-written ``response`` must not be replaced silently (checked before any model work)."""
        clash = existing_field(record, self.settings.output_field, hint="give --response-field NAME to write the text elsewhere")
        for name in FIXED_FIELDS:
            clash = clash or existing_field(record, name, hint="rename it in the input (--response-field names only the text)")
        return clash

    def _prompt(self, record: Record) -> TokenIds | list[dict[str, str]] | Reject:
        messages = record_messages(record, self.settings.field, self.settings.system)
        if isinstance(messages, Reject) or self.tokenizer is None:
            return messages  # a backend without a local tokenizer (openai) renders the chat itself
        try:
            return TokenIds(prompt_ids(self.tokenizer, messages, chat=self.chat))
        except Exception as exc:  # a template that refuses the roles it was given
            return Reject("bad_messages", f"chat template failed: {exc}")

    def _output(self, record: Record, result: GenerationResult) -> Outcome:
        if result.error is not None:
            return Reject(result.error, result.detail)
        settings = self.settings
        texts = [c.text for c in result.completions]
        reasons = [c.finish_reason for c in result.completions]
        lengths = [len(c.token_ids) for c in result.completions]
        repeated = [find_repetition(t) is not None for t in texts]
        single = settings.n == 1
        return {
            **record,
            settings.output_field: texts[0] if single else texts,
            "generation": {
                "expert": settings.expert,
                "amateur": None if settings.plain else settings.amateur,
                "beta": settings.contrast.beta,
                "alpha": settings.contrast.alpha,
                "formula": "plain" if settings.plain else settings.contrast.formula,
                "finish_reason": reasons[0] if single else reasons,
                "num_tokens": lengths[0] if single else lengths,
            },
            "repetition": repeated[0] if single else repeated,
        }


def check_chat_template(tokenizer: Any, expert: str, chat: bool) -> None:
    """A chat run needs the expert's template; say so once instead of rejecting every record."""
    if chat and tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        raise UsageError(f"the expert {expert!r} has no chat template; give --no-chat to prompt with the bare text")


def check_settings(settings: GenSettings) -> None:
    """Options that cannot work together, before anything loads."""
    c = settings.contrast
    if c.formula not in ("difference", "obrien"):
        raise UsageError(f"--formula must be difference or obrien, not {c.formula!r}")
    if c.beta < 0:
        raise UsageError("--beta must be >= 0")
    if not 0 <= c.alpha <= 1:
        raise UsageError("--alpha must be in [0, 1]")
    if settings.n < 1:
        raise UsageError("--n must be >= 1")
    if settings.output_field in FIXED_FIELDS:
        raise UsageError(f"--response-field {settings.output_field!r} would be overwritten by the output's own "
                         f"{settings.output_field!r} field; choose another name")
