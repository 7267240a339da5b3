"""rewrite-math: the SwallowMath rewrite of web math text over JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import llmkit

app = typer.Typer(help="Rewrite web math text the SwallowMath way: drop boilerplate, restore context, step-by-step solution.")


@app.command()
@llmkit.io_options
@llmkit.backend_options
def rewrite_math(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
    field: Annotated[str, typer.Option(help="Field holding the text; the rewrite is written back here.")] = "text",
    prompt: Annotated[Path | None, typer.Option(help="Replace the prompt with this file (placeholder {text}).")] = None,
    keep_original: Annotated[bool, typer.Option(help="Keep the input text as original_<field>.")] = False,
) -> None:
    """Rewrite math web text with an LLM (SwallowMath).

    Reject reasons: missing_field, too_long, empty_prompt, no_answer, truncated, too_short, repetition.
    """
    from llmkit_rewrite_math.rewrite import MathRewriteStep

    llmkit.run_step(MathRewriteStep(field, backend_options, prompt, keep_original), io)
