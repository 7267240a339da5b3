"""The options of rewrite-code, declared once: Typer reads them for --help, the pipeline reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from llmkit_rewrite_code.stages import parse_stages


@dataclass(frozen=True)
class PipelineSettings:
    stages: Annotated[
        str, typer.Option(help="Comma-separated stages to run, always in pipeline order: syntax, lint, sgcr, scor.")
    ] = "syntax,lint,sgcr,scor"
    field: Annotated[
        str, typer.Option(help="Field holding the code; LLM stages write the rewritten program back here.")
    ] = "text"
    lint_threshold: Annotated[
        float, typer.Option(help="Keep snippets whose penalised pylint score is at least this.")
    ] = 7.0
    workers: Annotated[int | None, typer.Option(min=1, help="Lint worker processes (default: one per CPU).")] = None
    lint_timeout: Annotated[
        float, typer.Option(min=0, help="Seconds pylint may spend on one snippet (reject lint_timeout); 0 = no limit.")
    ] = 120.0
    sgcr_prompt: Annotated[
        Path | None, typer.Option(help="Replace the SGCR prompt with this file (placeholder {code}).")
    ] = None
    scor_prompt: Annotated[
        Path | None, typer.Option(help="Replace the SCOR prompt with this file (placeholder {code}).")
    ] = None
    keep_original: Annotated[bool, typer.Option(help="Keep the input code as original_<field>.")] = False
    require_self_contained: Annotated[
        bool, typer.Option(help="After scor, reject programs with unresolved names (not_self_contained).")
    ] = False

    def __post_init__(self) -> None:
        parse_stages(self.stages)  # an unknown stage is a usage error now, before any model loads
