"""vLLM side of the one-engine CoDIT pair: registration, the pair's config folder, and the engine.

vLLM runs ``register`` (entry point ``vllm.general_plugins``) in every process it starts; it only
names the architecture with a lazy ``module:Class`` string, so it imports nothing heavy and costs
nothing when no pair is loaded. The network itself lives in :mod:`llmkit_contrastive.pair_model`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmkit import BackendOptions, BackendUnavailable, Completion, Prompt, SamplingParams, UsageError
from llmkit.backends import Backend, GenerationResult, vllm_engine_args, vllm_generate, vllm_on_cpu, vllm_open

from llmkit_contrastive.contrast import Contrast
from llmkit_contrastive.pair_prompts import fill_results, split_prompts

ARCHITECTURE = "LlmkitContrastivePair"
MODEL_CLASS = "llmkit_contrastive.pair_model:ContrastivePairForCausalLM"


def register() -> None:
    """Tell vLLM's model registry about the pair architecture (no-op without vLLM)."""
    try:
        from vllm import ModelRegistry
    except Exception:  # vLLM absent or broken: nothing to register into
        return
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, MODEL_CLASS)


# --- the pair's config folder and engine (used by contrastive-gen in the main process) -------


def local_model_dir(name: str) -> Path:
    """A model's local folder: the path itself, or the hub snapshot (downloaded when missing)."""
    path = Path(name)
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name))
    except Exception as exc:
        raise UsageError(f"cannot find the model {name!r} locally or on the hub: {exc}") from exc


