"""llmkit mia: membership inference (SaMIA and the likelihood baselines) and its evaluation.

Only typer and llmkit are imported here; the steps import their heavy libraries when they run.
"""


from typing import Annotated

import typer

import llmkit
from llmkit_mia.config import ScoreConfig

score_options = llmkit.option_set(ScoreConfig)

app = typer.Typer(
    help="Membership inference: SaMIA (sampled text only) and loss, zlib, Min-K%, Min-K%++ baselines; AUC/TPR evaluation.",
    no_args_is_help=True,
)


@app.command("score")
@llmkit.io_options
@llmkit.backend_options
@score_options
def score(io: llmkit.IOOptions, backend_options: llmkit.BackendOptions, config: ScoreConfig) -> None:
    """Add 'mia': {method: score} to each record; higher means more likely a training member.

    samia samples with temperature 1.0 and top-k 50 unless --temperature/--top-k say otherwise;
    its continuations get 2x the reference's token count (rounded up to 16) unless --max-tokens is given.
    """
    from llmkit_mia.score import ScoreStep

    llmkit.run_step(ScoreStep(backend_options, config), io)


@app.command("eval")
@llmkit.whole_input_options
def evaluate(
    io: llmkit.WholeInputOptions,
    label_field: Annotated[str, typer.Option(help="Field holding the label: 1/true = member, 0/false = non-member.")] = "label",
    score_field: Annotated[str, typer.Option(help="Field holding the {method: score} object.")] = "mia",
    compat: Annotated[
        str, typer.Option(help="llmkit, or official: TPR@10%FPR as the SaMIA code takes it (the ROC point nearest 10%).")
    ] = "llmkit",
) -> None:
    """Per method: ROC AUC, TPR at 1%, 5% and 10% FPR, best accuracy. Table on stderr, JSON records on stdout."""
    from llmkit_mia.evaluate import EvalStep

    llmkit.run_step(EvalStep(label_field, score_field, show_table=not io.quiet, compat=compat), io)
