"""The three public surfaces, pinned: a name added, moved or dropped is a decision, made here."""

from __future__ import annotations

import ast
from pathlib import Path

import llmkit
import llmkit.backends
import llmkit.testing

ROOT = Path(__file__).resolve().parents[2]

STEP_AUTHORS = {
    "BackendOptions", "BackendUnavailable", "Chain", "ClusterOptions", "Completion", "GenerationStep", "LazyBackend", "IOOptions", "InputError", "LateReject",
    "LlmkitError", "MissingDependency", "ModelOptions", "Outcome", "Prompt", "PromptTemplate", "Record", "RecordStep", "Reject",
    "Repetition", "Retry", "SamplingParams", "SideOutput", "SideOutputs", "Step", "Summary", "UsageError", "WholeInputOptions", "__version__",
    "backend_options", "existing_field", "find_repetition", "get_text_field", "io_options", "load_prompt",
    "option_set", "read_jsonl", "require", "run_step", "source_of", "whole_input_options",
}
BACKENDS = {
    "Backend", "BackendOptions", "Block", "ChatMessages", "Completion", "GenerationResult", "LocalModel", "ModelOptions", "Prompt",
    "SamplingParams", "TokenIds", "TokenScores", "default_backend_name", "eos_token_ids", "head_features",
    "input_width", "load_causal_lm", "load_tokenizer", "mask_input_features", "open_backend", "prompt_problem",
    "render_prompt", "save_checkpoint", "transformer_blocks", "vllm_engine_args", "vllm_generate", "vllm_on_cpu", "vllm_open",
    "zero_input_features",
}
TESTING = {
    "Answer", "CommandRun", "JsonlData", "ScriptedBackend", "StepRun", "failure", "parse_summary", "read_records",
    "run_command", "run_records", "write_jsonl",
}


def test_each_surface_is_pinned_and_every_name_resolves():
    for module, expected in ((llmkit, STEP_AUTHORS), (llmkit.backends, BACKENDS), (llmkit.testing, TESTING)):
        assert set(module.__all__) == expected, module.__name__
        assert len(module.__all__) == len(expected)  # no name listed twice
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_the_types_a_step_author_sees_are_the_backends_own():
    assert llmkit.Completion is llmkit.backends.Completion and llmkit.Prompt is llmkit.backends.Prompt
    assert llmkit.BackendOptions is llmkit.backends.BackendOptions
    assert llmkit.ModelOptions is llmkit.backends.ModelOptions


PUBLIC_MODULES = {"llmkit", "llmkit.backends", "llmkit.testing"}


def private_imports(path: Path) -> list[str]:
    """``llmkit.*`` modules a file imports beyond the public three, and ``llmkit.<name>`` attribute
    reads of names outside ``llmkit.__all__`` (plus the ``backends``/``testing`` submodules)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    allowed = set(llmkit.__all__) | {"backends", "testing"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "llmkit":
            if node.module not in PUBLIC_MODULES:
                found.append(f"from {node.module} import ...")
            elif node.module == "llmkit":
                found += [f"from llmkit import {a.name}" for a in node.names if a.name not in allowed]
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("llmkit.") and a.name not in PUBLIC_MODULES]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "llmkit":
            if node.attr not in allowed:
                found.append(f"llmkit.{node.attr}")
    return found


def test_plugins_use_only_public_names():
    problems = {}
    for path in sorted((ROOT / "plugins").glob("llmkit_*/**/*.py")):
        bad = private_imports(path)
        if bad:
            problems[str(path.relative_to(ROOT))] = sorted(set(bad))
    assert problems == {}
