"""The option sets of neuron-attr's subcommands, each option declared once.

``ModelOptions`` is the core's set for a model held in this process (:class:`llmkit.ModelOptions`)
plus ``--chat`` and ``--seed``; not the backend set: neuron-attr runs transformers itself (hooks,
gradients), so sampling and server options do not apply, and the backend set's sampling
``--top-k`` would clash with this subcommand's ``--top-k`` (how many neurons).

``ScoreConfig``, ``AblateConfig``, ``CrossConfig`` and ``OverlapConfig`` are the options of one
subcommand each; values are checked when the set is made, before any model loads. Only typer
and llmkit are imported here (``--help`` stays light).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

import llmkit
from llmkit import UsageError

_PANEL = "Model"
_TASK_HELP = "Task name of records without a 'task' field."
_SEEDS_HELP = "Random control: draws of the same number of neurons (seeds --seed, --seed+1, ...)."
_MATCH_HELP = "Random control: draw as many neurons from each layer as the suppressed set has there."

#: the attribution methods (``attribution.METHODS`` implements them)
METHODS = ("act-grad", "ig", "activation")


@dataclass
class ModelOptions(llmkit.ModelOptions):
    chat: Annotated[bool, typer.Option("--chat/--no-chat", help="Render prompts with the model's chat template.", rich_help_panel=_PANEL)] = False
    seed: Annotated[int, typer.Option(help="First seed of the random controls.", rich_help_panel=_PANEL)] = 0

    def backend(self) -> llmkit.BackendOptions:
        """The steps' option record: the hf backend's options for this model."""
        return llmkit.BackendOptions(
            model=self.model,
            backend="hf",
            dtype=self.dtype,
            device=self.device,
            max_model_len=self.max_model_len,
            chat=self.chat,
            trust_remote_code=self.trust_remote_code,
        )


@dataclass(frozen=True)
class ScoreConfig:
    task: Annotated[str | None, typer.Option(help=_TASK_HELP)] = None
    method: Annotated[str, typer.Option(help="act-grad (activation x gradient), ig (integrated gradients) or activation (mean |a|).")] = "act-grad"
    aggregate: Annotated[str, typer.Option(help="Over examples: mean of the signed scores, or mean-abs (mean of |score|).")] = "mean"
    steps: Annotated[int, typer.Option(help="ig: interpolation steps (all run in one batch per layer).")] = 20
    top_k: Annotated[int | None, typer.Option(min=1, help="Neurons written per task, best first (all of them when the model has fewer).")] = 1000
    top_percent: Annotated[float | None, typer.Option(help="Write this percentage of all neurons instead of --top-k.")] = None
    scores: Annotated[str | None, typer.Option(help="Also write every neuron's score: one [layers, width] tensor per task (safetensors).")] = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"unknown --method {self.method!r}; choose {', '.join(METHODS)}")
        if self.aggregate not in ("mean", "mean-abs"):
            raise UsageError(f"unknown --aggregate {self.aggregate!r}; choose mean or mean-abs")
        if self.steps < 1:
            raise UsageError("--steps must be at least 1")
        if self.top_k is not None and self.top_k < 1:
            raise UsageError("--top-k must be at least 1")
        if self.top_percent is not None and not 0 < self.top_percent <= 100:
            raise UsageError("--top-percent must be in (0, 100]")


@dataclass(frozen=True)
class Controls:
    """The random control: how many seeds (from ``first_seed``) and whether each draw matches the
    suppressed set's count per layer."""

    seeds: int = 5
    first_seed: int = 0
    match_layers: bool = False

    def __post_init__(self) -> None:
        if self.seeds < 0:
            raise UsageError("--seeds must be 0 or more")


