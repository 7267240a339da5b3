"""The SwallowMath rewrite step and its post-filters.

Post-filters on the stripped answer: ``truncated`` (the answer hit the token limit, so the
solution and its final answer are cut off), ``too_short`` (50 characters or fewer),
``repetition`` (``llmkit.find_repetition``). A prompt longer than the model's context:
``too_long``. Defaults as SwallowMath: temperature 0.2, top-p 0.7, 8192 new tokens at most
(capped by the model's context).
"""

from __future__ import annotations

from pathlib import Path

import llmkit
import llmkit.backends

DEFAULT_SAMPLING = {"temperature": 0.2, "top_p": 0.7, "max_tokens": 8192}
MIN_CHARS = 50


def check_rewrite(completion: llmkit.Completion) -> str | llmkit.Reject:
    text = completion.text.strip()
    if completion.finish_reason == "length":
        return llmkit.Reject("truncated", "the answer reached the token limit")
    if len(text) <= MIN_CHARS:
        return llmkit.Reject("too_short", f"{len(text)} characters")
    repeated = llmkit.find_repetition(text)
    if repeated is not None:
        return llmkit.Reject("repetition", repeated.describe())
    return text


class MathRewriteStep(llmkit.Step):
    name = "rewrite"
    batch_size = 256

    def __init__(self, field: str, options: llmkit.BackendOptions, prompt_file: str | Path | None = None,
                 keep_original: bool = False, backend: llmkit.backends.Backend | None = None) -> None:
        self.field = field
        self.options = options
        self.template = llmkit.load_prompt("llmkit_rewrite_math", "rewrite", prompt_file, required={"text"})
        self.keep_original = keep_original
        self.model = backend
        self._owned = backend is None

    def open(self) -> None:
        if self.model is None:
            self.model = llmkit.backends.open_backend(self.options)
        self.params = self.options.sampling(**DEFAULT_SAMPLING)  # backends cap new tokens by the context

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        texts = [llmkit.get_text_field(record, self.field) for record in records]
        todo = [i for i, text in enumerate(texts) if isinstance(text, str)]
        prompts = [self._prompt(texts[i]) for i in todo]  # type: ignore[arg-type]
        results = self.model.generate(prompts, self.params) if prompts else []
        outcomes: list[llmkit.Outcome] = list(texts)
        for i, result in zip(todo, results, strict=True):
            outcomes[i] = self._outcome(records[i], texts[i], result)  # type: ignore[arg-type]
        return outcomes

    def _prompt(self, text: str) -> llmkit.Prompt:
        return self.options.prompt(self.template.render(text=text))

    def _outcome(self, record: llmkit.Record, text: str, result: llmkit.backends.GenerationResult) -> llmkit.Outcome:
        if result.error is not None:
            return llmkit.Reject(result.error, result.detail)
        if not result.completions:
            return llmkit.Reject("no_answer", "the backend returned no completion")
        rewritten = check_rewrite(result.completions[0])
        if isinstance(rewritten, llmkit.Reject):
            return rewritten
        out = {**record, self.field: rewritten}
        if self.keep_original:
            out.setdefault(f"original_{self.field}", text)
        return out

    def close(self) -> None:
        if self._owned and self.model is not None:
            self.model.close()
        self.model = None