def write_pair_dir(target: Path, expert: str, amateur: str, contrast: Contrast, vocab_size: int) -> Path:
    """A model folder vLLM loads as one ``LlmkitContrastivePair``.

    ``config.json`` is the expert's, with ``architectures`` set to the pair's, the context cut to
    what both models take, and the pair's settings under ``llmkit_contrastive``. Every other
    top-level file of the expert (weights, tokenizer, generation config) is linked, so the loader's
    primary weight source is the expert's own files.
    """
    expert_dir, amateur_dir = local_model_dir(expert), local_model_dir(amateur)
    config = json.loads((expert_dir / "config.json").read_text(encoding="utf-8"))
    amateur_config = json.loads((amateur_dir / "config.json").read_text(encoding="utf-8"))
    config["llmkit_contrastive"] = {
        "expert_architectures": config.get("architectures") or ["LlamaForCausalLM"],
        "amateur": str(amateur_dir),
        "beta": contrast.beta,
        "alpha": contrast.alpha,
        "formula": contrast.formula,
        "amateur_temperature": contrast.amateur_temperature,
        "compat": contrast.compat,
        "li_sampling": {"temperature": contrast.temperature, "top_k": contrast.top_k, "top_p": contrast.top_p},
        "vocab_size": vocab_size,
    }
    config["architectures"] = [ARCHITECTURE]
    limits = [c.get("max_position_embeddings") for c in (config, amateur_config)]
    if all(isinstance(x, int) for x in limits):
        config["max_position_embeddings"] = min(limits)  # type: ignore[type-var]
    target.mkdir(parents=True, exist_ok=True)
    for item in expert_dir.iterdir():
        if item.is_file() and item.name != "config.json":
            (target / item.name).symlink_to(item.resolve())
    (target / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return target


#: what the pair's two stacks need on vLLM's CPU build, unless LLMKIT_VLLM_ENGINE_ARGS says otherwise:
#: eager mode (both sub-models would write to one torch.compile cache, and compiling twice on a
#: CPU is slow) and a KV block size CPU attention takes
CPU_DEFAULTS = {"enforce_eager": True, "block_size": 32}


def engine_args(options: BackendOptions, model: str) -> dict[str, Any]:
    """``vllm.LLM`` arguments for the pair folder ``model``: the vllm backend's rules
    (:func:`llmkit.backends.vllm_engine_args`: the options, ``--gpu-memory-utilization`` on CPU and GPU,
    chunked prefill off on the CPU build, ``LLMKIT_VLLM_ENGINE_ARGS``) with :data:`CPU_DEFAULTS`
    below the environment variable. The torch.compile cache is disabled (read by the engine's
    processes too), so that the two sub-models never share one, eager or not.
    """
    os.environ["VLLM_DISABLE_COMPILE_CACHE"] = "1"
    return vllm_engine_args(options, {"model": model}, defaults=CPU_DEFAULTS if vllm_on_cpu() else None)


def engine_kwargs(options: BackendOptions) -> dict[str, Any]:
    """The pair's settings without the model, for another engine to run under the same ones
    (``benchmarks/contrastive_throughput.py`` compares the expert alone with them)."""
    args = engine_args(options, options.model or "")
    del args["model"]
    return args


class VLLMContrastivePair(Backend):
    """The expert and amateur as one vLLM engine whose logits are the contrastive scores."""

    name = "vllm-contrastive"

    def __init__(self, expert: str, amateur: str, tokenizer: Any, vocab_size: int, contrast: Contrast, options: BackendOptions) -> None:
        self._tokenizer = tokenizer
        self.contrast = contrast
        self._dir = Path(tempfile.mkdtemp(prefix="llmkit-contrastive-pair-"))
        self.llm: Any = None
        try:
            args = engine_args(options, str(self._dir / "pair"))
            write_pair_dir(self._dir / "pair", expert, amateur, contrast, vocab_size)
            register()  # this process; the entry point does it in the engine's processes
            self.llm = vllm_open(args, f"the contrastive pair of {expert!r} and {amateur!r}")
        except (UsageError, BackendUnavailable):
            self.close()
            raise
        except Exception as exc:  # writing the pair folder
            self.close()
            raise BackendUnavailable(f"the vLLM contrastive pair did not start: {exc}") from exc
        self._max_model_len = int(self.llm.llm_engine.model_config.max_model_len)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        """The vllm backend's sampling rules (:func:`llmkit.backends.vllm_generate`): max_tokens capped at
        the context, greedy ``n > 1`` gives ``n`` copies of the greedy completion, vLLM's errors
        translated."""
        if self.llm is None:
            raise UsageError("the vLLM contrastive pair was used after close()")
        assert self._max_model_len is not None  # known once the engine is up
        if self.contrast.formula == "li":
            params = self._li_params(params)
        results, runnable = split_prompts(prompts, self._max_model_len)
        outputs = vllm_generate(self.llm, runnable, params, self._max_model_len)
        return fill_results(results, ([self._completion(c) for c in out] for out in outputs))

    def _li_params(self, params: SamplingParams) -> SamplingParams:
        """Li et al.'s rule tempers and filters the expert inside the pair (with the settings the
        engine was built with); vLLM's sampler then draws from the scores as they are."""
        c = self.contrast
        if (params.temperature, max(params.top_k, 0), params.top_p) != (c.temperature, c.top_k, c.top_p):
            raise UsageError(
                f"--formula li on the vllm pair was built for temperature {c.temperature}, top-k {c.top_k}, "
                f"top-p {c.top_p}; this call asked for {params.temperature}, {params.top_k}, {params.top_p}"
            )
        return replace(params, temperature=1.0 if c.temperature > 0 else 0.0, top_k=0, top_p=1.0)

    def _completion(self, output: Any) -> Completion:
        """One vLLM completion, its text decoded as the hf path decodes it.

        vLLM's incremental detokenizer holds back an unfinished UTF-8 sequence at the end of a
        length-limited text; decoding the ids whole keeps both backends' texts identical. A
        stop-string hit keeps vLLM's text, which ends before the stop string.
        """
        ids = list(output.token_ids)
        if isinstance(output.stop_reason, str):
            text = output.text
        else:
            text = self._tokenizer.decode(ids, skip_special_tokens=True)
        return Completion(text, ids, "stop" if output.finish_reason == "stop" else "length")

    def close(self) -> None:
        if self.llm is not None:
            engine = getattr(self.llm.llm_engine, "engine_core", None)
            if engine is not None and hasattr(engine, "shutdown"):
                engine.shutdown()
            self.llm = None
        shutil.rmtree(self._dir, ignore_errors=True)
