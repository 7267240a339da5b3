"""The ``hf`` backend: transformers, batched left-padded ``generate``, on CUDA when there is one.

A batch is one ``generate`` call: it runs to the largest new-token budget of the batch, and each
row stops at its own (``--max-tokens``, capped where the prompt leaves less room in the context).
Memory: the padded batch spans the longest prompt plus the largest budget, at most about twice the
context per row; a row that ended is padded, not removed, until the last one ends.

Reproducibility: with ``seed`` set, every ``generate`` call (one per batch) reseeds torch first,
so the same batch with the same seed gives the same completions. Unlike vLLM's per-request seeds,
a sample here also depends on the other prompts of its batch (they share one random stream).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
from llmkit.backends.options import BackendOptions, ModelOptions
from llmkit.errors import BackendUnavailable

_DTYPES = {"float32": "float32", "float": "float32", "float16": "float16", "half": "float16", "bfloat16": "bfloat16"}


class HFBackend(Backend):
    """A transformers causal LM held in this process."""

    name = "hf"
    can_score = True
    can_score_full = True

    def __init__(self, options: BackendOptions) -> None:
        model = options.require_model("by the hf backend")
        self.options = options
        self.device = _device(options)
        self._tokenizer = _render.load_tokenizer(model, options.trust_remote_code)
        self.model = load_causal_lm(model, options)
        config = self.model.config
        self._max_model_len = _render.context_length(
            getattr(config, "max_position_embeddings", None), self._tokenizer, options.max_model_len
        )
        self._eos_ids = eos_token_ids(self.model, self._tokenizer)
        # the run report's: what the model was loaded with (dtype "auto" resolved)
        self.engine_args = {"dtype": str(getattr(self.model, "dtype", options.dtype)).removeprefix("torch."),
                            "device": self.device, "max_model_len": self._max_model_len,
                            "trust_remote_code": options.trust_remote_code}

    # -- the interface -------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        params = _render.checked_params(params)
        prompt_ids = _render.render_prompts(self._tokenizer, prompts)
        results: list[GenerationResult | None] = [_render.prompt_problem(ids, self._max_model_len) for ids in prompt_ids]
        todo = [index for index, result in enumerate(results) if result is None]
        # One generate call for the whole batch, even when prompts near the end of the context get
        # smaller budgets than the rest (with large --max-tokens, each prompt length its own)
        batch = [prompt_ids[i] for i in todo]
        budgets = [_render.new_token_budget(len(ids), params.max_tokens, self._max_model_len) for ids in batch]
        if batch:
            for index, completions in zip(todo, self._generate_batch(batch, params, budgets)):
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

    def _generate_batch(
        self, batch: list[list[int]], params: SamplingParams, budgets: list[int]
    ) -> list[list[Completion]]:
        """Completions of every prompt of ``batch``: one left-padded ``generate`` call running to the
        largest budget, each row stopped at its own (``budgets[i]`` new tokens for ``batch[i]``)."""
        import torch
        from transformers import StoppingCriteriaList

        input_ids, attention = _hf_score.left_padded(batch, self._pad_id, self.device)
        sample = params.temperature > 0
        per_prompt = params.n if sample else 1
        config = self._generation_config(params, max(budgets), sample)
        # num_return_sequences puts a prompt's samples in adjacent rows
        row_budgets = [budget for budget in budgets for _ in range(per_prompt)]
        stop_at_budget = _RowBudgets(row_budgets, input_ids.shape[1], self.device)
        if params.seed is not None:
            torch.manual_seed(params.seed)  # seeds CUDA too
        with _torch_errors(), torch.inference_mode(), _positions_capped(self.model, self._max_model_len):
            output = self.model.generate(
                input_ids,
                attention_mask=attention,
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([stop_at_budget]),
                tokenizer=self._tokenizer if params.stop else None,  # transformers needs it for stop_strings
            )
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        grouped = [
            [
                # a row stopped at its budget is padded after it, up to the batch's largest budget
                self._completion(batch[i], row[: budgets[i]], params.stop)
                for row in new_tokens[i * per_prompt : (i + 1) * per_prompt]
            ]
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


class _RowBudgets:
    """A transformers stopping criterion: row ``r`` is done once it has ``budgets[r]`` new tokens.

    ``generate`` stops a row when any criterion in its list returns True for it (a bool per row),
    pads it from then on, and runs until every row is done."""

    def __init__(self, budgets: list[int], prompt_width: int, device: str) -> None:
        import torch

        self.budgets = torch.tensor(budgets, dtype=torch.long, device=device)
        self.prompt_width = prompt_width

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        return (input_ids.shape[1] - self.prompt_width) >= self.budgets


@contextmanager
def _positions_capped(model: Any, max_len: int | None) -> Iterator[None]:
    """Hold every position id below ``max_len`` during the ``generate`` inside.

    A row that ended (at its budget, EOS or a stop string) is still fed padding until the last row
    ends, and its position ids keep counting: past the context for a short-budget row beside a
    long-budget one. What it computes is thrown away, but an index past a learned position table
    fails, and dynamic RoPE scaling would rescale the whole batch. A running row never gets there
    (its budget keeps prompt + completion in the context), so the cap changes only ended rows."""
    if max_len is None:  # no context known: every row has the same budget, none runs past its end
        yield
        return

    def cap(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        positions = kwargs.get("position_ids")
        if positions is not None:
            kwargs["position_ids"] = positions.clamp(max=max_len - 1)
        return args, kwargs

    handle = model.register_forward_pre_hook(cap, with_kwargs=True)
    # transformers' "exceeded the model's predefined maximum length" notice measures the padded
    # batch (longest prompt + largest budget); every running row stays inside the context
    _render.drop_log_message("transformers.generation.stopping_criteria", "exceeded the model's predefined maximum length")
    try:
        yield
    finally:
        handle.remove()


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


def _device(options: ModelOptions) -> str:
    import torch

    return options.device or ("cuda" if torch.cuda.is_available() else "cpu")


def load_causal_lm(path: str, options: ModelOptions) -> Any:
    """A transformers causal LM in eval mode, loaded as the hf backend loads its model: on
    ``--device`` (cuda when available), ``--dtype`` (``auto`` = float32 on the CPU), remote code
    only with ``--trust-remote-code``. For plugins that need the model itself (two models in
    lockstep, full next-token distributions). Raises BackendUnavailable (exit 69); a model with
    its own code without ``--trust-remote-code`` is UsageError (exit 2)."""
    import os

    from transformers import AutoModelForCausalLM

    _render.refuse_own_code(path, options.trust_remote_code)
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

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            raise BackendUnavailable(f"out of device memory: {exc}; lower --batch-size or --max-tokens") from exc
        # a failing GPU is the machine's problem (69); any other RuntimeError is a bug and stays one
        if isinstance(exc, RuntimeError) and "CUDA" in str(exc):
            raise BackendUnavailable(f"the GPU failed during a forward pass: {exc}") from exc
