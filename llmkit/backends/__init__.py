"""Generation backends behind one interface (see :mod:`llmkit.backends.base`).

The interface, the options and prompt rendering load with this package; the engine modules
(:mod:`~llmkit.backends.hf`, :mod:`~llmkit.backends.vllm`, :mod:`~llmkit.backends.surgery`, and
the backend classes themselves) load on first use of one of their names, so that ``import
llmkit`` and ``llmkit --help`` pay for no engine code.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from llmkit.backends._render import load_tokenizer, prompt_problem, render_prompt
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
from llmkit.backends.local_model import LocalModel
from llmkit.backends.options import BackendOptions, ModelOptions

if TYPE_CHECKING:  # what the lazy names are, for mypy
    from llmkit.backends.hf import eos_token_ids, load_causal_lm
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

#: the names loaded on first use, each with the module that holds it
_LAZY = {
    "eos_token_ids": "hf",
    "load_causal_lm": "hf",
    "Block": "surgery",
    "head_features": "surgery",
    "input_width": "surgery",
    "mask_input_features": "surgery",
    "save_checkpoint": "surgery",
    "transformer_blocks": "surgery",
    "zero_input_features": "surgery",
    "vllm_engine_args": "vllm",
    "vllm_generate": "vllm",
    "vllm_on_cpu": "vllm",
    "vllm_open": "vllm",
}

__all__ = [
    "Backend",
    "BackendOptions",
    "Block",
    "ChatMessages",
    "Completion",
    "GenerationResult",
    "LocalModel",
    "ModelOptions",
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


def __getattr__(name: str) -> Any:
    """A lazy name: its module is imported now, and the name kept here for the next use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def default_backend_name() -> str:
    """vllm when it is importable, else hf."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def open_backend(options: BackendOptions) -> Backend:
    """Open the backend the options name, once per run. Raises UsageError / BackendUnavailable."""
    from llmkit.plugins import load_backend_class

    options.check_model()
    cls = load_backend_class(options.backend or default_backend_name())
    return cls(options)
