"""``neuron-attr layers``: where a set's neurons sit, over normalised depth, per task and model.

Per layer: the count, the fraction of the set (count / set size, so sets of different size
compare) and the share of the layer's neurons (count / MLP width); depth = layer / layers, so
models of different depth share one axis. With ``--bins N`` the fractions are also summed into N
equal bins of depth, which is how a 24-layer and a 32-layer model are compared point by point.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import llmkit
from llmkit import LateReject, Outcome, Record, SideOutput, Step, UsageError
from llmkit_neuron_attr.neurons import NeuronSet, NeuronSets


class LayersStep(Step):
    name = "neuron-attr-layers"
    aggregate = True
    batch_size = 4096

    def __init__(self, bins: int | None = None, top_k: int | None = None, plot: SideOutput | None = None) -> None:
        if bins is not None and bins < 1:
            raise UsageError("--bins must be at least 1")
        self.bins = bins
        self.top_k = top_k
        self.plot = plot
        # sets are keyed by (model, task): one task scored on several models is several sets
        self.collected: dict[str | None, NeuronSets] = {}

    def process(self, records: list[Record]) -> list[Outcome]:
        for record in records:
            source = llmkit.source_of(record)
            model = record.get("model")
            if not isinstance(record.get("layers"), int):
                raise llmkit.InputError("a neuron record needs 'layers' (the model's layer count) for its depth", source, "layers")
            self.collected.setdefault(model if isinstance(model, str) else None, NeuronSets()).add(record, source)
        return [None] * len(records)

    def finish(self) -> Iterable[Record | LateReject]:
        rows: list[Record] = []
        for model, sets in sorted(self.collected.items(), key=lambda item: str(item[0])):
            for task, neuron_set in sorted(sets.sets.items()):
                rows.extend(layer_rows(model, task, neuron_set, self.top_k))
                if self.bins is not None:
                    rows.extend(bin_rows(model, task, neuron_set, self.bins, self.top_k))
        yield from rows
        if self.plot is not None:
            from llmkit_neuron_attr.plots import depth_lines

            depth_lines([r for r in rows if r["kind"] == "layer"], self.plot)


def layer_rows(model: str | None, task: str, neuron_set: NeuronSet, top_k: int | None) -> list[Record]:
    neurons = neuron_set.top(top_k)
    layers: int = neuron_set.layers  # type: ignore[assignment]
    counts = [0] * layers
    for layer, _ in neurons:
        if layer >= layers:
            raise UsageError(f"task {task!r}: neuron in layer {layer}, but the model has {layers} layers")
        counts[layer] += 1
    width = neuron_set.width
    return [
        {
            "kind": "layer",
            "model": model,
            "task": task,
            "layers": layers,
            "width": width,
            "layer": layer,
            "depth": layer / layers,
            "count": count,
            "fraction": count / len(neurons) if neurons else 0.0,
            "layer_share": count / width if width else None,
        }
        for layer, count in enumerate(counts)
    ]


def bin_rows(model: str | None, task: str, neuron_set: NeuronSet, bins: int, top_k: int | None) -> list[Record]:
    """Fractions of the set in ``bins`` equal bins of depth layer / layers (in [0, 1))."""
    neurons = neuron_set.top(top_k)
    layers: int = neuron_set.layers  # type: ignore[assignment]
    counts = [0] * bins
    for layer, _ in neurons:
        counts[min(bins - 1, layer * bins // layers)] += 1
    base: dict[str, Any] = {"kind": "bin", "model": model, "task": task, "layers": layers, "width": neuron_set.width}
    return [
        {**base, "bin": b, "depth_start": b / bins, "depth_end": (b + 1) / bins, "count": c, "fraction": c / len(neurons) if neurons else 0.0}
        for b, c in enumerate(counts)
    ]
