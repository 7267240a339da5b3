"""contrastive-gen: CoDIT contrastive decoding between a post-trained model and its base, or plain
response generation from one model, over instructions in JSONL."""

# no `from __future__ import annotations`: Typer reads the option metadata from live annotations
from typing import Annotated

import typer

import llmkit

app = typer.Typer(
    help="Instruction-tuning responses by contrastive decoding (CoDIT: post-trained expert minus its "
    "pre-trained base), or plain generation from the expert.\n\n"
    "Reads `instruction` (or `messages`) records; adds `response`, `generation` and `repetition`.",
)


@app.command()
@llmkit.io_options
@llmkit.backend_options
def contrastive_gen(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
    expert: Annotated[
        str | None, typer.Option(help="The post-trained model (path or hub name); --model is the same option.")
    ] = None,
    amateur: Annotated[
        str | None, typer.Option(help="The pre-trained base model to contrast with; absent = plain generation.")
    ] = None,
    beta: Annotated[float, typer.Option(help="Weight of the amateur's contrast; 0 = plain generation.")] = 1.0,
    alpha: Annotated[
        float, typer.Option(help="Plausibility cut: keep tokens with p_expert >= alpha * max p_expert.")
    ] = 0.01,
    formula: Annotated[
        str, typer.Option(help="difference (CoDIT: lp_e - beta*lp_a) or obrien ((1+beta)*logit_e - beta*logit_a).")
    ] = "difference",
    field: Annotated[str, typer.Option(help="Input field holding the instruction (else `messages` is used).")] = "instruction",
    system: Annotated[str | None, typer.Option(help="System message put before each instruction.")] = None,
    n: Annotated[int, typer.Option("--n", help="Responses per instruction (> 1 writes lists).")] = 1,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable); the text ends before it.")] = None,
    response_field: Annotated[
        str | None, typer.Option(help="Output field for the text (default: response, or responses with --n > 1).")
    ] = None,
) -> None:
    """Generate a response to each instruction, contrastively when --amateur is given."""
    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings, check_settings

    if expert is not None and backend_options.model is not None and expert != backend_options.model:
        raise llmkit.UsageError("--expert and --model name different models; give one of them")
    chosen = expert or backend_options.model
    if chosen is None:
        raise llmkit.UsageError("--expert (or --model) is required")
    settings = GenSettings(
        expert=chosen,
        amateur=amateur,
        contrast=Contrast(beta=beta, alpha=alpha, formula=formula),
        field=field,
        system=system,
        n=n,
        stop=tuple(stop or ()),
        response_field=response_field,
    )
    check_settings(settings)
    llmkit.run_step(ContrastiveGenStep(settings, backend_options), io)
