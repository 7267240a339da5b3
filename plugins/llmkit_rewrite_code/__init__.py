"""rewrite-code: the SwallowCode pipeline (syntax -> pylint filter -> SGCR -> SCOR) over JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import llmkit

app = typer.Typer(
    help="Rewrite Python snippets the SwallowCode way: syntax check, pylint filter, two LLM rewrites.",
    no_args_is_help=False,
)


@app.command()
@llmkit.io_options
@llmkit.backend_options
def rewrite_code(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
    stages: Annotated[str, typer.Option(help="Comma-separated stages to run, always in pipeline order: syntax, lint, sgcr, scor.")] = "syntax,lint,sgcr,scor",
    field: Annotated[str, typer.Option(help="Field holding the code; LLM stages write the rewritten program back here.")] = "text",
    lint_threshold: Annotated[float, typer.Option(help="Keep snippets whose penalised pylint score is at least this.")] = 7.0,
    workers: Annotated[int | None, typer.Option(min=1, help="Lint worker processes (default: one per CPU).")] = None,
    lint_timeout: Annotated[float, typer.Option(min=0, help="Seconds pylint may spend on one snippet (reject lint_timeout); 0 = no limit.")] = 120.0,
    sgcr_prompt: Annotated[Path | None, typer.Option(help="Replace the SGCR prompt with this file (placeholder {code}).")] = None,
    scor_prompt: Annotated[Path | None, typer.Option(help="Replace the SCOR prompt with this file (placeholder {code}).")] = None,
    keep_original: Annotated[bool, typer.Option(help="Keep the input code as original_<field>.")] = False,
    require_self_contained: Annotated[bool, typer.Option(help="After scor, reject programs with unresolved names (not_self_contained).")] = False,
) -> None:
    """Syntax-check, lint-filter and LLM-rewrite Python code (SwallowCode).

    Output fields: stages, lint_score, lint_raw_score, comment_ratio, sgcr_score, unresolved_names
    (and original_<field> with --keep-original). Reject reasons: field_exists, missing_field, empty,
    syntax, lint, lint_timeout, lint_error, too_long, empty_prompt, no_answer, no_code_block,
    rewrite_syntax, too_short, repetition, not_self_contained.
    """
    from llmkit_rewrite_code.pipeline import build_pipeline

    step = build_pipeline(
        stages, field, backend_options, lint_threshold=lint_threshold, workers=workers,
        lint_timeout=lint_timeout or None, sgcr_prompt=sgcr_prompt, scor_prompt=scor_prompt,
        keep_original=keep_original, require_self_contained=require_self_contained,
    )
    llmkit.run_step(step, io)
