"""``llmkit neuron-attr``: the MLP neurons a task depends on, suppressed against random controls,
compared across tasks.

Modules: ``records`` (task records to token ids), ``lm`` (the model, its down projections, row
packing, continuation log-probabilities), ``attribution`` (act-grad, ig, activation; running
sums), ``score``, ``suppress`` (hooks, accuracy, random draws), ``conditions`` (what ``ablate``
and ``cross-ablate`` share), ``ablate``, ``cross``, ``overlap``, ``layers``, ``neurons`` (neuron
records), ``plots``. Only typer and llmkit are imported here; torch loads when a command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

import llmkit
from llmkit_neuron_attr.options import ModelOptions, model_options

app = typer.Typer(
    help="Neuron attribution: rank MLP neurons for a task, suppress them against random controls, compare tasks.",
    no_args_is_help=True,
)

_TASK_HELP = "Task name of records without a 'task' field."
_SEEDS_HELP = "Random control: draws of the same number of neurons (seeds --seed, --seed+1, ...)."
_MATCH_HELP = "Random control: draw as many neurons from each layer as the suppressed set has there."


@app.command("score")
@llmkit.whole_input_options
@model_options
def score(
    io: llmkit.WholeInputOptions,
    model_opts: ModelOptions,
    task: Annotated[str | None, typer.Option(help=_TASK_HELP)] = None,
    method: Annotated[str, typer.Option(help="act-grad (activation x gradient), ig (integrated gradients) or activation (mean |a|).")] = "act-grad",
    aggregate: Annotated[str, typer.Option(help="Over examples: mean of the signed scores, or mean-abs (mean of |score|).")] = "mean",
    steps: Annotated[int, typer.Option(help="ig: interpolation steps (all run in one batch per layer).")] = 20,
    top_k: Annotated[int, typer.Option(min=1, help="Neurons written per task, best first.")] = 1000,
    top_percent: Annotated[float | None, typer.Option(help="Write this percentage of all neurons instead of --top-k.")] = None,
    scores: Annotated[str | None, typer.Option(help="Also write every neuron's score: one [layers, width] tensor per task (safetensors).")] = None,
) -> None:
    """Score every MLP neuron on a task's records; write the top neurons as {task, model, layer, index, score, rank}."""
    from llmkit_neuron_attr.score import ScoreConfig, ScoreStep

    config = ScoreConfig(method, aggregate, steps, top_k, top_percent, scores, task)
    llmkit.run_step(ScoreStep(model_opts.backend(), config), io)


@app.command("ablate")
@llmkit.whole_input_options
@model_options
def ablate(
    io: llmkit.WholeInputOptions,
    model_opts: ModelOptions,
    neurons: Annotated[str, typer.Option(help="Neuron records (from score or overlap).")],
    neuron_task: Annotated[str | None, typer.Option(help="Whose neurons to suppress, when --neurons holds several tasks.")] = None,
    task: Annotated[str | None, typer.Option(help=_TASK_HELP)] = None,
    top_k: Annotated[int | None, typer.Option(help="Suppress the best K neurons (default: every neuron in the set).")] = None,
    k_grid: Annotated[str | None, typer.Option(help="Comma-separated K values, all in one model load (an accuracy curve).")] = None,
    seeds: Annotated[int, typer.Option(help=_SEEDS_HELP)] = 5,
    match_layers: Annotated[bool, typer.Option(help=_MATCH_HELP)] = False,
    exclude: Annotated[list[str] | None, typer.Option(help="Neuron records never suppressed nor drawn (e.g. overlap's shared set); repeatable.")] = None,
    export: Annotated[str | None, typer.Option(help="Write the model with the top K neurons' weights zeroed to this folder.")] = None,
) -> None:
    """Accuracy with no ablation, with the top K neurons suppressed, and with K random neurons per seed."""
    from llmkit_neuron_attr.ablate import AblateConfig, AblateStep, parse_k_grid
    from llmkit_neuron_attr.conditions import Controls

    if k_grid is not None and top_k is not None:
        raise llmkit.UsageError("give --top-k or --k-grid, not both")
    ks: tuple[int | None, ...] = parse_k_grid(k_grid) if k_grid is not None else (top_k,)
    controls = Controls(seeds, model_opts.seed, match_layers)
    config = AblateConfig(neurons, neuron_task, ks, controls, tuple(exclude or ()), export)
    step = AblateStep(model_opts.backend(), config, task)
    step.eval_batch = io.batch_size or step.batch_size
    llmkit.run_step(step, io)


