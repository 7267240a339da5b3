"""The ``hf`` backend: transformers, batched left-padded ``generate``, on CUDA when there is one.

Reproducibility: with ``seed`` set, every ``generate`` call reseeds torch first, so the same batch
with the same seed gives the same completions. Unlike vLLM's per-request seeds, a sample here also
depends on the other prompts of its batch (they share one random stream).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from llmkit.backends import _detok, _hf_score, _render
from llmkit.backends.base import (
    Backend,
    Completion,
    GenerationResult,
    Prompt,
    SamplingParams,
    TokenDistributionScores,
    TokenScores,
)
from llmkit.backends.options import BackendOptions
from llmkit.errors import BackendUnavailable, UsageError

_DTYPES = {"float32": "float32", "float": "float32", "float16": "float16", "half": "float16", "bfloat16": "bfloat16"}


class HFBackend(Backend):
    """A transformers causal LM held in this process."""

    name = "hf"
    can_score = True
    can_score_full = True

    def __init__(self, options: BackendOptions) -> None:
        if not options.model:
            raise UsageError("--model is required by the hf backend")
        self.options = options
        self.device = _device(options)
        self._tokenizer = _render.load_tokenizer(options.model, options.trust_remote_code)
        self.model = load_causal_lm(options.model, options)
        config = self.model.config
        self._max_model_len = _render.context_length(
            getattr(config, "max_position_embeddings", None), self._tokenizer, options.max_model_len
        )
        self._eos_ids = eos_token_ids(self.model, self._tokenizer)

    # -- the interface -------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        params = _render.checked_params(params)
        prompt_ids = _render.render_prompts(self._tokenizer, prompts)
        results: list[GenerationResult | None] = [_render.prompt_problem(ids, self._max_model_len) for ids in prompt_ids]
        # One generate call per distinct token budget: prompts near the end of the context get a
        # smaller one, and a batch shares max_new_tokens.
        by_budget: dict[int, list[int]] = defaultdict(list)
        for index, ids in enumerate(prompt_ids):
            if results[index] is None:
                by_budget[_render.new_token_budget(len(ids), params.max_tokens, self._max_model_len)].append(index)
        for budget, indices in by_budget.items():
            batch = [prompt_ids[i] for i in indices]
            for index, completions in zip(indices, self._generate_batch(batch, params, budget)):
                results[index] = GenerationResult(completions=completions, prompt_token_ids=prompt_ids[index])
        return [result for result in results if result is not None]

    def score(self, texts: Sequence[str]) -> list[TokenScores]:
        return self._score(texts, with_moments=False)  # type: ignore[return-value]

    def score_distribution(self, texts: Sequence[str]) -> list[TokenDistributionScores]:
        return self._score(texts, with_moments=True)  # type: ignore[return-value]

    def next_token_logprobs(self, prompts: Sequence[Prompt]) -> list[Any]:
        prompt_ids = _render.render_prompts(self._tokenizer, prompts)
        fits = [i for i, ids in enumerate(prompt_ids) if _render.prompt_problem(ids, self._max_model_len) is None]
        out: list[Any] = [None] * len(prompts)
        with _torch_errors():
            rows = _hf_score.last_logprobs(self.model, [prompt_ids[i] for i in fits], self._pad_id, self.device)
        for index, row in zip(fits, rows):
            out[index] = row
        return out

    def close(self) -> None:
        import torch

        self.model = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    # -- internals -----------------------------------------------------------------------------

    @property
    def _pad_id(self) -> int:
        return int(self._tokenizer.pad_token_id)

    def _score(self, texts: Sequence[str], with_moments: bool) -> list[TokenScores]:
        text_ids = _render.encode_texts(self._tokenizer, texts)
        results: list[TokenScores | None] = [_render.score_problem(ids, self._max_model_len) for ids in text_ids]
        todo = [i for i, result in enumerate(results) if result is None]
        with _torch_errors():
            scored = _hf_score.teacher_forced(
                self.model, [text_ids[i] for i in todo], self._pad_id, self.device, with_moments
            )
        for index, result in zip(todo, scored):
            results[index] = result
        return [result for result in results if result is not None]

    def _generate_batch(self, batch: list[list[int]], params: SamplingParams, budget: int) -> list[list[Completion]]:
        import torch

        input_ids, attention = _hf_score.left_padded(batch, self._pad_id, self.device)
        sample = params.temperature > 0
        config = self._generation_config(params, budget, sample)
        if params.seed is not None:
            torch.manual_seed(params.seed)  # seeds CUDA too
        with _torch_errors(), torch.inference_mode():
            output = self.model.generate(
                input_ids,
                attention_mask=attention,
                generation_config=config,
                tokenizer=self._tokenizer if params.stop else None,  # transformers needs it for stop_strings
            )
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        per_prompt = params.n if sample else 1
        grouped = [
            [self._completion(batch[i], row, params.stop) for row in new_tokens[i * per_prompt : (i + 1) * per_prompt]]
            for i in range(len(batch))
        ]
        if not sample:  # greedy: the n samples are all the one greedy completion, as vLLM gives them
            grouped = [[_copy(group[0]) for _ in range(params.n)] for group in grouped]
        return grouped

    def _completion(self, prompt_ids: list[int], row: list[int], stop: tuple[str, ...]) -> Completion:
        padded = False
        if stop and self._pad_id not in self._eos_ids:
            # transformers pads a row it stopped on a stop string; should its stop-string check
            # fire where ours does not (text held back mid-character), the padding must not count
            # as generated tokens
            while row and row[-1] == self._pad_id:
                row, padded = row[:-1], True
        completion = _detok.finish_completion(self._tokenizer, prompt_ids, row, self._eos_ids, stop)
        if padded:
            completion.finish_reason = "stop"
        return completion

    def _generation_config(self, params: SamplingParams, budget: int, sample: bool) -> Any:
        from transformers import GenerationConfig

        # A fresh config, so a model's own generation defaults (repetition penalty, top_k 50, ...)
        # do not change what the common options mean; only the stop tokens are the model's.
        settings: dict[str, Any] = {
            "max_new_tokens": budget,
            "do_sample": sample,
            "eos_token_id": sorted(self._eos_ids),
            "pad_token_id": self._pad_id,
            "stop_strings": list(params.stop) or None,
        }
        if sample:
            settings.update(
                temperature=params.temperature, top_p=params.top_p, top_k=params.top_k, num_return_sequences=params.n
            )
        return GenerationConfig(**settings)


def _copy(completion: Completion) -> Completion:
    return Completion(completion.text, list(completion.token_ids), completion.finish_reason)


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends a sequence: the generation config's (some models list several) and the tokenizer's."""
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        ids.update([value] if isinstance(value, int) else (value or []))
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _torch_dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        # float32 on the CPU (half precision there is slow and inexact); the checkpoint's on a GPU
        return torch.float32 if device == "cpu" else "auto"
    return getattr(torch, _DTYPES[name])  # BackendOptions has checked the name


