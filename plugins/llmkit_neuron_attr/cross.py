"""``neuron-attr cross-ablate``: accuracy on every task when each task's neurons are suppressed,
beside the same number of random neurons: the matrix the study is built on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llmkit import BackendOptions, LateReject, Record, UsageError
from llmkit_neuron_attr.conditions import Controls, ItemsStep, checked_sets, chosen_neurons, summary
from llmkit_neuron_attr.lm import StudiedModel
from llmkit_neuron_attr.neurons import Neuron, read_neuron_sets
from llmkit_neuron_attr.overlap import shared_neurons
from llmkit_neuron_attr.suppress import Accuracy


@dataclass(frozen=True)
class CrossConfig:
    neurons: tuple[str, ...]
    top_k: int | None = None
    controls: Controls = Controls()
    exclude_shared: bool = False
    min_tasks: int | None = None
    exclude: tuple[str, ...] = ()
    plot: str | None = None


class CrossAblateStep(ItemsStep):
    name = "neuron-attr-cross-ablate"

    def __init__(self, options: BackendOptions, config: CrossConfig, task: str | None = None, model: StudiedModel | None = None) -> None:
        super().__init__(options, task, model)
        self.config = config
        self.sets = read_neuron_sets(config.neurons)
        if not self.sets:
            raise UsageError("--neurons holds no neuron records")
        self.excluded: set[Neuron] = set()
        for neuron_set in read_neuron_sets(config.exclude).values():
            self.excluded.update(neuron_set.neurons)
        if config.exclude_shared:
            tops = {task: set(s.top(config.top_k)) for task, s in self.sets.items()}
            self.excluded |= shared_neurons(tops, config.min_tasks or len(tops))

    def open(self) -> None:
        super().open()
        assert self.sm is not None
        checked_sets(self.sets, self.sm)

    def finish(self) -> Iterable[Record | LateReject]:
        sm = self.sm
        assert sm is not None
        if not self.items:
            return
        shape = sm.shape_fields()
        none = self.by_task(None)
        for task, acc in none.items():
            yield {"neurons_task": None, "task": task, **shape, "condition": "none", "k": 0, "seed": None, **acc.fields()}
        matrix: list[Record] = []
        for neurons_task, neuron_set in sorted(self.sets.items()):
            # with --top-k, the best k once exclusions are removed; a set smaller than k is used whole
            ranked = chosen_neurons(neuron_set, None, self.excluded)
            chosen = ranked if self.config.top_k is None else ranked[: self.config.top_k]
            head = {"neurons_task": neurons_task, **shape, "k": len(chosen), "excluded": len(self.excluded)}
            top = self.by_task(chosen)
            for task, acc in top.items():
                yield {**head, "task": task, "condition": "top", "seed": None, **acc.fields()}
            randoms: dict[str, list[Accuracy]] = {task: [] for task in none}
            for seed, drawn in self.config.controls.draws(sm, chosen, self.excluded):
                for task, acc in self.by_task(drawn).items():
                    randoms[task].append(acc)
                    yield {**head, "task": task, "condition": "random", "seed": seed, **acc.fields()}
            for task in none:
                matrix.append({**head, "task": task, "condition": "summary", **summary(none[task], top[task], randoms[task])})
        yield from matrix
        if self.config.plot is not None:
            from llmkit_neuron_attr.plots import cross_heatmap

            cross_heatmap(matrix, self.config.plot)