@app.command("cross-ablate")
@llmkit.whole_input_options
@model_options
def cross_ablate(
    io: llmkit.WholeInputOptions,
    model_opts: ModelOptions,
    neurons: Annotated[list[str], typer.Option(help="Neuron records of several tasks; repeatable.")],
    task: Annotated[str | None, typer.Option(help=_TASK_HELP)] = None,
    top_k: Annotated[int | None, typer.Option(min=1, help="Suppress each task's best K neurons (default: its whole set).")] = None,
    seeds: Annotated[int, typer.Option(help=_SEEDS_HELP)] = 5,
    match_layers: Annotated[bool, typer.Option(help=_MATCH_HELP)] = False,
    exclude_shared: Annotated[bool, typer.Option(help="Leave out the neurons shared by all tasks (or --min-tasks) from every set.")] = False,
    min_tasks: Annotated[int | None, typer.Option(min=1, help="With --exclude-shared: shared = in at least this many tasks' sets.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Neuron records never suppressed nor drawn; repeatable.")] = None,
    plot: Annotated[str | None, typer.Option(help="Folder for the heatmap of relative accuracy drops (needs the plot extra).")] = None,
) -> None:
    """Accuracy on every task with each task's neurons suppressed, beside random controls."""
    from llmkit_neuron_attr.conditions import Controls
    from llmkit_neuron_attr.cross import CrossAblateStep, CrossConfig

    controls = Controls(seeds, model_opts.seed, match_layers)
    config = CrossConfig(tuple(neurons), top_k, controls, exclude_shared, min_tasks, tuple(exclude or ()), plot)
    step = CrossAblateStep(model_opts.backend(), config, task)
    step.eval_batch = io.batch_size or step.batch_size
    llmkit.run_step(step, io)


@app.command("overlap")
@llmkit.whole_input_options
def overlap(
    io: llmkit.WholeInputOptions,
    top_k: Annotated[int | None, typer.Option(help="Compare each task's best K neurons (default: its whole set).")] = None,
    min_tasks: Annotated[int | None, typer.Option(help="Shared = in the sets of at least this many tasks (default: all).")] = None,
    shared: Annotated[str | None, typer.Option(help="Write the shared neurons here as neuron records (task 'shared').")] = None,
    specific: Annotated[str | None, typer.Option(help="Write each task's set minus the shared neurons here as neuron records.")] = None,
) -> None:
    """Jaccard and overlap-coefficient matrices of the tasks' neuron sets; shared and task-specific sets."""
    from llmkit_neuron_attr.overlap import OverlapConfig, OverlapStep

    llmkit.run_step(OverlapStep(OverlapConfig(top_k, min_tasks, shared, specific)), io)


@app.command("layers")
@llmkit.whole_input_options
def layers(
    io: llmkit.WholeInputOptions,
    bins: Annotated[int | None, typer.Option(help="Also sum the fractions into this many equal bins of depth.")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, help="Use each set's best K neurons (default: the whole set).")] = None,
    plot: Annotated[str | None, typer.Option(help="Folder for the figure: one panel per task, one line per model (needs the plot extra).")] = None,
) -> None:
    """Distribution of each set's neurons over normalised depth (layer / layers), per task and model."""
    from llmkit_neuron_attr.layers import LayersStep

    llmkit.run_step(LayersStep(bins, top_k, plot), io)