@dataclass(frozen=True)
class AblateConfig:
    neurons: Annotated[str, typer.Option(help="Neuron records (from score or overlap).")]
    neuron_task: Annotated[str | None, typer.Option(help="Whose neurons to suppress, when --neurons holds several tasks.")] = None
    task: Annotated[str | None, typer.Option(help=_TASK_HELP)] = None
    top_k: Annotated[int | None, typer.Option(help="Suppress the best K neurons (default: every neuron in the set).")] = None
    k_grid: Annotated[str | None, typer.Option(help="Comma-separated K values, all in one model load (an accuracy curve).")] = None
    seeds: Annotated[int, typer.Option(help=_SEEDS_HELP)] = 5
    match_layers: Annotated[bool, typer.Option(help=_MATCH_HELP)] = False
    exclude: Annotated[list[str] | None, typer.Option(help="Neuron records never suppressed nor drawn (e.g. overlap's shared set); repeatable.")] = None
    export: Annotated[str | None, typer.Option(help="Write the model with the top K neurons' weights zeroed to this folder (new or empty).")] = None

    def __post_init__(self) -> None:
        if self.k_grid is not None and self.top_k is not None:
            raise UsageError("give --top-k or --k-grid, not both")
        if any(k is not None and k < 1 for k in self.ks):
            raise UsageError("--top-k and --k-grid values must be at least 1")
        if self.export is not None and len(self.ks) > 1:
            raise UsageError("--export writes one ablated model: give one --top-k, not --k-grid")
        Controls(self.seeds)

    @property
    def ks(self) -> tuple[int | None, ...]:
        """The K values to suppress, ascending; (None,) = the whole set."""
        return parse_k_grid(self.k_grid) if self.k_grid is not None else (self.top_k,)

    def controls(self, first_seed: int) -> Controls:
        return Controls(self.seeds, first_seed, self.match_layers)


@dataclass(frozen=True)
class CrossConfig:
    neurons: Annotated[list[str], typer.Option(help="Neuron records of several tasks; repeatable.")]
    task: Annotated[str | None, typer.Option(help=_TASK_HELP)] = None
    top_k: Annotated[int | None, typer.Option(min=1, help="Suppress each task's best K neurons (default: its whole set).")] = None
    seeds: Annotated[int, typer.Option(help=_SEEDS_HELP)] = 5
    match_layers: Annotated[bool, typer.Option(help=_MATCH_HELP)] = False
    exclude_shared: Annotated[bool, typer.Option(help="Leave out the neurons shared by all tasks (or --min-tasks) from every set.")] = False
    min_tasks: Annotated[int | None, typer.Option(min=1, help="With --exclude-shared: shared = in at least this many tasks' sets.")] = None
    exclude: Annotated[list[str] | None, typer.Option(help="Neuron records never suppressed nor drawn; repeatable.")] = None
    plot: Annotated[str | None, typer.Option(help="Folder for the heatmap of relative accuracy drops (needs the plot extra).")] = None

    def __post_init__(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise UsageError("--top-k must be at least 1")
        if self.min_tasks is not None and self.min_tasks < 1:
            raise UsageError("--min-tasks must be at least 1")
        Controls(self.seeds)

    def controls(self, first_seed: int) -> Controls:
        return Controls(self.seeds, first_seed, self.match_layers)


@dataclass(frozen=True)
class OverlapConfig:
    top_k: Annotated[int | None, typer.Option(help="Compare each task's best K neurons (default: its whole set).")] = None
    min_tasks: Annotated[int | None, typer.Option(help="Shared = in the sets of at least this many tasks (default: all).")] = None
    shared: Annotated[str | None, typer.Option(help="Write the shared neurons here as neuron records (task 'shared').")] = None
    specific: Annotated[str | None, typer.Option(help="Write each task's set minus the shared neurons here as neuron records.")] = None

    def __post_init__(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise UsageError("--top-k must be at least 1")
        if self.min_tasks is not None and self.min_tasks < 1:
            raise UsageError("--min-tasks must be at least 1")


def parse_k_grid(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--k-grid must be comma-separated integers, got {text!r}") from None
    if not values:
        raise UsageError("--k-grid is empty")
    return tuple(sorted(set(values)))


model_options = llmkit.option_set(ModelOptions)
score_options = llmkit.option_set(ScoreConfig)
ablate_options = llmkit.option_set(AblateConfig)
cross_options = llmkit.option_set(CrossConfig)
overlap_options = llmkit.option_set(OverlapConfig)
