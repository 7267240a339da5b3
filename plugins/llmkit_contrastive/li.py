"""Li et al.'s contrastive decoding rule in full (``--formula li``; Li et al., 2023, "Contrastive
Decoding: Open-ended Text Generation as Optimization", and their ContrastiveDecoding code).

Per step, on ``[batch, vocab]`` logits of the expert ``z_e`` and the amateur ``z_a``, in the order
their code's warpers run:

1. the expert alone is filtered on its untempered distribution: top-k, then the adaptive
   plausibility cut (keep ``p_e >= alpha * max p_e``), then top-p over what is left, renormalised
   (the plausible set's own nucleus, not the full distribution's);
2. the amateur has its own temperature: ``lp_a = log_softmax(z_a / amateur_temperature)``
   (``student_temperature``, 0.5 in their experiments);
3. the expert is divided by its temperature last: ``score = lp_e / T - beta * lp_a`` on the tokens
   kept, ``-inf`` elsewhere;
4. the next token is drawn from ``softmax(score)`` (no further filter).

Greedy (``T = 0``): the next token is ``argmax(lp_e - beta * lp_a)``. By default over the tokens
step 1 keeps, as the paper's objective restricts the search to plausible tokens; with
``compat="official"`` over the whole vocabulary, as their code's greedy search does (it runs no
warper), which can pick a token the expert finds implausible whenever ``beta > 0``.

CoDIT's rule (``difference``) instead tempers and top-k/top-p filters the contrastive score itself.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from llmkit_contrastive.contrast import Contrast, plausible_mask

if TYPE_CHECKING:
    import torch


def _top_k(lp_expert: "torch.Tensor", top_k: int) -> "torch.Tensor":
    import torch

    if not 0 < top_k < lp_expert.shape[-1]:
        return torch.ones_like(lp_expert, dtype=torch.bool)
    kth = lp_expert.topk(top_k, dim=-1).values[..., -1:]
    return lp_expert >= kth


def _top_p(lp_expert: "torch.Tensor", keep: "torch.Tensor", top_p: float) -> "torch.Tensor":
    """The tokens of ``keep`` inside the top-p nucleus of the expert renormalised over ``keep``."""
    import torch

    if top_p >= 1.0:
        return keep
    masked = lp_expert.masked_fill(~keep, -math.inf)
    sorted_scores, order = masked.sort(dim=-1, descending=True)
    probs = torch.softmax(sorted_scores, dim=-1)
    drop_sorted = (probs.cumsum(dim=-1) - probs) >= top_p  # the mass before it already reaches top_p
    return keep & ~torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)


def expert_filter(lp_expert: "torch.Tensor", alpha: float, top_k: int, top_p: float) -> "torch.Tensor":
    """True where step 1 keeps a token: top-k, plausibility cut, top-p over the plausible set."""
    keep = _top_k(lp_expert, top_k) & plausible_mask(lp_expert, alpha)
    return _top_p(lp_expert, keep, top_p)


def li_scores(expert: "torch.Tensor", amateur: "torch.Tensor", contrast: Contrast, *, temperature: float,
              top_k: int = 0, top_p: float = 1.0) -> "torch.Tensor":
    """Step 1-3 above: the scores the next token is drawn from with ``softmax`` (temperature 0: argmax)."""
    import torch

    lp_expert = torch.log_softmax(expert.float(), dim=-1)
    lp_amateur = torch.log_softmax(amateur.float() / contrast.amateur_temperature, dim=-1)
    tempered = lp_expert / temperature if temperature > 0 else lp_expert
    scores = tempered - contrast.beta * lp_amateur
    if temperature <= 0 and contrast.compat == "official":
        return scores  # their greedy search: no warper, so no cut either
    return scores.masked_fill(~expert_filter(lp_expert, contrast.alpha, top_k, top_p), -math.inf)


def li_next(expert: "torch.Tensor", amateur: "torch.Tensor", contrast: Contrast, *, temperature: float,
            top_k: int = 0, top_p: float = 1.0, generator: "torch.Generator | None" = None) -> "torch.Tensor":
    """One token id per row by Li et al.'s rule."""
    import torch

    scores = li_scores(expert, amateur, contrast, temperature=temperature, top_k=top_k, top_p=top_p)
    if temperature <= 0:
        return scores.argmax(dim=-1)
    return torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator).squeeze(-1)
