"""The contrastive-gen step: records in, responses out, through one generation backend.

Contrastive runs use the pair backends of this plugin (hf lockstep, or the one-engine vLLM
pair); plain runs (no amateur, or beta 0) use the ordinary backend of the expert. Either way the
prompt is rendered and tokenized once here, with the expert's tokenizer.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from llmkit import (
    BackendOptions,
    Completion,
    GenerationStep,
    LazyBackend,
    Outcome,
    Record,
    Reject,
    existing_field,
    find_repetition,
)
from llmkit.backends import Backend, TokenIds, open_backend

from llmkit_contrastive.chat import check_chat_template, prompt_ids, record_messages
from llmkit_contrastive.pairs import open_pair
from llmkit_contrastive.settings import DEFAULT_SAMPLING, FIXED_FIELDS, GenSettings

__all__ = ["DEFAULT_SAMPLING", "ContrastiveGenStep", "GenSettings", "check_chat_template"]


class ContrastiveGenStep(GenerationStep):
    name = "contrastive-gen"
    batch_size = 32
    sampling_defaults = DEFAULT_SAMPLING

    def __init__(self, settings: GenSettings, backend_options: BackendOptions) -> None:
        self.settings = settings
        backend_options = dataclasses.replace(backend_options, model=settings.expert_model)
        model = LazyBackend(backend_options, opener=self._open_backend)
        super().__init__(backend_options, shared=model, sampling={"n": settings.n, "stop": settings.stops})
        self.tokenizer: Any = None

    @property
    def chat(self) -> bool:
        chat = self.backend_options.chat
        return chat if chat is not None else True

    def _open_backend(self, backend_options: BackendOptions) -> Backend:
        """The expert's ordinary backend for a plain run, else one of this plugin's pair backends."""
        if self.settings.plain:
            backend = open_backend(backend_options)
            check_chat_template(backend.tokenizer, self.settings.expert_model, self.chat)
            return backend
        return open_pair(self.settings, backend_options, self.chat)

    def open(self) -> None:
        # vLLM logs to stdout unless told otherwise, and reads this when first imported (its
        # engine processes inherit it): stdout carries data only
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        backend = self.backend  # opened now: the prompts are tokenized with its tokenizer
        self.tokenizer = backend.tokenizer
        # a vllm engine wants more records per batch than a model held here (--batch-size wins)
        self.batch_size = backend.preferred_batch_size(type(self).batch_size)

    def check(self, record: Record) -> Reject | None:
        """``field_exists`` when the record already holds a field the output would overwrite:
        a human-written ``response`` must not be replaced silently (checked before any model work)."""
        clash = existing_field(record, self.settings.output_field, hint="give --response-field NAME to write the text elsewhere")
        for name in FIXED_FIELDS:
            clash = clash or existing_field(record, name, hint="rename it in the input (--response-field names only the text)")
        return clash

    def prompt(self, record: Record, text: str) -> TokenIds | list[dict[str, str]] | Reject:
        messages = record_messages(record, self.settings.field, self.settings.system)
        if isinstance(messages, Reject) or self.tokenizer is None:
            return messages  # a backend without a local tokenizer (openai) renders the chat itself
        try:
            ids = prompt_ids(self.tokenizer, messages, chat=self.chat)
        except Exception as exc:  # a template that refuses the roles it was given
            return Reject("bad_messages", f"chat template failed: {exc}")
        if not ids:
            # --no-chat, an empty text and a tokenizer without BOS: every backend rejects it
            # (llmkit.backends.prompt_problem); refused here too, so that no backend is sent it
            return Reject("empty_prompt", "the prompt has no tokens")
        return TokenIds(ids)

    def accept(self, record: Record, completions: list[Completion]) -> Outcome:
        settings = self.settings
        texts = [c.text for c in completions]
        reasons = [c.finish_reason for c in completions]
        lengths = [len(c.token_ids) for c in completions]
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
                "amateur_temperature": None if settings.plain else settings.contrast.amateur_temperature,
                "finish_reason": reasons[0] if single else reasons,
                "num_tokens": lengths[0] if single else lengths,
            },
            "repetition": repeated[0] if single else repeated,
        }
