"""The vLLM architecture ``LlmkitContrastivePair``: an expert and an amateur network in one model.

vLLM sees one causal LM. Both sub-models read the same tokens at the same positions; their
attention layers live under digit-free prefixes (``expert_model.`` / ``amateur_model.``), so vLLM
gives each stack its own KV cache under the one block table, and its scheduler, batching, prefix
cache and sampler work unchanged. ``forward`` returns both stacks' hidden states side by side;
``compute_logits`` (called by the runner on the rows it samples) splits them, trims each model's
logits to the tokenizer's vocabulary and returns the contrastive scores, ``-inf`` outside the
plausible set, as the logits vLLM samples from.

The pair's config is the expert's ``config.json`` with ``architectures`` replaced and one extra
entry, ``llmkit_contrastive`` (see :func:`llmkit_contrastive.vllm_pair.write_pair_dir`):
``{expert_architectures, amateur, beta, alpha, formula, amateur_temperature, vocab_size}``. Weights: the pair folder
links the expert's files (the loader's primary source); the amateur's files are a secondary
source under the ``amateur_model.`` prefix.

This module imports vLLM; only vLLM's registry imports it, lazily.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn
from vllm.config import VllmConfig
from vllm.model_executor.model_loader.default_loader import DefaultModelLoader
from vllm.model_executor.model_loader.utils import initialize_model
from vllm.model_executor.models.utils import AutoWeightsLoader, maybe_prefix
from vllm.sequence import IntermediateTensors
from vllm.transformers_utils.config import get_config

from llmkit_contrastive.contrast import Contrast
from llmkit_contrastive.formulas import contrastive_scores
from llmkit_contrastive.li import li_scores

EXPERT, AMATEUR = "expert_model", "amateur_model"  # no digits: vLLM reads a layer's index from its name


class ContrastivePairForCausalLM(nn.Module):
    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        model_config = vllm_config.model_config
        pair = dict(model_config.hf_config.llmkit_contrastive)
        li = dict(pair.get("li_sampling") or {})
        self.contrast = Contrast(
            float(pair["beta"]), float(pair["alpha"]), str(pair["formula"]), float(pair.get("amateur_temperature", 1.0)),
            temperature=float(li.get("temperature", 1.0)), top_k=int(li.get("top_k", 0)), top_p=float(li.get("top_p", 1.0)),
            compat=str(pair.get("compat", "llmkit")),
        )
        self.vocab_size = int(pair["vocab_size"])
        expert_config = vllm_config.with_hf_config(model_config.hf_config, architectures=list(pair["expert_architectures"]))
        amateur_hf = get_config(pair["amateur"], model_config.trust_remote_code)
        amateur_config = vllm_config.with_hf_config(amateur_hf, architectures=list(amateur_hf.architectures))
        self.expert_model = initialize_model(expert_config, prefix=maybe_prefix(prefix, EXPERT))
        self.amateur_model = initialize_model(amateur_config, prefix=maybe_prefix(prefix, AMATEUR))
        self.hidden_sizes = [expert_config.model_config.get_hidden_size(), amateur_config.model_config.get_hidden_size()]
        self.secondary_weights = [DefaultModelLoader.Source(pair["amateur"], revision=None, prefix=AMATEUR + ".")]

    def embed_input_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.expert_model.embed_input_ids(input_ids)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        positions: torch.Tensor,
        intermediate_tensors: IntermediateTensors | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: object,
    ) -> torch.Tensor:
        if input_ids is None:
            raise ValueError("the contrastive pair needs token ids (both models embed them themselves)")
        expert = self.expert_model(input_ids, positions, intermediate_tensors, inputs_embeds)
        amateur = self.amateur_model(input_ids, positions)
        return torch.cat([expert, amateur], dim=-1)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        expert_hidden, amateur_hidden = hidden_states.split(self.hidden_sizes, dim=-1)
        expert = self.expert_model.compute_logits(expert_hidden.contiguous())
        amateur = self.amateur_model.compute_logits(amateur_hidden.contiguous())
        if expert is None or amateur is None:  # a pipeline rank without the heads
            return None
        vocab = self.vocab_size
        contrast = self.contrast
        if contrast.formula == "li":  # the expert filtered and tempered here; vLLM samples at T 1, no filter
            scores = li_scores(expert[:, :vocab], amateur[:, :vocab], contrast,
                               temperature=contrast.temperature, top_k=contrast.top_k, top_p=contrast.top_p)
        else:
            scores = contrastive_scores(expert[:, :vocab], amateur[:, :vocab], contrast)
        # keep the width vLLM expects (the expert's head); padded rows can never be drawn
        out = torch.full((expert.shape[0], expert.shape[1]), -math.inf, dtype=scores.dtype, device=scores.device)
        out[:, :vocab] = scores
        return out

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        # the primary source (the expert's files) comes unprefixed; the amateur's already has its prefix
        named = ((name if name.startswith(AMATEUR + ".") else f"{EXPERT}.{name}", tensor) for name, tensor in weights)
        return AutoWeightsLoader(self).load_weights(named)
