"""rewrite-math: the SwallowMath rewrite of web math text over JSONL."""

from __future__ import annotations

import typer

import llmkit
from llmkit_rewrite_math.settings import RewriteSettings

app = typer.Typer(help="Rewrite web math text the SwallowMath way: drop boilerplate, restore context, step-by-step solution.")

rewrite_options = llmkit.option_set(RewriteSettings)


@app.command()
@llmkit.io_options
@llmkit.backend_options
@rewrite_options
def rewrite_math(io: llmkit.IOOptions, backend_options: llmkit.BackendOptions, settings: RewriteSettings) -> None:
    """Rewrite math web text with an LLM (SwallowMath).

    Reject reasons: missing_field, too_long, empty_prompt, no_answer, truncated, too_short, repetition.
    """
    from llmkit_rewrite_math.rewrite import MathRewriteStep

    llmkit.run_step(MathRewriteStep(settings.field, backend_options, settings.prompt, settings.keep_original), io)
