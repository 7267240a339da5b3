"""The ``openai`` backend: any OpenAI-compatible server (``vllm serve``, a fleet behind a router...).

String and :class:`TokenIds` prompts go to ``/completions``, chat prompts to ``/chat/completions``;
one request per prompt, its ``n`` samples in that request, ``--concurrency`` requests in flight.
The model is ``--model`` or else the first one ``/models`` lists. The server does the tokenising,
so there is no local tokenizer and a too-long prompt is recognised from the server's answer.

vLLM servers (recognised from ``/models``) also return token ids (``return_token_ids``) and prompt
log-probs, which makes ``score`` work; with another server completions carry no token ids and
``score`` raises a UsageError.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import Any, TypeVar

from llmkit.backends._http import ClientError, JSONClient, RetryPolicy, checked_base_url
from llmkit.backends._pool import DaemonPool
from llmkit.backends._render import checked_params
from llmkit.backends.base import (
    Backend,
    Completion,
    GenerationResult,
    Prompt,
    SamplingParams,
    TokenIds,
    TokenScores,
)
from llmkit.backends.options import BackendOptions
from llmkit.errors import BackendUnavailable, UsageError

T = TypeVar("T")


class OpenAIBackend(Backend):
    name = "openai"
    starts_on_submit = True

    def __init__(self, options: BackendOptions, *, backoff_base: float = 0.5, backoff_max: float = 30.0) -> None:
        if not options.base_url:
            raise UsageError("the openai backend needs --base-url, e.g. http://127.0.0.1:8000/v1")
        self.options = options
        self.base_url = checked_base_url(options.base_url)
        policy = RetryPolicy(options.max_retries, backoff_base, backoff_max)
        api_key = os.environ.get(options.api_key_env) or None  # a local server needs none
        self._http = JSONClient(options.base_url, api_key, options.request_timeout, options.concurrency, policy)
        self._pool = DaemonPool(options.concurrency, "llmkit-openai")
        try:
            self.model, card, self.is_vllm = self._pick_model()
        except Exception:
            self.close()
            raise
        self.can_score = self.is_vllm  # through vLLM's prompt_logprobs extension only
        self.gives_token_ids = self.is_vllm  # ``return_token_ids`` is vLLM's extension too
        served_len = card.get("max_model_len") if card else None
        self._max_model_len = options.max_model_len or (int(served_len) if served_len else None)
        # the run report's: how the server is asked (the URL is redacted there; the key is never listed)
        self.engine_args = {"base_url": options.base_url, "api_key_env": options.api_key_env, "concurrency": options.concurrency,
                            "request_timeout": options.request_timeout, "max_retries": options.max_retries,
                            "max_model_len": self._max_model_len}

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        return self.collect(self.submit(prompts, params))

    def submit(self, prompts: Sequence[Prompt], params: SamplingParams) -> Any:
        """The batch's requests queued at once: ``--concurrency`` workers send them in order, so
        the server works on this batch while the caller prepares the next."""
        params = checked_params(params)
        return self._start(lambda prompt: self._generate_one(prompt, params), prompts)

    def collect(self, ticket: Any) -> list[GenerationResult]:
        return self._finish(ticket)

    def score(self, texts: Sequence[str]) -> list[TokenScores]:
        if not self.is_vllm:
            raise UsageError(f"the server at {self.base_url} does not give prompt log-probs (a vLLM server does)")
        return self._map(self._score_one, texts)

    def close(self) -> None:
        self._http.close()
        self._pool.close(BackendUnavailable(f"the connection to {self.base_url} was closed"))

    # -- one request ---------------------------------------------------------------------------

    def _generate_one(self, prompt: Prompt, params: SamplingParams) -> GenerationResult:
        if prompt == "" or (isinstance(prompt, TokenIds) and not prompt.ids):  # servers refuse an empty prompt
            return GenerationResult(error="empty_prompt", detail="the prompt is empty")
        if isinstance(prompt, TokenIds) and self._max_model_len and len(prompt.ids) + 1 > self._max_model_len:
            return GenerationResult(
                error="too_long",
                detail=f"prompt has {len(prompt.ids)} tokens; the context holds {self._max_model_len}",
                prompt_token_ids=list(prompt.ids),
            )
        chat = isinstance(prompt, list)
        body = self._sampling_body(params)
        if chat:
            body["messages"] = prompt
        else:
            body["prompt"] = list(prompt.ids) if isinstance(prompt, TokenIds) else prompt
        path = "/chat/completions" if chat else "/completions"
        try:
            answer = self._http.post(path, body)
        except ClientError as exc:
            return _too_long_result(exc) or _raise_client_error(exc)
        url = self._http.shown(path)
        choices = _choices(answer, url, params.n, "message" if chat else "text", self._http.quote)
        return _generation_result(answer, choices, url if chat else None, self._http.quote)

    def _score_one(self, text: str) -> TokenScores:
        if not text:  # servers refuse an empty prompt; its tokens (BOS at most) have no log-prob anyway
            return TokenScores(token_ids=[], logprobs=[])
        body = {"model": self.model, "prompt": text, "max_tokens": 1, "temperature": 0.0,
                "prompt_logprobs": 0, "return_token_ids": True}  # fmt: skip
        try:
            answer = self._http.post("/completions", body)
        except ClientError as exc:
            if _too_long_result(exc):
                return TokenScores(token_ids=[], logprobs=[], error="too_long", detail=exc.message)
            _raise_client_error(exc)
        url = self._http.shown("/completions")
        return _prompt_scores(_choices(answer, url, 1, "prompt_token_ids", self._http.quote)[0], url)

    def _sampling_body(self, params: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": params.n,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_k:  # not in the OpenAI API; sent only when asked for (vLLM and others accept it)
            body["top_k"] = params.top_k
        if self.is_vllm:
            body["return_token_ids"] = True
        return body

    def _pick_model(self) -> tuple[str, dict[str, Any] | None, bool]:
        """(model name, its /models card, whether the server is vLLM)."""
        try:
            listing = self._http.get("/models")
        except ClientError as exc:
            if self.options.model and exc.status == 404:  # a server without /models: take --model on trust
                return self.options.model, None, False
            _raise_client_error(exc)
        listed = (listing or {}).get("data", []) if isinstance(listing, dict | None) else None
        if not isinstance(listed, list):  # not an OpenAI model list: as good as no /models
            if self.options.model:
                return self.options.model, None, False
            url = self._http.shown("/models")
            raise BackendUnavailable(f"{url} answered without a 'data' list of models: {self._http.quote(listing)}; give --model")
        cards = [card for card in listed if isinstance(card, dict) and card.get("id")]
        is_vllm = any(card.get("owned_by") == "vllm" for card in cards)
        if self.options.model:
            card = next((c for c in cards if c["id"] == self.options.model), None)
            return self.options.model, card, is_vllm
        if not cards:
            raise BackendUnavailable(f"the server at {self.base_url} serves no model (GET /models is empty)")
        return str(cards[0]["id"]), cards[0], is_vllm

    def _map(self, call: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """``call`` on every item, ``--concurrency`` at a time, results in order; the first failure
        cancels what has not started and is raised."""
        return self._finish(self._start(call, items))

    def _start(self, call: Callable[[Any], T], items: Sequence[Any]) -> list[Future[T]]:
        return [self._pool.submit(call, item) for item in items]

    def _finish(self, futures: list[Future[T]]) -> list[T]:
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            for future in pending:
                future.cancel()
            raise failed.exception()  # type: ignore[misc]
        return [future.result() for future in futures]


#: what the field that makes a choice usable holds
_FIELD_TYPES: dict[str, type] = {"text": str, "message": dict, "prompt_token_ids": list}


def _choices(answer: Any, url: str, n: int, field: str, quote: Callable[[Any], str]) -> list[dict[str, Any]]:
    """The ``n`` choices of a 200 answer in index order, each with ``field``; else BackendUnavailable
    (exit 69) naming the URL and what is missing, rather than a KeyError from deep inside."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
        raise BackendUnavailable(f"{url} answered without a 'choices' list: {quote(answer)}")
    if len(choices) != n:
        raise BackendUnavailable(
            f"{url} answered {len(choices)} of the {n} choices asked for (does the server support n?)"
        )
    if not all(isinstance(choice.get(field), _FIELD_TYPES[field]) for choice in choices):
        raise BackendUnavailable(f"{url} answered a choice without {field!r}: {quote(answer)}")
    return sorted(choices, key=lambda choice: choice.get("index", 0))


