"""``neuron-attr overlap``: how much the neuron sets of several tasks share.

Jaccard |A ∩ B| / |A ∪ B| and the overlap coefficient |A ∩ B| / min(|A|, |B|) for every pair of
tasks; the neurons in the sets of all tasks (or of at least ``--min-tasks``); each task's set with
those removed. The shared and task-specific sets are written as neuron records that ``ablate
--neurons`` and ``--exclude`` read.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import llmkit
from llmkit import LateReject, Outcome, Record, SideOutput, Step, UsageError
from llmkit_neuron_attr.neurons import Neuron, NeuronSet, NeuronSets, neuron_records
from llmkit_neuron_attr.options import OverlapConfig

SHARED_TASK = "shared"


def jaccard(a: set[Neuron], b: set[Neuron]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def overlap_coefficient(a: set[Neuron], b: set[Neuron]) -> float:
    smaller = min(len(a), len(b))
    return len(a & b) / smaller if smaller else 0.0


def shared_neurons(sets: dict[str, set[Neuron]], min_tasks: int) -> set[Neuron]:
    """Neurons that are in the sets of at least ``min_tasks`` tasks."""
    counts: dict[Neuron, int] = {}
    for neurons in sets.values():
        for neuron in neurons:
            counts[neuron] = counts.get(neuron, 0) + 1
    return {neuron for neuron, count in counts.items() if count >= min_tasks}


def pair_records(sets: dict[str, set[Neuron]]) -> list[Record]:
    """Both matrices, one record per ordered pair of tasks (the diagonal included)."""
    tasks = sorted(sets)
    return [
        {
            "kind": "pair",
            "task_a": a,
            "task_b": b,
            "jaccard": jaccard(sets[a], sets[b]),
            "overlap_coefficient": overlap_coefficient(sets[a], sets[b]),
            "intersection": len(sets[a] & sets[b]),
            "size_a": len(sets[a]),
            "size_b": len(sets[b]),
        }
        for a in tasks
        for b in tasks
    ]


class OverlapStep(Step):
    name = "neuron-attr-overlap"
    aggregate = True
    batch_size = 4096

    def __init__(self, config: OverlapConfig, shared: SideOutput | None = None, specific: SideOutput | None = None) -> None:
        self.config = config
        #: ``--shared`` and ``--specific``, claimed by the command (llmkit.SideOutputs)
        self.shared_out = shared
        self.specific_out = specific
        self.collected = NeuronSets()

    def process(self, records: list[Record]) -> list[Outcome]:
        for record in records:
            self.collected.add(record, llmkit.source_of(record))
        return [None] * len(records)

    def finish(self) -> Iterable[Record | LateReject]:
        sets = self.collected.sets
        if not sets:
            return
        shape = common_shape(sets.values())
        top = {task: s.top(self.config.top_k) for task, s in sets.items()}
        as_sets = {task: set(neurons) for task, neurons in top.items()}
        min_tasks = self.config.min_tasks or len(sets)
        if min_tasks > len(sets):
            raise UsageError(f"--min-tasks {min_tasks} is more than the {len(sets)} tasks in the input")
        shared = shared_neurons(as_sets, min_tasks)
        yield from pair_records(as_sets)
        for task in sorted(top):
            specific = [n for n in top[task] if n not in shared]
            yield {"kind": "task", "task": task, "size": len(top[task]), "shared": len(top[task]) - len(specific), "specific": len(specific)}
        yield {"kind": "shared", "tasks": len(sets), "min_tasks": min_tasks, "count": len(shared)}
        if self.shared_out is not None:
            ordered = sorted(shared, key=lambda n: _mean_rank(n, top))
            rows = neuron_records(SHARED_TASK, ordered, shape)
            for row, neuron in zip(rows, ordered, strict=True):
                row["tasks"] = sorted(task for task, neurons in as_sets.items() if neuron in neurons)
            self.shared_out.write_records(rows)
        if self.specific_out is not None:
            rows = [r for task in sorted(top) for r in neuron_records(task, [n for n in top[task] if n not in shared], shape)]
            self.specific_out.write_records(rows)


def _mean_rank(neuron: Neuron, top: dict[str, list[Neuron]]) -> tuple[int, float]:
    """Shared neurons in order: in more tasks first, then by their mean rank where they appear."""
    ranks = [neurons.index(neuron) for neurons in top.values() if neuron in neurons]
    return (-len(ranks), statistics.fmean(ranks))


def common_shape(given: Iterable[NeuronSet]) -> dict[str, Any]:
    """The model fields the sets share; UsageError when they come from models of other shapes."""
    sets = list(given)
    shapes = {(s.layers, s.width) for s in sets}
    if len(shapes) > 1:
        raise UsageError(f"the neuron sets come from models of different shapes (layers, width): {sorted(shapes, key=str)}")
    layers, width = shapes.pop()
    return {"model": next((s.model for s in sets if s.model), None), "layers": layers, "width": width}
