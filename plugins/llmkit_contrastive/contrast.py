"""What every contrastive rule shares: the run's settings and the adaptive plausibility constraint.

Both :mod:`llmkit_contrastive.formulas` and :mod:`llmkit_contrastive.li` build on these, so they
live below both (neither rule imports the other's module for them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

FORMULAS = ("difference", "obrien", "li")
COMPAT = ("llmkit", "official")


@dataclass(frozen=True, slots=True)
class Contrast:
    """The contrastive settings of one run (CoDIT's defaults)."""

    beta: float = 1.0
    alpha: float = 0.01
    formula: str = "difference"
    amateur_temperature: float = 1.0
    #: ``li`` on the vLLM pair only: the sampling settings its scores are made with (the engine's
    #: own sampler then draws from them untouched); the hf path reads them from each call
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    #: ``li``: "official" follows Li et al.'s code where llmkit's rule differs (greedy: no
    #: plausibility cut; see :mod:`llmkit_contrastive.li`)
    compat: str = "llmkit"


def plausible_mask(expert: "torch.Tensor", alpha: float) -> "torch.Tensor":
    """True where ``expert[t] >= log(alpha) + max(expert)`` along the last dim.

    ``expert`` is either log-probs or raw logits: the kept set is the same for both.
    """
    import torch

    threshold = math.log(alpha) if alpha > 0 else -math.inf
    top = expert.max(dim=-1, keepdim=True).values
    return expert >= top + torch.tensor(threshold, dtype=expert.dtype, device=expert.device)
