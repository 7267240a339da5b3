"""What ``ablate`` and ``cross-ablate`` share: the items collected by task, accuracy per task under
a condition, the neuron sets chosen for suppression and their random controls, the summary line."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any

from llmkit import BackendOptions, Outcome, Record, Step, UsageError
from llmkit_neuron_attr.lm import StudiedModel, check_backend, open_model
from llmkit_neuron_attr.neurons import Neuron, NeuronSet, check_shape
from llmkit_neuron_attr.options import Controls
from llmkit_neuron_attr.records import RecordRules, TaskItem, parse_item
from llmkit_neuron_attr.suppress import Accuracy, item_correct, random_neurons, suppressed


def random_draws(controls: Controls, sm: StudiedModel, chosen: list[Neuron], avoid: set[Neuron]) -> list[tuple[int, list[Neuron]]]:
    """The random control's draws, one per seed: as many neurons as ``chosen`` (per layer with
    ``match_layers``), none of them chosen or avoided."""
    per_layer: dict[int, int] | None = None
    if controls.match_layers:
        per_layer = {}
        for layer, _ in chosen:
            per_layer[layer] = per_layer.get(layer, 0) + 1
    blocked = avoid | set(chosen)
    return [
        (seed, random_neurons(sm.layers, sm.width, len(chosen), seed, blocked, per_layer))
        for seed in range(controls.first_seed, controls.first_seed + controls.seeds)
    ]


class ItemsStep(Step):
    """An aggregate that collects the input's task items (token ids only) and evaluates them under
    several conditions in ``finish`` with one model load."""

    aggregate = True
    batch_size = 16

    def __init__(self, options: BackendOptions, task: str | None, model: StudiedModel | None = None) -> None:
        if model is None:
            check_backend(options)
        self.options = options
        self.sm = model
        self.rules = RecordRules(default_task=task, chat=bool(options.chat))
        self.items: list[TaskItem] = []
        self.eval_batch = self.batch_size

    def open(self) -> None:
        if self.sm is None:
            self.sm = open_model(self.options)
        self.rules = RecordRules(self.rules.default_task, self.rules.chat, self.sm.max_len)

    def process(self, records: list[Record]) -> list[Outcome]:
        assert self.sm is not None
        outcomes: list[Outcome] = []
        for record in records:
            item = parse_item(record, self.sm.tokenizer, self.rules)
            if isinstance(item, TaskItem):
                self.items.append(item)
                outcomes.append(None)
            else:
                outcomes.append(item)
        return outcomes

    def tasks(self) -> list[str]:
        return sorted({item.task for item in self.items})

    def by_task(self, neurons: list[Neuron] | None) -> dict[str, Accuracy]:
        """Accuracy per task of the collected items with ``neurons`` suppressed (one pass over all
        items, so batches mix tasks)."""
        assert self.sm is not None
        with suppressed(self.sm, neurons or []):
            hits = item_correct(self.sm, self.items, self.eval_batch)
        counts: dict[str, list[int]] = {task: [0, 0] for task in self.tasks()}
        for item, hit in zip(self.items, hits, strict=True):
            counts[item.task][0] += hit
            counts[item.task][1] += 1
        return {task: Accuracy(correct, n) for task, (correct, n) in counts.items()}


def chosen_neurons(neuron_set: NeuronSet, k: int | None, excluded: set[Neuron]) -> list[Neuron]:
    """The set's best ``k`` neurons once the excluded ones are removed (all of them without k)."""
    ranked = [n for n in neuron_set.ordered() if n not in excluded]
    if k is not None and k > len(ranked):
        raise UsageError(
            f"task {neuron_set.task!r} has {len(ranked)} neurons (after exclusions); K={k} (--top-k or --k-grid) asks for more"
        )
    return ranked if k is None else ranked[:k]


def check_draws(neuron_set: NeuronSet, ks: Iterable[int | None], excluded: set[Neuron], controls: Controls,
                shape: tuple[int, int] | None = None) -> None:
    """UsageError (exit 2) when a K cannot be run: more neurons than the set has once the excluded
    ones are removed, or, given the model's ``shape`` (layers, width), more than it has left to draw
    the random control from. Checked before any evaluation, so no run stops after hours of it."""
    for k in ks:
        chosen = chosen_neurons(neuron_set, k, excluded)
        if shape is None or controls.seeds == 0:
            continue
        layers, width = shape
        blocked = excluded | set(chosen)
        quotas = {-1: len(chosen)}
        if controls.match_layers:
            quotas = {}
            for layer, _ in chosen:
                quotas[layer] = quotas.get(layer, 0) + 1
        for layer, count in quotas.items():
            room = layers * width - len(blocked) if layer < 0 else width - sum(1 for lay, _ in blocked if lay == layer)
            if count > room:
                where = f"the model ({layers} x {width} neurons)" if layer < 0 else f"layer {layer} ({width} neurons)"
                raise UsageError(
                    f"task {neuron_set.task!r}, K={len(chosen)}: the random control cannot draw {count} neurons from "
                    f"{where}: only {room} are neither suppressed nor excluded; use a smaller --top-k"
                )


def checked_sets(sets: dict[str, NeuronSet], sm: StudiedModel) -> None:
    for neuron_set in sets.values():
        check_shape(neuron_set, sm.layers, sm.width, f"model {sm.name!r}")


def summary(none: Accuracy, top: Accuracy, randoms: list[Accuracy]) -> dict[str, Any]:
    """The closing figures of one (task, k): accuracies, the random mean and sample standard
    deviation (n - 1; 0 for a single seed), and the relative drops from the unablated accuracy."""
    values = [r.value for r in randoms]
    mean = statistics.fmean(values) if values else None
    std = statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)
    return {
        "none": none.value,
        "top": top.value,
        "random_mean": mean,
        "random_std": std,
        "seeds": len(values),
        "top_drop": relative_drop(none.value, top.value),
        "random_drop": relative_drop(none.value, mean) if mean is not None else None,
    }


def relative_drop(base: float, value: float) -> float | None:
    """(base - value) / base; None when the base accuracy is 0 (no drop can be measured)."""
    if base == 0 or math.isnan(base):
        return None
    return (base - value) / base