def _prompt_scores(choice: dict[str, Any], url: str) -> TokenScores:
    """Token log-probs from vLLM's ``prompt_token_ids`` and ``prompt_logprobs`` in one choice."""
    ids, entries = choice.get("prompt_token_ids"), choice.get("prompt_logprobs")
    if not isinstance(ids, list) or not isinstance(entries, list) or len(entries) != len(ids):
        raise BackendUnavailable(f"{url} answered without prompt log-probs for every token")
    try:
        # JSON keys are strings; entry t holds log p(ids[t] | ids[:t]), entry 0 is null
        logprobs = [float(entry[str(token)]["logprob"]) for token, entry in zip(ids[1:], entries[1:])]
    except (KeyError, TypeError, ValueError) as exc:
        raise BackendUnavailable(f"{url} answered prompt log-probs without one for each token ({exc!r})") from exc
    return TokenScores(token_ids=list(ids[1:]), logprobs=logprobs)


def _generation_result(
    answer: dict[str, Any], choices: list[dict[str, Any]], chat_url: str | None, quote: Callable[[Any], str]
) -> GenerationResult:
    """The completions of a 200 answer; ``chat_url`` is the URL of a chat request (None for text)."""
    completions = []
    for choice in choices:
        text = _message_text(choice["message"], chat_url, quote) if chat_url else choice["text"]
        reason = "length" if choice.get("finish_reason") == "length" else "stop"
        completions.append(Completion(text=text, token_ids=list(choice.get("token_ids") or []), finish_reason=reason))
    prompt_ids = answer.get("prompt_token_ids") if chat_url else (choices[0].get("prompt_token_ids") if choices else None)
    return GenerationResult(completions=completions, prompt_token_ids=prompt_ids)


