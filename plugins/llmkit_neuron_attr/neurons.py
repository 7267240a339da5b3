"""Neuron records ``{task, model, layer, index, score, rank, layers, width}``: written by
``score`` and ``overlap``, read by ``ablate``, ``cross-ablate``, ``overlap`` and ``layers``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from llmkit import InputError, Record, UsageError, read_jsonl

Neuron = tuple[int, int]  # (layer, index)


@dataclass
class NeuronSet:
    """One task's neurons, best first, with the shape of the model they were found in."""

    task: str
    model: str | None = None
    layers: int | None = None
    width: int | None = None
    neurons: list[Neuron] = field(default_factory=list)
    #: ranks as given (an integer beyond a double stays exact), or the file position without one
    ranks: list[int | float] = field(default_factory=list)

    def ordered(self) -> list[Neuron]:
        """Neurons by rank (ties and missing ranks keep file order)."""
        order = sorted(range(len(self.neurons)), key=lambda i: self.ranks[i])
        return [self.neurons[i] for i in order]

    def top(self, k: int | None) -> list[Neuron]:
        ordered = self.ordered()
        return ordered if k is None else ordered[:k]


def neuron_of(record: Record, source: str | None = None) -> tuple[str, Neuron]:
    """The record's task and (layer, index); InputError (exit 65) naming the line when it has none."""
    task = record.get("task")
    layer, index = record.get("layer"), record.get("index")
    if not isinstance(task, str) or not task:
        raise InputError("a neuron record needs a 'task' string", source, "task")
    for name, value in (("layer", layer), ("index", index)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(f"{name} must be a non-negative integer, got {value!r}", source, name)
    return task, (layer, index)  # type: ignore[return-value]


class NeuronSets:
    """Neuron sets by task, collected record by record (a file, or a step's input)."""

    def __init__(self) -> None:
        self.sets: dict[str, NeuronSet] = {}

    def add(self, record: Record, source: str | None = None) -> None:
        task, neuron = neuron_of(record, source)
        entry = self.sets.get(task)
        if entry is None:
            entry = self.sets[task] = NeuronSet(task)
        for name in ("model", "layers", "width"):
            value = record.get(name)
            if value is None:
                continue
            known = getattr(entry, name)
            if known is not None and known != value:
                raise InputError(f"task {task!r} mixes neurons of {name} {known!r} and {value!r}", source, name)
            setattr(entry, name, value)
        if neuron in entry.neurons:
            raise InputError(f"neuron {neuron} of task {task!r} is listed twice", source)
        rank = record.get("rank")
        entry.neurons.append(neuron)
        entry.ranks.append(rank if isinstance(rank, int | float) and not isinstance(rank, bool) else len(entry.ranks))


def read_neuron_sets(paths: Iterable[str]) -> dict[str, NeuronSet]:
    """The neuron sets in the given files, by task."""
    sets = NeuronSets()
    for path in paths:
        for record, where in read_jsonl(path):
            sets.add(record, where)
    return sets.sets


def neuron_records(task: str, neurons: list[Neuron], shape: dict[str, Any], **extra: Any) -> list[Record]:
    """Neuron records for a set, ranked in the given order."""
    return [
        {"task": task, **shape, "layer": layer, "index": index, "rank": rank, **extra}
        for rank, (layer, index) in enumerate(neurons, 1)
    ]


def check_shape(neuron_set: NeuronSet, layers: int, width: int, what: str = "the model") -> None:
    """UsageError when a set was found in a model of another shape, or names a neuron outside it."""
    if neuron_set.layers is not None and neuron_set.layers != layers or neuron_set.width is not None and neuron_set.width != width:
        raise UsageError(
            f"the neurons of task {neuron_set.task!r} come from a model with {neuron_set.layers} layers x "
            f"{neuron_set.width} neurons; {what} has {layers} x {width}"
        )
    for layer, index in neuron_set.neurons:
        if layer >= layers or index >= width:
            raise UsageError(f"neuron ({layer}, {index}) of task {neuron_set.task!r} is outside {what} ({layers} x {width})")


def by_layer(neurons: Iterable[Neuron]) -> dict[int, list[int]]:
    """Neurons grouped by layer."""
    grouped: dict[int, list[int]] = {}
    for layer, index in neurons:
        grouped.setdefault(layer, []).append(index)
    return grouped
