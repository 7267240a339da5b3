"""llmkit: LLM data and analysis methods behind one JSONL-streaming command line.

Three public surfaces, one per audience (everything else is private to the core):

- ``llmkit`` (this module), for step authors: steps and their outcomes, the JSONL contract
  (``run_step`` and its options), option sets, the backend options and what a generation step
  sees (``Prompt``, ``SamplingParams``, ``Completion``), prompt files, errors;
- ``llmkit.backends``, for backend implementers and the few plugins that drive an engine
  themselves (``open_backend``, ``load_causal_lm``, ``load_tokenizer``, ``vllm_*``, ...);
- ``llmkit.testing``, for plugin tests: a scripted backend and a helper that runs a step over
  a list of records.

Importing llmkit never imports torch, transformers or vLLM. The plugin guide is docs/plugins.md.
"""

from __future__ import annotations

__version__ = "0.1.0"


from llmkit.answers import Retry
from llmkit.backends.base import Completion, Prompt, SamplingParams
from llmkit.backends.options import BackendOptions, ModelOptions
from llmkit.contract import ClusterOptions, IOOptions, WholeInputOptions, io_options, source_of, whole_input_options
from llmkit.executors.run import run_step
from llmkit.io import read_jsonl
from llmkit.side_outputs import SideOutput, SideOutputs
from llmkit.generation import GenerationStep, LazyBackend
from llmkit.errors import (
    BackendUnavailable,
    InputError,
    LlmkitError,
    MissingDependency,
    UsageError,
    require,
)
from llmkit.options import backend_options, option_set
from llmkit.prompts import PromptTemplate, load_prompt
from llmkit.step import Chain, LateReject, Outcome, Record, RecordStep, Reject, Step, existing_field, get_text_field
from llmkit.summary import Summary
from llmkit.text import Repetition, find_repetition

__all__ = [
    "BackendOptions",
    "BackendUnavailable",
    "Chain",
    "ClusterOptions",
    "Completion",
    "GenerationStep",
    "IOOptions",
    "InputError",
    "LateReject",
    "LazyBackend",
    "LlmkitError",
    "MissingDependency",
    "ModelOptions",
    "Outcome",
    "Prompt",
    "PromptTemplate",
    "Record",
    "RecordStep",
    "Reject",
    "Repetition",
    "Retry",
    "SamplingParams",
    "SideOutput",
    "SideOutputs",
    "Step",
    "Summary",
    "UsageError",
    "WholeInputOptions",
    "__version__",
    "backend_options",
    "existing_field",
    "find_repetition",
    "get_text_field",
    "io_options",
    "load_prompt",
    "option_set",
    "read_jsonl",
    "require",
    "run_step",
    "source_of",
    "whole_input_options",
]
