"""Assembles the chosen stages into one chain (CPU stages first, LLM stages sharing one model)."""

from __future__ import annotations

from pathlib import Path

import llmkit
import llmkit.backends

from llmkit_rewrite_code.lint import LintStep
from llmkit_rewrite_code.scor import ScorStep
from llmkit_rewrite_code.sgcr import SgcrStep
from llmkit_rewrite_code.stages import LLM_STAGES, parse_stages
from llmkit_rewrite_code.syntax import SyntaxStep


def build_pipeline(
    stages: str,
    field: str,
    backend_options: llmkit.BackendOptions,
    *,
    lint_threshold: float = 7.0,
    workers: int | None = None,
    lint_timeout: float | None = 120.0,
    sgcr_prompt: str | Path | None = None,
    scor_prompt: str | Path | None = None,
    keep_original: bool = False,
    require_self_contained: bool = False,
    backend: llmkit.backends.Backend | None = None,
) -> llmkit.Chain:
    """The chain for ``stages`` (e.g. ``"syntax,lint"``); ``backend`` replaces opening one (tests)."""
    chosen = parse_stages(stages)
    if LLM_STAGES & set(chosen) and backend is None and backend_options.backend != "openai":
        backend_options.require_model(f"for the LLM stage(s) {', '.join(s for s in chosen if s in LLM_STAGES)}")
    # one model for both LLM stages, opened when the first batch reaches one
    model = llmkit.LazyBackend(backend_options, backend) if LLM_STAGES & set(chosen) else None
    steps: list[llmkit.Step] = []
    for stage in chosen:
        if stage == "syntax":
            steps.append(SyntaxStep(field))
        elif stage == "lint":
            steps.append(LintStep(field, lint_threshold, workers, lint_timeout))
        elif stage == "sgcr":
            assert model is not None
            steps.append(SgcrStep(field, model, sgcr_prompt, keep_original))
        else:
            assert model is not None
            steps.append(ScorStep(field, model, scor_prompt, keep_original, require_self_contained=require_self_contained))
    return llmkit.Chain(steps)
