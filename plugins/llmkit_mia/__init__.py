"""llmkit mia: membership inference (SaMIA and the likelihood baselines) and its evaluation.

Only typer and llmkit are imported here; the steps import their heavy libraries when they run.
"""


from typing import Annotated

import typer

import llmkit

app = typer.Typer(
    help="Membership inference: SaMIA (sampled text only) and loss, zlib, Min-K%, Min-K%++ baselines; AUC/TPR evaluation.",
    no_args_is_help=True,
)


@app.command("score")
@llmkit.io_options
@llmkit.backend_options
def score(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
    methods: Annotated[
        str, typer.Option(help="Comma-separated: samia, samia-zlib, loss, zlib, mink, minkpp.")
    ] = "samia",
    field: Annotated[str, typer.Option(help="Field holding the text.")] = "input",
    prefix_ratio: Annotated[float, typer.Option(help="samia: share of the words given as the prefix.")] = 0.5,
    num_samples: Annotated[int, typer.Option(help="samia: continuations sampled per text (one request, n samples).")] = 10,
    ngram: Annotated[int, typer.Option(help="samia: n of the ROUGE-N recall.")] = 1,
    mink_k: Annotated[float, typer.Option(help="mink, minkpp: share k of the lowest-scoring tokens averaged.")] = 0.2,
    keep_samples: Annotated[bool, typer.Option(help="samia: write the sampled continuations to 'mia_samples'.")] = False,
) -> None:
    """Add 'mia': {method: score} to each record; higher means more likely a training member.

    samia samples with temperature 1.0 and top-k 50 unless --temperature/--top-k say otherwise;
    its continuations get 2x the reference's token count (rounded up to 16) unless --max-tokens is given.
    """
    from llmkit_mia.score import ScoreConfig, ScoreStep, parse_methods

    config = ScoreConfig(
        methods=parse_methods(methods),
        field=field,
        prefix_ratio=prefix_ratio,
        num_samples=num_samples,
        ngram=ngram,
        mink_k=mink_k,
        keep_samples=keep_samples,
    )
    llmkit.run_step(ScoreStep(backend_options, config), io)


@app.command("eval")
@llmkit.whole_input_options
def evaluate(
    io: llmkit.WholeInputOptions,
    label_field: Annotated[str, typer.Option(help="Field holding the label: 1/true = member, 0/false = non-member.")] = "label",
    score_field: Annotated[str, typer.Option(help="Field holding the {method: score} object.")] = "mia",
) -> None:
    """Per method: ROC AUC, TPR at 1% and 5% FPR, best accuracy. Table on stderr, JSON records on stdout."""
    from llmkit_mia.evaluate import EvalStep

    llmkit.run_step(EvalStep(label_field, score_field, show_table=not io.quiet), io)
