"""A scripted backend for tests of parsing and post-filter logic: no model, no network.

``ScriptedBackend(answers)`` returns, for each prompt, the next answer from ``answers`` (a list
of strings, or a callable ``prompt -> str``); it records every prompt and SamplingParams it got.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llmkit.backends.base import Backend, Completion, GenerationResult, Prompt, SamplingParams


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(self, answers: Sequence[str] | Callable[[Prompt], str], max_model_len: int | None = None) -> None:
        self._answers = answers if callable(answers) else iter(answers)
        self._max_model_len = max_model_len
        self.prompts: list[Prompt] = []
        self.params: list[SamplingParams] = []
        self.calls = 0

    def _next(self, prompt: Prompt) -> str:
        return self._answers(prompt) if callable(self._answers) else next(self._answers)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        self.calls += 1
        self.prompts.extend(prompts)
        self.params.append(params)
        results = []
        for prompt in prompts:
            if self._max_model_len is not None and len(str(prompt)) > self._max_model_len:
                results.append(GenerationResult(error="too_long", detail="prompt longer than the context"))
                continue
            texts = [self._next(prompt) for _ in range(params.n)]
            results.append(GenerationResult([Completion(t, list(t.encode()), "stop") for t in texts]))
        return results

    @property
    def max_model_len(self) -> int | None:
        return self._max_model_len
