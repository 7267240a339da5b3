"""``neuron-attr cross-ablate``: accuracy on every task when each task's neurons are suppressed,
beside the same number of random neurons: the matrix the study is built on."""

from __future__ import annotations

from collections.abc import Iterable

from llmkit import BackendOptions, LateReject, Record, SideOutput, UsageError
from llmkit_neuron_attr.conditions import ItemsStep, check_draws, checked_sets, chosen_neurons, random_draws, summary
from llmkit_neuron_attr.lm import StudiedModel
from llmkit_neuron_attr.neurons import Neuron, read_neuron_sets
from llmkit_neuron_attr.options import Controls, CrossConfig
from llmkit_neuron_attr.overlap import shared_neurons
from llmkit_neuron_attr.suppress import Accuracy


class CrossAblateStep(ItemsStep):
    name = "neuron-attr-cross-ablate"

    def __init__(self, options: BackendOptions, config: CrossConfig, controls: Controls | None = None,
                 model: StudiedModel | None = None, plot_to: SideOutput | None = None) -> None:
        super().__init__(options, config.task, model)
        self.config = config
        self.controls = controls or config.controls(0)
        #: ``--plot``, claimed by the command (llmkit.SideOutputs)
        self.plot_to = plot_to
        self.sets = read_neuron_sets(config.neurons)
        if not self.sets:
            raise UsageError("--neurons holds no neuron records")
        self.excluded: set[Neuron] = set()
        for neuron_set in read_neuron_sets(config.exclude or ()).values():
            self.excluded.update(neuron_set.neurons)
        if config.exclude_shared:
            tops = {task: set(s.top(config.top_k)) for task, s in self.sets.items()}
            self.excluded |= shared_neurons(tops, config.min_tasks or len(tops))

    def open(self) -> None:
        super().open()
        assert self.sm is not None
        checked_sets(self.sets, self.sm)
        for neuron_set in self.sets.values():  # before any evaluation
            k = None if self.config.top_k is None else min(self.config.top_k, len(chosen_neurons(neuron_set, None, self.excluded)))
            check_draws(neuron_set, [k], self.excluded, self.controls, (self.sm.layers, self.sm.width))

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
            for seed, drawn in random_draws(self.controls, sm, chosen, self.excluded):
                for task, acc in self.by_task(drawn).items():
                    randoms[task].append(acc)
                    yield {**head, "task": task, "condition": "random", "seed": seed, **acc.fields()}
            for task in none:
                matrix.append({**head, "task": task, "condition": "summary", **summary(none[task], top[task], randoms[task])})
        yield from matrix
        if self.plot_to is not None:
            from llmkit_neuron_attr.plots import cross_heatmap

            cross_heatmap(matrix, self.plot_to)
