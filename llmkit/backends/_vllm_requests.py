"""The vllm backend's requests in its engine: added without waiting, collected by id, timed
(:mod:`llmkit.backends._engine_clock`), and vLLM's errors translated at this boundary."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Any

from llmkit.backends._engine_clock import EngineClock
from llmkit.errors import BackendUnavailable, UsageError


class PendingRequests:
    """The backend's requests in its engine: added without waiting, collected by id.

    The engine runs in its own process and works on every request added, in order; a request
    that finishes before its batch is collected is kept here until then. With a vLLM older than
    ``LLM.enqueue`` a batch is generated when it is collected, as one ``LLM.generate`` call.
    ``clock`` counts the engine's busy and idle time for the run's report.
    """

    def __init__(self, llm: Any, clock: EngineClock | None = None) -> None:
        self.llm = llm
        self.queued = hasattr(llm, "enqueue")
        self.clock = clock or EngineClock()
        self.finished: dict[str, Any] = {}
        self.held: dict[str, tuple[Any, Any]] = {}  # without enqueue: the requests themselves
        self.counter = 0

    def add(self, prompts: list[Any], sampling: list[Any]) -> list[str]:
        if not prompts:
            return []
        if not self.queued:
            ids = [f"llmkit-{self.counter + i}" for i in range(len(prompts))]
            self.counter += len(prompts)
            self.held.update(zip(ids, zip(prompts, sampling)))
            return ids
        self.clock.added(len(prompts))
        added = engine_call(lambda: self.llm.enqueue(prompts, sampling, use_tqdm=False))
        # enqueue returns the engine's ids ("7-1a2b3c4d"); outputs carry the LLM's own ("7")
        return [str(request).partition("-")[0] for request in added]

    def wait(self, ids: list[str]) -> list[Any]:
        if not self.queued:
            asked = [self.held.pop(i) for i in ids]
            self.clock.added(len(asked))  # the engine starts on them only now
            outputs = run_generate(self.llm, [prompt for prompt, _ in asked], [sampling for _, sampling in asked])
            self.clock.answered(len(asked))
            return outputs
        engine = self.llm.llm_engine
        missing = {i for i in ids if i not in self.finished}
        answered = 0

        def step() -> None:
            nonlocal answered
            while missing:
                if not engine.has_unfinished_requests():
                    raise RuntimeError(f"the engine has no request left and {len(missing)} were never answered")
                for output in engine.step():
                    if output.finished:
                        self.finished[output.request_id] = output
                        missing.discard(output.request_id)
                        answered += 1

        engine_call(step)
        self.clock.answered(answered)
        return [self.finished.pop(i) for i in ids]


def engine_call(call: Callable[[], Any]) -> Any:
    """``call()``, vLLM's errors translated: the engine refusing a request is a UsageError,
    the engine failing (out of memory, a worker crashed) BackendUnavailable."""
    from vllm.exceptions import VLLMClientError

    try:
        return call()
    except VLLMClientError as exc:
        raise UsageError(f"vLLM refused the request: {last_line(exc)}") from exc
    except Exception as exc:
        raise BackendUnavailable(f"the vLLM engine failed: {last_line(exc)}") from exc


def run_generate(llm: Any, requests: list[Any], sampling: Any) -> list[Any]:
    """One ``LLM.generate`` call over ``requests`` (none: no call)."""
    if not requests:
        return []
    return engine_call(lambda: llm.generate(requests, sampling, use_tqdm=False))


#: the clocks of engines a plugin drives through ``vllm_generate`` (its own ``vllm.LLM``), by engine
_clocks: weakref.WeakKeyDictionary[Any, EngineClock] = weakref.WeakKeyDictionary()


def timed_generate(llm: Any, requests: list[Any], sampling: Any) -> list[Any]:
    """:func:`run_generate`, the engine busy for the call and idle between calls (its clock kept
    for as long as the engine lives)."""
    try:
        clock = _clocks.setdefault(llm, EngineClock())
    except TypeError:  # an engine that cannot be weakly referenced: not timed
        return run_generate(llm, requests, sampling)
    clock.added(len(requests))
    outputs = run_generate(llm, requests, sampling)
    clock.answered(len(requests))
    return outputs


def last_line(exc: BaseException) -> str:
    """vLLM's messages can run to pages (config dumps, pydantic boilerplate): keep the lines that
    say what went wrong, and point to --trust-remote-code when that is what the model needs."""
    lines = [
        re.sub(r"\s*\[type=.*$", "", line).strip()
        for line in str(exc).strip().splitlines()
        if line.strip() and not line.strip().startswith("For further information")
    ]
    text = " ".join(lines[-4:])
    if "trust_remote_code" in text:
        text += " (the model needs its own code: add --trust-remote-code if you trust it)"
    return f"{type(exc).__name__}: {text}"
