"""``neuron-attr ablate``: accuracy with no ablation, with a task's top K neurons suppressed, and
with K random neurons per seed; several K in one model load; optionally the ablated checkpoint."""

from __future__ import annotations

from collections.abc import Iterable

from llmkit import BackendOptions, LateReject, Record, SideOutput, UsageError
from llmkit_neuron_attr.conditions import ItemsStep, check_draws, checked_sets, chosen_neurons, random_draws, summary
from llmkit_neuron_attr.lm import StudiedModel
from llmkit_neuron_attr.neurons import Neuron, NeuronSet, read_neuron_sets
from llmkit_neuron_attr.options import AblateConfig, Controls
from llmkit_neuron_attr.suppress import zero_weights


class AblateStep(ItemsStep):
    name = "neuron-attr-ablate"

    def __init__(self, options: BackendOptions, config: AblateConfig, controls: Controls | None = None,
                 model: StudiedModel | None = None, export_to: SideOutput | None = None) -> None:
        super().__init__(options, config.task, model)
        self.config = config
        self.controls = controls or config.controls(0)
        #: ``--export``, claimed by the command (llmkit.SideOutputs)
        self.export_to = export_to
        self.sets = read_neuron_sets([config.neurons])
        if not self.sets:
            raise UsageError(f"--neurons {config.neurons} holds no neuron records")
        if config.neuron_task is not None and config.neuron_task not in self.sets:
            raise UsageError(f"--neuron-task {config.neuron_task!r} is not in {config.neurons} (tasks: {', '.join(sorted(self.sets))})")
        self.excluded: set[Neuron] = set()
        for neuron_set in read_neuron_sets(config.exclude or ()).values():
            self.excluded.update(neuron_set.neurons)
        if config.neuron_task is not None or len(self.sets) == 1:
            check_draws(self.neuron_set(), config.ks, self.excluded, self.controls)  # before the model loads

    def open(self) -> None:
        super().open()
        assert self.sm is not None
        checked_sets(self.sets, self.sm)
        if self.config.neuron_task is not None or len(self.sets) == 1:
            check_draws(self.neuron_set(), self.config.ks, self.excluded, self.controls, (self.sm.layers, self.sm.width))

    def neuron_set(self) -> NeuronSet:
        """The set to suppress: --neuron-task, else the file's only set, else the set of the input's
        only task."""
        if self.config.neuron_task is not None:
            return self.sets[self.config.neuron_task]
        if len(self.sets) == 1:
            return next(iter(self.sets.values()))
        tasks = self.tasks()
        if len(tasks) == 1 and tasks[0] in self.sets:
            return self.sets[tasks[0]]
        raise UsageError(f"{self.config.neurons} holds the neurons of several tasks ({', '.join(sorted(self.sets))}): choose one with --neuron-task")

    def finish(self) -> Iterable[Record | LateReject]:
        sm = self.sm
        assert sm is not None
        if not self.items:
            return
        neuron_set = self.neuron_set()
        check_draws(neuron_set, self.config.ks, self.excluded, self.controls, (sm.layers, sm.width))  # before evaluating
        shape = sm.shape_fields()
        head = {"neurons_task": neuron_set.task, "excluded": len(self.excluded), "match_layers": self.controls.match_layers}
        none = self.by_task(None)
        for task, acc in none.items():
            yield {"task": task, **shape, **head, "condition": "none", "k": 0, "seed": None, **acc.fields()}
        for k in self.config.ks:
            chosen = chosen_neurons(neuron_set, k, self.excluded)
            top = self.by_task(chosen)
            for task, acc in top.items():
                yield {"task": task, **shape, **head, "condition": "top", "k": len(chosen), "seed": None, **acc.fields()}
            randoms: dict[str, list] = {task: [] for task in none}
            for seed, drawn in random_draws(self.controls, sm, chosen, self.excluded):
                for task, acc in self.by_task(drawn).items():
                    randoms[task].append(acc)
                    yield {"task": task, **shape, **head, "condition": "random", "k": len(chosen), "seed": seed, **acc.fields()}
            for task in none:
                figures = summary(none[task], top[task], randoms[task])
                yield {"task": task, **shape, **head, "condition": "summary", "k": len(chosen), **figures}
            if self.export_to is not None:
                self.export(chosen, self.export_to)

    def export(self, chosen: list[Neuron], out: SideOutput) -> None:
        """Zero the chosen neurons' weights for good and write the checkpoint whole (last: the
        model in memory is ablated from here on)."""
        from llmkit.backends import save_checkpoint

        sm = self.sm
        assert sm is not None
        zero_weights(sm, chosen)
        with out.replacing() as folder:
            save_checkpoint(sm.model, sm.name, folder)
