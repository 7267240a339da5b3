"""The likelihood baselines, from teacher-forced token log-probs. Higher = more likely a member.

- loss:   mean token log-prob (the negative mean NLL).
- zlib:   mean token log-prob / zlib bytes of the text (Carlini et al. 2021; the Min-K%-Prob code's
          log-perplexity / zlib ratio, negated so that higher means member).
- mink:   mean of the lowest k% token log-probs (Shi et al. 2024), over max(1, int(k x T)) tokens.
- minkpp: Min-K%++ (Zhang et al. 2024): each token's log-prob standardised by the mean and
          standard deviation of log p under the next-token distribution at its position, then the
          mean of the lowest k% of those, over max(1, int(k x T)) tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from llmkit_mia.samia import zlib_size


def lowest_k_mean(values: Sequence[float], k: float) -> float:
    """Mean of the max(1, int(k x len)) smallest values: llmkit's count, so that a short text still
    gets a score (the official codes take int(k x len) and get NaN; see llmkit_mia.official)."""
    if not values:
        raise ValueError("no values")
    count = max(1, int(k * len(values)))
    return sum(sorted(values)[:count]) / count


def loss_score(logprobs: Sequence[float]) -> float:
    return sum(logprobs) / len(logprobs)


def zlib_score(logprobs: Sequence[float], text: str) -> float:
    return loss_score(logprobs) / zlib_size(text)


def mink_score(logprobs: Sequence[float], k: float) -> float:
    return lowest_k_mean(logprobs, k)


def minkpp_values(logprobs: Sequence[float], means: Sequence[float], stds: Sequence[float]) -> list[float]:
    """(log p(x_t) - mu_t) / sigma_t per token; a zero sigma (one-hot distribution) is floored
    at 1e-12 so the value stays finite."""
    return [(lp - mu) / max(sd, 1e-12) for lp, mu, sd in zip(logprobs, means, stds, strict=True)]


def minkpp_score(logprobs: Sequence[float], means: Sequence[float], stds: Sequence[float], k: float) -> float:
    return lowest_k_mean(minkpp_values(logprobs, means, stds), k)


def finite(value: float) -> float | None:
    """JSON has no NaN or infinity: such a score is written as null."""
    return value if math.isfinite(value) else None
