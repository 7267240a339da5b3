"""``neuron-attr ablate``: accuracy with no ablation, with a task's top K neurons suppressed, and
with K random neurons per seed; several K in one model load; optionally the ablated checkpoint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llmkit import BackendOptions, LateReject, Record, UsageError
from llmkit_neuron_attr.conditions import Controls, ItemsStep, checked_sets, chosen_neurons, summary
from llmkit_neuron_attr.lm import StudiedModel
from llmkit_neuron_attr.neurons import Neuron, NeuronSet, read_neuron_sets
from llmkit_neuron_attr.suppress import zero_weights


@dataclass(frozen=True)
class AblateConfig:
    neurons: str
    neuron_task: str | None = None
    top_k: tuple[int | None, ...] = (None,)
    controls: Controls = Controls()
    exclude: tuple[str, ...] = ()
    export: str | None = None

    def __post_init__(self) -> None:
        if any(k is not None and k < 1 for k in self.top_k):
            raise UsageError("--top-k and --k-grid values must be at least 1")
        if self.export is not None and len(self.top_k) > 1:
            raise UsageError("--export writes one ablated model: give one --top-k, not --k-grid")


def parse_k_grid(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--k-grid must be comma-separated integers, got {text!r}") from None
    if not values:
        raise UsageError("--k-grid is empty")
    return tuple(sorted(set(values)))


class AblateStep(ItemsStep):
    name = "neuron-attr-ablate"

    def __init__(self, options: BackendOptions, config: AblateConfig, task: str | None = None, model: StudiedModel | None = None) -> None:
        super().__init__(options, task, model)
        self.config = config
        self.sets = read_neuron_sets([config.neurons])
        if not self.sets:
            raise UsageError(f"--neurons {config.neurons} holds no neuron records")
        if config.neuron_task is not None and config.neuron_task not in self.sets:
            raise UsageError(f"--neuron-task {config.neuron_task!r} is not in {config.neurons} (tasks: {', '.join(sorted(self.sets))})")
        self.excluded: set[Neuron] = set()
        for neuron_set in read_neuron_sets(config.exclude).values():
            self.excluded.update(neuron_set.neurons)

    def open(self) -> None:
        super().open()
        assert self.sm is not None
        checked_sets(self.sets, self.sm)

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
        shape = sm.shape_fields()
        head = {"neurons_task": neuron_set.task, "excluded": len(self.excluded), "match_layers": self.config.controls.match_layers}
        none = self.by_task(None)
        for task, acc in none.items():
            yield {"task": task, **shape, **head, "condition": "none", "k": 0, "seed": None, **acc.fields()}
        for k in self.config.top_k:
            chosen = chosen_neurons(neuron_set, k, self.excluded)
            top = self.by_task(chosen)
            for task, acc in top.items():
                yield {"task": task, **shape, **head, "condition": "top", "k": len(chosen), "seed": None, **acc.fields()}
            randoms: dict[str, list] = {task: [] for task in none}
            for seed, drawn in self.config.controls.draws(sm, chosen, self.excluded):
                for task, acc in self.by_task(drawn).items():
                    randoms[task].append(acc)
                    yield {"task": task, **shape, **head, "condition": "random", "k": len(chosen), "seed": seed, **acc.fields()}
            for task in none:
                figures = summary(none[task], top[task], randoms[task])
                yield {"task": task, **shape, **head, "condition": "summary", "k": len(chosen), **figures}
            if self.config.export is not None:
                self.export(chosen)

    def export(self, chosen: list[Neuron]) -> None:
        """Zero the chosen neurons' weights for good and write the checkpoint (last: the model in
        memory is ablated from here on)."""
        from llmkit.backends import save_checkpoint

        sm = self.sm
        assert sm is not None and self.config.export is not None
        zero_weights(sm, chosen)
        save_checkpoint(sm.model, sm.name, self.config.export)
