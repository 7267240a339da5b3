"""Turn generated token ids into a completion the way vLLM does, so hf and vllm agree on text.

vLLM detokenises one token at a time with ``tokenizers.decoders.DecodeStream`` primed with the
prompt: bytes of an unfinished UTF-8 character are held back (never shown as U+FFFD at the end), a
leading space after the prompt is kept, and stop strings are looked for as each token's text
arrives. The token that completes a stop string is the last one kept; the text ends before it.
"""

from __future__ import annotations

from typing import Any

from llmkit.backends.base import Completion


def finish_completion(
    tokenizer: Any, prompt_ids: list[int], new_ids: list[int], eos_ids: set[int], stop: tuple[str, ...]
) -> Completion:
    """The completion in ``new_ids`` (a generated row, maybe followed by padding): it ends at the
    first EOS (kept in ``token_ids``, not in the text), at the token completing a stop string, or
    at the end of the row (finish reason "length")."""
    step = _stepper(tokenizer, prompt_ids)
    text = ""
    for position, token in enumerate(new_ids):
        if token in eos_ids:
            return Completion(text=text, token_ids=new_ids[: position + 1], finish_reason="stop")
        piece = step(token)
        if not piece:
            continue
        text += piece
        hit = _first_stop(text, len(piece), stop)
        if hit is not None:
            return Completion(text=text[:hit], token_ids=new_ids[: position + 1], finish_reason="stop")
    return Completion(text=text, token_ids=list(new_ids), finish_reason="length")


def _first_stop(text: str, new_chars: int, stop: tuple[str, ...]) -> int | None:
    """Where the stop string that completes earliest within the new text starts, or None."""
    best: tuple[int, int] | None = None  # (end, start)
    for stop_string in stop:
        if not stop_string:
            continue
        start = text.find(stop_string, max(0, len(text) - new_chars - len(stop_string) + 1))
        if start != -1 and (best is None or start + len(stop_string) < best[0]):
            best = (start + len(stop_string), start)
    return None if best is None else best[1]


def _stepper(tokenizer: Any, prompt_ids: list[int]) -> Any:
    """A function token id -> new text (or None while a character is incomplete)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        from tokenizers.decoders import DecodeStream

        stream = DecodeStream(ids=prompt_ids, skip_special_tokens=True)
        return lambda token: stream.step(backend, token)
    return _SlowStepper(tokenizer)


class _SlowStepper:
    """For Python-only tokenizers: decode the whole prefix each time, hold back a trailing U+FFFD."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.shown = 0

    def __call__(self, token: int) -> str | None:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd") or len(text) <= self.shown:
            return None
        piece, self.shown = text[self.shown :], len(text)
        return piece
