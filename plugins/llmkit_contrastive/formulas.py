"""Contrastive next-token scores and the sampler over them: pure torch functions on logits.

Both formulas keep only the expert's plausible tokens (the adaptive plausibility constraint of
Li et al.): a token survives when the expert gives it at least ``alpha`` times the probability of
its most likely token. Everything else scores ``-inf``, so no sampler can pick it.

- ``difference`` (CoDIT; Li et al.): ``lp_e - beta * lp_a`` on log-softmaxed logits.
- ``obrien`` (O'Brien and Lewis): ``(1 + beta) * logit_e - beta * logit_a`` on raw logits, with the
  rule applied in logit space (``logit_e >= log(alpha) + max logit_e``, the same set as on
  probabilities, since log-softmax only shifts a row).
- ``li`` (Li et al.'s full rule, which also needs the sampling settings): :mod:`llmkit_contrastive.li`.

The amateur's logits are divided by ``amateur_temperature`` first (Li et al.'s
``student_temperature``; 1.0, CoDIT's setting, leaves them as they are).

Inputs are ``[batch, vocab]`` logits already trimmed to the tokenizer's vocabulary.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from llmkit_contrastive.contrast import FORMULAS, Contrast, plausible_mask
from llmkit_contrastive.li import li_next

if TYPE_CHECKING:
    import torch

__all__ = ["FORMULAS", "Contrast", "contrastive_scores", "next_tokens", "plausible_mask", "sample_next"]


def difference_scores(
    expert: "torch.Tensor", amateur: "torch.Tensor", beta: float, alpha: float, amateur_temperature: float = 1.0
) -> "torch.Tensor":
    """CoDIT: ``log p_e - beta * log p_a`` on the plausible set, ``-inf`` elsewhere."""
    import torch

    lp_expert = torch.log_softmax(expert.float(), dim=-1)
    lp_amateur = torch.log_softmax(amateur.float() / amateur_temperature, dim=-1)
    scores = lp_expert - beta * lp_amateur
    return scores.masked_fill(~plausible_mask(lp_expert, alpha), -math.inf)


def obrien_scores(
    expert: "torch.Tensor", amateur: "torch.Tensor", beta: float, alpha: float, amateur_temperature: float = 1.0
) -> "torch.Tensor":
    """O'Brien and Lewis: ``(1 + beta) * logit_e - beta * logit_a`` on the plausible set."""
    expert = expert.float()
    scores = (1.0 + beta) * expert - beta * (amateur.float() / amateur_temperature)
    return scores.masked_fill(~plausible_mask(expert, alpha), -math.inf)


def contrastive_scores(expert: "torch.Tensor", amateur: "torch.Tensor", contrast: Contrast) -> "torch.Tensor":
    """The scores ``contrast.formula`` gives; the next token is drawn from ``softmax(scores / T)``."""
    if contrast.formula == "difference":
        return difference_scores(expert, amateur, contrast.beta, contrast.alpha, contrast.amateur_temperature)
    if contrast.formula == "obrien":
        return obrien_scores(expert, amateur, contrast.beta, contrast.alpha, contrast.amateur_temperature)
    raise ValueError(f"unknown formula {contrast.formula!r}")


def sample_next(
    scores: "torch.Tensor",
    *,
    temperature: float,
    top_p: float = 1.0,
    top_k: int = 0,
    generator: "torch.Generator | None" = None,
) -> "torch.Tensor":
    """One token id per row: argmax at temperature 0, else a draw from the tempered, top-k and
    top-p filtered softmax of ``scores`` (the same order of filters as vLLM's sampler)."""
    import torch

    if temperature <= 0:
        return scores.argmax(dim=-1)
    scores = scores.float() / temperature
    if 0 < top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -math.inf)
    if top_p < 1.0:
        sorted_scores, order = scores.sort(dim=-1, descending=True)
        probs = torch.softmax(sorted_scores, dim=-1)
        # drop a token when the mass before it already reaches top_p (the top token always stays)
        before = probs.cumsum(dim=-1) - probs
        drop_sorted = before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, -math.inf)
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def next_tokens(
    expert: "torch.Tensor",
    amateur: "torch.Tensor",
    contrast: Contrast,
    *,
    temperature: float,
    top_p: float = 1.0,
    top_k: int = 0,
    generator: "torch.Generator | None" = None,
) -> "torch.Tensor":
    """The next token of each row: ``li`` by its own rule, the others by :func:`sample_next` on
    :func:`contrastive_scores` (temperature, top-k and top-p on the contrastive score, as CoDIT)."""
    if contrast.formula == "li":
        return li_next(expert, amateur, contrast, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
    scores = contrastive_scores(expert, amateur, contrast)
    return sample_next(scores, temperature=temperature, top_p=top_p, top_k=top_k, generator=generator)
