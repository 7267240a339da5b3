"""Generation backends behind one interface (see :mod:`llmkit.backends.base`)."""

from __future__ import annotations

import importlib.util

from llmkit.backends.base import (
    Backend,
    ChatMessages,
    Completion,
    GenerationResult,
    Prompt,
    SamplingParams,
    TokenIds,
    TokenScores,
)
from llmkit.backends.hf import eos_token_ids, load_causal_lm
from llmkit.backends._render import load_tokenizer, prompt_problem, render_prompt
from llmkit.backends.options import BackendOptions
from llmkit.backends.surgery import (
    Block,
    head_features,
    input_width,
    mask_input_features,
    save_checkpoint,
    transformer_blocks,
    zero_input_features,
)
from llmkit.backends.vllm import vllm_engine_args, vllm_generate, vllm_on_cpu, vllm_open

__all__ = [
    "Backend",
    "BackendOptions",
    "Block",
    "ChatMessages",
    "Completion",
    "GenerationResult",
    "Prompt",
    "SamplingParams",
    "TokenIds",
    "TokenScores",
    "default_backend_name",
    "eos_token_ids",
    "head_features",
    "input_width",
    "load_causal_lm",
    "load_tokenizer",
    "mask_input_features",
    "open_backend",
    "prompt_problem",
    "render_prompt",
    "save_checkpoint",
    "transformer_blocks",
    "vllm_engine_args",
    "vllm_generate",
    "vllm_on_cpu",
    "vllm_open",
    "zero_input_features",
]


def default_backend_name() -> str:
    """vllm when it is importable, else hf."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def open_backend(options: BackendOptions) -> Backend:
    """Open the backend the options name, once per run. Raises UsageError / BackendUnavailable."""
    from llmkit.errors import UsageError
    from llmkit.plugins import load_backend_class

    name = options.backend or default_backend_name()
    if options.model is None and name != "openai":
        raise UsageError("--model is required")
    cls = load_backend_class(name)
    return cls(options)
