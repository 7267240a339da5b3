"""llmkit: LLM data and analysis methods behind one JSONL-streaming command line.

The public surface plugins use is listed in ``__all__``; everything else is private to the core.
Importing llmkit never imports torch, transformers or vLLM.
"""

from __future__ import annotations

__version__ = "0.1.0"

from llmkit.backends import (
    Backend,
    BackendOptions,
    Completion,
    GenerationResult,
    Prompt,
    SamplingParams,
    TokenIds,
    TokenScores,
    default_backend_name,
    eos_token_ids,
    load_causal_lm,
    load_tokenizer,
    open_backend,
    prompt_problem,
    vllm_engine_args,
    vllm_generate,
    vllm_on_cpu,
    vllm_open,
)
from llmkit.contract import IOOptions, WholeInputOptions, io_options, run_step, source_of, whole_input_options
from llmkit.errors import (
    BackendUnavailable,
    InputError,
    LlmkitError,
    MissingDependency,
    UsageError,
    require,
)
from llmkit.options import option_set
from llmkit.prompts import PromptTemplate, load_prompt
from llmkit.step import Chain, LateReject, Outcome, Record, RecordStep, Reject, Step, existing_field, get_text_field
from llmkit.summary import Summary
from llmkit.text import Repetition, find_repetition

#: Decorator that adds the shared backend options to a Typer command and passes ``backend: BackendOptions``.
backend_options = option_set(BackendOptions, "backend")

__all__ = [
    "Backend",
    "BackendOptions",
    "BackendUnavailable",
    "Chain",
    "Completion",
    "GenerationResult",
    "IOOptions",
    "InputError",
    "LateReject",
    "LlmkitError",
    "MissingDependency",
    "Outcome",
    "Prompt",
    "PromptTemplate",
    "Record",
    "RecordStep",
    "Reject",
    "Repetition",
    "SamplingParams",
    "Step",
    "Summary",
    "TokenIds",
    "TokenScores",
    "UsageError",
    "WholeInputOptions",
    "__version__",
    "backend_options",
    "default_backend_name",
    "eos_token_ids",
    "existing_field",
    "find_repetition",
    "get_text_field",
    "io_options",
    "load_causal_lm",
    "load_prompt",
    "load_tokenizer",
    "open_backend",
    "option_set",
    "prompt_problem",
    "require",
    "run_step",
    "source_of",
    "whole_input_options",
    "vllm_engine_args",
    "vllm_generate",
    "vllm_on_cpu",
    "vllm_open",
]
