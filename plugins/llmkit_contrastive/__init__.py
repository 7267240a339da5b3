"""contrastive-gen: CoDIT contrastive decoding between a post-trained model and its base, or plain
response generation from one model, over instructions in JSONL."""

import dataclasses

import typer

import llmkit
from llmkit_contrastive.settings import GenSettings

gen_options = llmkit.option_set(GenSettings)

app = typer.Typer(
    help="Instruction-tuning responses by contrastive decoding (CoDIT: post-trained expert minus its "
    "pre-trained base), or plain generation from the expert.\n\n"
    "Reads `instruction` (or `messages`) records; adds `response`, `generation` and `repetition`.",
)


@app.command()
@llmkit.io_options
@llmkit.backend_options
@gen_options
def contrastive_gen(io: llmkit.IOOptions, backend_options: llmkit.BackendOptions, settings: GenSettings) -> None:
    """Generate a response to each instruction, contrastively when --amateur is given."""
    from llmkit_contrastive.step import ContrastiveGenStep

    expert, model = settings.expert, backend_options.model
    if expert is not None and model is not None and expert != model:
        raise llmkit.UsageError("--expert and --model name different models; give one of them")
    settings = dataclasses.replace(settings, expert=expert or model)  # the step says when neither is given
    llmkit.run_step(ContrastiveGenStep(settings, backend_options), io)
