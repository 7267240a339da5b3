"""Li et al.'s contrastive decoding rule in full (``--formula li``; Li et al., 2023, "Contrastive
Decoding: Open-ended Text Generation as Optimization", and their ContrastiveDecoding code).

Per step, on ``[batch, vocab]`` logits of the expert ``z_e`` and the amateur ``z_a``:

1. the expert alone is filtered: top-k, then top-p, on its untempered distribution, and the
   adaptive plausibility cut keeps tokens with ``p_e >= alpha * max p_e``;
2. the amateur has its own temperature: ``lp_a = log_softmax(z_a / amateur_temperature)``
   (``student_temperature``, 0.5 in their experiments);
3. the expert is divided by its temperature after the cut: ``score = lp_e / T - beta * lp_a`` on
   the tokens kept, ``-inf`` elsewhere;
4. the next token is drawn from ``softmax(score)`` (no further filter), or at ``T = 0`` taken as
   ``argmax(lp_e - beta * lp_a)`` over the tokens kept.

CoDIT's rule (``difference``) instead tempers and top-k/top-p filters the contrastive score itself.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from llmkit_contrastive.formulas import Contrast, plausible_mask

if TYPE_CHECKING:
    import torch


def expert_filter(lp_expert: "torch.Tensor", top_k: int, top_p: float) -> "torch.Tensor":
    """True where the expert's top-k, then top-p (on the renormalised top-k), keep a token; the
    same filters, in the same order, as :func:`llmkit_contrastive.formulas.sample_next`."""
    import torch

    keep = torch.ones_like(lp_expert, dtype=torch.bool)
    if 0 < top_k < lp_expert.shape[-1]:
        kth = lp_expert.topk(top_k, dim=-1).values[..., -1:]
        keep &= lp_expert >= kth
    if top_p < 1.0:
        masked = lp_expert.masked_fill(~keep, -math.inf)
        sorted_scores, order = masked.sort(dim=-1, descending=True)
        probs = torch.softmax(sorted_scores, dim=-1)
        drop_sorted = (probs.cumsum(dim=-1) - probs) >= top_p  # the mass before it already reaches top_p
        keep &= ~torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return keep


def li_scores(expert: "torch.Tensor", amateur: "torch.Tensor", contrast: Contrast, *, temperature: float,
              top_k: int = 0, top_p: float = 1.0) -> "torch.Tensor":
    """Step 1-3 above: the scores the next token is drawn from with ``softmax`` (temperature 0: argmax)."""
    import torch

    lp_expert = torch.log_softmax(expert.float(), dim=-1)
    lp_amateur = torch.log_softmax(amateur.float() / contrast.amateur_temperature, dim=-1)
    keep = plausible_mask(lp_expert, contrast.alpha) & expert_filter(lp_expert, top_k, top_p)
    tempered = lp_expert / temperature if temperature > 0 else lp_expert
    return (tempered - contrast.beta * lp_amateur).masked_fill(~keep, -math.inf)


def li_next(expert: "torch.Tensor", amateur: "torch.Tensor", contrast: Contrast, *, temperature: float,
            top_k: int = 0, top_p: float = 1.0, generator: "torch.Generator | None" = None) -> "torch.Tensor":
    """One token id per row by Li et al.'s rule."""
    import torch

    scores = li_scores(expert, amateur, contrast, temperature=temperature, top_k=top_k, top_p=top_p)
    if temperature <= 0:
        return scores.argmax(dim=-1)
    return torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator).squeeze(-1)