def _device(options: BackendOptions) -> str:
    import torch

    return options.device or ("cuda" if torch.cuda.is_available() else "cpu")


def load_causal_lm(path: str, options: BackendOptions) -> Any:
    """A transformers causal LM in eval mode, loaded as the hf backend loads its model: on
    ``--device`` (cuda when available), ``--dtype`` (``auto`` = float32 on the CPU), remote code
    only with ``--trust-remote-code``. For plugins that need the model itself (two models in
    lockstep, full next-token distributions). Raises BackendUnavailable (exit 69)."""
    import os

    from transformers import AutoModelForCausalLM

    device = _device(options)
    dtype = _torch_dtype(options.dtype, device)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            os.path.expanduser(path), dtype=dtype, trust_remote_code=options.trust_remote_code
        )
        return model.to(device).eval()
    except Exception as exc:
        hint = " (it needs its own code: add --trust-remote-code if you trust it)" if "trust_remote_code" in str(exc) else ""
        raise BackendUnavailable(f"cannot load model {path!r} on {device}{hint}: {exc}") from exc


class _torch_errors:
    """Translate device failures during a forward pass (out of memory, CUDA errors) into BackendUnavailable."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            raise BackendUnavailable(f"out of device memory: {exc}; lower --batch-size or --max-tokens") from exc
        # a failing GPU is the machine's problem (69); any other RuntimeError is a bug and stays one
        if isinstance(exc, RuntimeError) and "CUDA" in str(exc):
            raise BackendUnavailable(f"the GPU failed during a forward pass: {exc}") from exc
        return False
