"""The hf contrastive pair as an llmkit Backend: prompts are TokenIds, results as any backend's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from llmkit import BackendOptions, Prompt, SamplingParams, UsageError
from llmkit.backends import Backend, GenerationResult, LocalModel, eos_token_ids

from llmkit_contrastive.contrast import Contrast
from llmkit_contrastive.hf_decode import LockstepDecoder, context_length
from llmkit_contrastive.pair_prompts import fill_results, split_prompts


class HFContrastivePair(Backend):
    """Expert and amateur loaded with transformers, decoded in lockstep."""

    name = "hf-contrastive"

    def __init__(self, expert: str, amateur: str, tokenizer: Any, vocab_size: int, contrast: Contrast, options: BackendOptions) -> None:
        # each model by the core's rules (--dtype, --device, --trust-remote-code); the tokenizer is the expert's, given
        # the LocalModels are kept: their close() gives the weights (and the GPU's memory) back
        self._models = (LocalModel(replace(options, model=expert)), LocalModel(replace(options, model=amateur)))
        expert_model, amateur_model = (local.model for local in self._models)
        for label, model in (("expert", expert_model), ("amateur", amateur_model)):
            rows = model.get_output_embeddings().weight.shape[0]
            if rows < vocab_size:
                raise UsageError(f"the {label}'s LM head has {rows} rows, fewer than the {vocab_size} tokens of the tokenizer")
        self._tokenizer = tokenizer
        self._max_model_len = context_length([expert_model.config, amateur_model.config], tokenizer, options.max_model_len)
        self.decoder: LockstepDecoder | None = LockstepDecoder(
            expert_model, amateur_model, tokenizer, contrast,
            vocab_size=vocab_size, max_model_len=self._max_model_len, eos_ids=eos_token_ids(expert_model, tokenizer),
        )

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        assert self._max_model_len is not None  # set when the pair is loaded
        results, runnable = split_prompts(prompts, self._max_model_len)
        assert self.decoder is not None, "generate after close"
        return fill_results(results, self.decoder.generate(runnable, params) if runnable else [])

    def close(self) -> None:
        """Let both models go: the decoder's references first, so that nothing still holds them."""
        self.decoder = None
        for local in self._models:
            local.close()
