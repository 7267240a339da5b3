"""Suppressing neurons (activation set to zero at every position) and measuring accuracy.

Accuracy of a multiple-choice item: the choice with the highest summed log-probability is the
correct one (ties go to the first). Of a completion item: greedy decoding reproduces the target
token for token, computed teacher-forced in one pass (the greedy token equals the target's at
every target position, which is the same event).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from llmkit_neuron_attr.lm import StudiedModel, continuation_scores, pack, pad_id
from llmkit_neuron_attr.neurons import Neuron, by_layer
from llmkit_neuron_attr.records import TaskItem


@contextmanager
def suppressed(sm: StudiedModel, neurons: list[Neuron]) -> Iterator[None]:
    """Zero the given neurons on every forward pass inside the block (the core's input mask)."""
    from llmkit.backends import mask_input_features

    handles = [mask_input_features(sm.projections[layer], indices) for layer, indices in by_layer(neurons).items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def zero_weights(sm: StudiedModel, neurons: list[Neuron]) -> None:
    """Suppress for good: zero the down-projection weights that read the neurons."""
    from llmkit.backends import zero_input_features

    for layer, indices in by_layer(neurons).items():
        zero_input_features(sm.projections[layer], indices)


def item_correct(sm: StudiedModel, items: list[TaskItem], batch_size: int) -> list[bool]:
    """Whether each item is answered correctly by the model as it runs now."""
    import torch

    rows = [(i, c) for i, item in enumerate(items) for c in range(len(item.continuations))]
    scores = torch.empty(len(rows))
    greedy = torch.zeros(len(rows), dtype=torch.bool)
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            packed = pack([(items[i].prompt_ids, items[i].continuations[c]) for i, c in chunk], pad_id(sm.tokenizer), sm.device)
            logits = sm.model(input_ids=packed.input_ids, attention_mask=packed.attention_mask, use_cache=False).logits
            summed, exact = continuation_scores(logits, packed)
            scores[start : start + len(chunk)] = summed.cpu()
            greedy[start : start + len(chunk)] = exact.cpu()
    correct, row = [], 0
    for item in items:
        n = len(item.continuations)
        if item.multiple_choice:
            correct.append(int(torch.argmax(scores[row : row + n])) == item.answer)
        else:
            correct.append(bool(greedy[row]))
        row += n
    return correct


@dataclass(frozen=True)
class Accuracy:
    correct: int
    n: int

    @property
    def value(self) -> float:
        return self.correct / self.n if self.n else float("nan")

    def fields(self) -> dict[str, Any]:
        return {"accuracy": self.value, "correct": self.correct, "n": self.n}


def accuracy(sm: StudiedModel, items: list[TaskItem], batch_size: int, neurons: list[Neuron] | None = None) -> Accuracy:
    """Accuracy on ``items`` with ``neurons`` suppressed (none: the model as it is)."""
    with suppressed(sm, neurons or []):
        hits = item_correct(sm, items, batch_size)
    return Accuracy(sum(hits), len(hits))


def random_neurons(
    layers: int, width: int, k: int, seed: int, avoid: set[Neuron], per_layer: dict[int, int] | None = None
) -> list[Neuron]:
    """``k`` distinct neurons drawn uniformly from those not in ``avoid``; with ``per_layer``
    (layer -> count), that many from each layer instead (the layer-matched control)."""
    import numpy as np

    from llmkit import UsageError

    rng = np.random.default_rng(seed)
    quotas = per_layer if per_layer is not None else {-1: k}
    chosen: list[Neuron] = []
    for layer, count in sorted(quotas.items()):
        pool_layers = range(layers) if layer < 0 else [layer]
        # flat ids of the allowed neurons of the pool; drawn without replacement
        avoided = {lay * width + idx for lay, idx in avoid if lay in pool_layers}
        allowed = np.setdiff1d(
            np.arange(pool_layers[0] * width, (pool_layers[-1] + 1) * width), np.fromiter(avoided, dtype=np.int64, count=len(avoided))
        )
        if count > len(allowed):
            where = "the model" if layer < 0 else f"layer {layer}"
            raise UsageError(f"cannot draw {count} random neurons: {where} has only {len(allowed)} outside the excluded ones")
        picks = rng.choice(allowed, size=count, replace=False)
        chosen.extend((int(p) // width, int(p) % width) for p in picks)
    return chosen
