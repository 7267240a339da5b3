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


class MathRewriteStep(llmkit.GenerationStep):
    name = "rewrite"
    batch_size = 256
    sampling_defaults = DEFAULT_SAMPLING  # backends cap new tokens by the context

    def __init__(self, field: str, backend_options: llmkit.BackendOptions, prompt_file: str | Path | None = None,
                 keep_original: bool = False, backend: llmkit.backends.Backend | None = None) -> None:
        super().__init__(backend_options, backend, field=field)
        self.template = llmkit.load_prompt("llmkit_rewrite_math", "rewrite", prompt_file, required={"text"})
        self.keep_original = keep_original

    def prompt(self, record: llmkit.Record, text: str) -> llmkit.Prompt:
        return self.chat_prompt(self.template.render(text=text))

    def accept(self, record: llmkit.Record, completions: list[llmkit.Completion]) -> llmkit.Outcome:
        rewritten = check_rewrite(completions[0])
        if isinstance(rewritten, llmkit.Reject):
            return rewritten
        field = self.text_field
        out = {**record, field: rewritten}
        if self.keep_original:
            out.setdefault(f"original_{field}", record[field])
        return out
