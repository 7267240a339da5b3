"""rewrite-code: the SwallowCode pipeline (syntax -> pylint filter -> SGCR -> SCOR) over JSONL."""

from __future__ import annotations

import typer

import llmkit
from llmkit_rewrite_code.settings import PipelineSettings

pipeline_options = llmkit.option_set(PipelineSettings)

app = typer.Typer(
    help="Rewrite Python snippets the SwallowCode way: syntax check, pylint filter, two LLM rewrites.",
    no_args_is_help=False,
)


@app.command()
@llmkit.io_options
@llmkit.backend_options
@pipeline_options
def rewrite_code(io: llmkit.IOOptions, backend_options: llmkit.BackendOptions, settings: PipelineSettings) -> None:
    """Syntax-check, lint-filter and LLM-rewrite Python code (SwallowCode).

    Output fields: stages, lint_score, lint_raw_score, comment_ratio, sgcr_score, unresolved_names
    (and original_<field> with --keep-original). Reject reasons: field_exists, missing_field, empty,
    syntax, lint, lint_timeout, lint_error, too_long, empty_prompt, no_answer, no_code_block,
    rewrite_syntax, too_short, repetition, not_self_contained.
    """
    from llmkit_rewrite_code.pipeline import build_pipeline

    step = build_pipeline(
        settings.stages, settings.field, backend_options, lint_threshold=settings.lint_threshold,
        workers=settings.workers, lint_timeout=settings.lint_timeout or None, sgcr_prompt=settings.sgcr_prompt,
        scor_prompt=settings.scor_prompt, keep_original=settings.keep_original,
        require_self_contained=settings.require_self_contained,
    )
    llmkit.run_step(step, io)
