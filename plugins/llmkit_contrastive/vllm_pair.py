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
from pathlib import Path
from typing import Any

from llmkit import (
    Backend,
    BackendOptions,
    BackendUnavailable,
    Completion,
    GenerationResult,
    Prompt,
    SamplingParams,
    UsageError,
)

from llmkit_contrastive.formulas import Contrast
from llmkit_contrastive.pairs import fill_results, split_prompts

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


def engine_kwargs(options: BackendOptions) -> dict[str, Any]:
    """vLLM engine settings for the pair: the shared options plus what two stacks need.

    Both sub-models would write to the same torch.compile cache, so on the CPU the pair runs eager
    (and with the KV block size CPU attention needs); on CUDA it compiles with the cache disabled.
    """
    import torch

    kwargs: dict[str, Any] = dict(
        dtype=options.dtype,
        tensor_parallel_size=options.tensor_parallel_size,
        trust_remote_code=options.trust_remote_code,
        seed=options.seed if options.seed is not None else 0,
    )
    if options.max_model_len is not None:
        kwargs["max_model_len"] = options.max_model_len
    if torch.cuda.is_available():
        kwargs["gpu_memory_utilization"] = options.gpu_memory_utilization
        os.environ["VLLM_DISABLE_COMPILE_CACHE"] = "1"  # read by the engine's worker processes too
    else:
        kwargs.update(enforce_eager=True, block_size=32)
    return kwargs


def vllm_sampling(params: SamplingParams) -> Any:
    import vllm

    return vllm.SamplingParams(
        n=params.n,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k if params.top_k > 0 else 0,
        max_tokens=params.max_tokens,
        stop=list(params.stop) or None,
        seed=params.seed,
        skip_special_tokens=True,
    )


class VLLMContrastivePair(Backend):
    """The expert and amateur as one vLLM engine whose logits are the contrastive scores."""

    name = "vllm-contrastive"

    def __init__(self, expert: str, amateur: str, tokenizer: Any, vocab_size: int, contrast: Contrast, options: BackendOptions) -> None:
        self._tokenizer = tokenizer
        self._dir = Path(tempfile.mkdtemp(prefix="llmkit-contrastive-pair-"))
        self.llm: Any = None
        try:
            write_pair_dir(self._dir / "pair", expert, amateur, contrast, vocab_size)
            from vllm import LLM

            register()  # this process; the entry point does it in the engine's processes
            self.llm = LLM(model=str(self._dir / "pair"), **engine_kwargs(options))
        except UsageError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise BackendUnavailable(f"the vLLM contrastive pair did not start: {exc}") from exc
        self._max_model_len = int(self.llm.llm_engine.model_config.max_model_len)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        results, runnable = split_prompts(prompts, self._max_model_len)
        requests = [{"prompt_token_ids": ids} for ids in runnable]
        outputs = self.llm.generate(requests, vllm_sampling(params), use_tqdm=False) if requests else []
        return fill_results(results, ([self._completion(c) for c in out.outputs] for out in outputs))

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
