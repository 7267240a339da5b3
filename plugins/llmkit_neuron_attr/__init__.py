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
from llmkit_neuron_attr.options import (
    AblateConfig,
    CrossConfig,
    ModelOptions,
    OverlapConfig,
    ScoreConfig,
    ablate_options,
    cross_options,
    model_options,
    overlap_options,
    score_options,
)

app = typer.Typer(
    help="Neuron attribution: rank MLP neurons for a task, suppress them against random controls, compare tasks.",
    no_args_is_help=True,
)


@app.command("score")
@llmkit.whole_input_options
@model_options
@score_options
def score(io: llmkit.WholeInputOptions, model_opts: ModelOptions, config: ScoreConfig) -> None:
    """Score every MLP neuron on a task's records; write the top neurons as {task, model, layer, index, score, rank}."""
    from llmkit_neuron_attr.score import ScoreStep

    with llmkit.SideOutputs(io) as side:
        llmkit.run_step(ScoreStep(model_opts.backend(), config, scores_out=side.file("--scores", config.scores)), io)


@app.command("ablate")
@llmkit.whole_input_options
@model_options
@ablate_options
def ablate(io: llmkit.WholeInputOptions, model_opts: ModelOptions, config: AblateConfig) -> None:
    """Accuracy with no ablation, with the top K neurons suppressed, and with K random neurons per seed."""
    from llmkit_neuron_attr.ablate import AblateStep

    with llmkit.SideOutputs(io) as side:
        export = side.folder("--export", config.export, new=True)
        step = AblateStep(model_opts.backend(), config, config.controls(model_opts.seed), export_to=export)
        step.eval_batch = io.batch_size or step.batch_size
        llmkit.run_step(step, io)


@app.command("cross-ablate")
@llmkit.whole_input_options
@model_options
@cross_options
def cross_ablate(io: llmkit.WholeInputOptions, model_opts: ModelOptions, config: CrossConfig) -> None:
    """Accuracy on every task with each task's neurons suppressed, beside random controls."""
    from llmkit_neuron_attr.cross import CrossAblateStep

    if config.plot is not None:
        llmkit.require("matplotlib", "plot", "--plot")  # now, not after the evaluation
    with llmkit.SideOutputs(io) as side:
        plot = side.folder("--plot", config.plot, new=False)
        step = CrossAblateStep(model_opts.backend(), config, config.controls(model_opts.seed), plot_to=plot)
        step.eval_batch = io.batch_size or step.batch_size
        llmkit.run_step(step, io)


@app.command("overlap")
@llmkit.whole_input_options
@overlap_options
def overlap(io: llmkit.WholeInputOptions, config: OverlapConfig) -> None:
    """Jaccard and overlap-coefficient matrices of the tasks' neuron sets; shared and task-specific sets."""
    from llmkit_neuron_attr.overlap import OverlapStep

    with llmkit.SideOutputs(io) as side:
        step = OverlapStep(config, shared=side.file("--shared", config.shared), specific=side.file("--specific", config.specific))
        llmkit.run_step(step, io)


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

    if plot is not None:
        llmkit.require("matplotlib", "plot", "--plot")
    with llmkit.SideOutputs(io) as side:
        llmkit.run_step(LayersStep(bins, top_k, side.folder("--plot", plot, new=False)), io)