def _message_text(message: dict[str, Any], url: str, quote: Callable[[Any], str]) -> str:
    """A chat message's ``content`` as text: a string; a list of text parts (the OpenAI API's
    other shape), joined; none (null), empty. Anything else (a number, an image part) is not a
    completion llmkit can use: BackendUnavailable (exit 69) naming the server and the field."""
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str) for part in content
    ):
        return "".join(part["text"] for part in content)
    raise BackendUnavailable(
        f"{url} answered a message whose 'content' is neither text nor a list of text parts: {quote(content)}"
    )


def _too_long_result(exc: ClientError) -> GenerationResult | None:
    """The per-record reject for a prompt the server says does not fit its context."""
    text = exc.message.lower()
    if exc.status in (400, 413, 422) and ("context length" in text or "too long" in text or "context window" in text):
        return GenerationResult(error="too_long", detail=exc.message)
    return None


def _raise_client_error(exc: ClientError) -> Any:
    if exc.status in (401, 403):
        raise BackendUnavailable(f"{exc.url} refused the request (HTTP {exc.status}: {exc.message}); check the API key") from exc
    if exc.status == 404:
        raise BackendUnavailable(f"{exc.url}: not found (HTTP 404: {exc.message}); check --base-url and --model") from exc
    raise UsageError(f"{exc.url} rejected the request (HTTP {exc.status}): {exc.message}") from exc
