"""How retrieval is organised across heads: the figures of the closing summary record.

The RetMask abstract reports that the gain of training against masked retrieval heads follows
the sparsity of the retrieval-score distribution; these figures put numbers on that sparsity:
heads over the threshold, the share of the total score held by the top 5% of heads, the Gini
coefficient of the head scores, and the entropy of the score's distribution over layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

TOP_SHARE = 0.05
TOP_LISTED = 10


def gini(values: Sequence[float]) -> float | None:
    """Gini coefficient of non-negative values: 0 = all equal, (n-1)/n = all mass in one; None when all are 0."""
    ordered = sorted(values)
    total = sum(ordered)
    n = len(ordered)
    if n == 0 or total <= 0:
        return None
    weighted = sum((rank + 1) * value for rank, value in enumerate(ordered))
    return 2 * weighted / (n * total) - (n + 1) / n


def top_share(values: Sequence[float], share: float = TOP_SHARE) -> float | None:
    """Share of the total held by the top ``share`` of the values (at least one value)."""
    total = sum(values)
    if not values or total <= 0:
        return None
    count = max(1, math.ceil(share * len(values)))
    return sum(sorted(values, reverse=True)[:count]) / total


def layer_entropy(layer_totals: Sequence[float]) -> tuple[float | None, float | None]:
    """Entropy in bits of the score's distribution over layers, and that over log2(layers) (0..1)."""
    total = sum(layer_totals)
    if total <= 0:
        return None, None
    probabilities = [value / total for value in layer_totals if value > 0]
    bits = -sum(p * math.log2(p) for p in probabilities) + 0.0
    return bits, (bits / math.log2(len(layer_totals)) if len(layer_totals) > 1 else 0.0)


def summarise(model: str, heads: list[dict[str, Any]], threshold: float, **extra: Any) -> dict[str, Any]:
    """The summary record of one model's head records (``layer``, ``head``, ``score``)."""
    scores = [float(h["score"]) for h in heads]
    layers = max((h["layer"] for h in heads), default=-1) + 1
    per_layer = [0.0] * layers
    for h in heads:
        per_layer[h["layer"]] += float(h["score"])
    bits, normalised = layer_entropy(per_layer)
    over = sum(score >= threshold for score in scores)
    top = sorted(heads, key=lambda h: -float(h["score"]))[:TOP_LISTED]
    return {
        "type": "summary",
        "model": model,
        "layers": layers,
        "heads": len(heads),
        "threshold": threshold,
        "retrieval_heads": over,
        "retrieval_share": over / len(heads) if heads else None,
        "top5pct_share": top_share(scores),
        "gini": gini(scores),
        "layer_entropy_bits": bits,
        "layer_entropy_norm": normalised,
        "top_heads": [[h["layer"], h["head"], round(float(h["score"]), 4)] for h in top],
        **extra,
    }
