"""One model shared by the LLM stages of a run: opened once, on first use, closed once."""

from __future__ import annotations

import llmkit
import llmkit.backends

#: SwallowCode's sampling settings (also SwallowMath's).
DEFAULT_SAMPLING = {"temperature": 0.2, "top_p": 0.7, "max_tokens": 8192}


class SharedModel:
    """Opens ``llmkit.backends.open_backend(options)`` once (or wraps a backend given for tests)."""

    def __init__(self, options: llmkit.BackendOptions, backend: llmkit.backends.Backend | None = None) -> None:
        self.options = options
        self._backend = backend
        self._owned = backend is None

    @property
    def backend(self) -> llmkit.backends.Backend:
        if self._backend is None:
            self._backend = llmkit.backends.open_backend(self.options)
        return self._backend

    def sampling(self) -> llmkit.SamplingParams:
        """The defaults overridden by the user's options (backends cap new tokens by the context)."""
        return self.options.sampling(**DEFAULT_SAMPLING)

    def prompt(self, text: str) -> llmkit.Prompt:
        """A chat turn (the default) or, with ``--no-chat``, the plain text."""
        return self.options.prompt(text)

    def close(self) -> None:
        if self._owned and self._backend is not None:
            self._backend.close()
        self._backend = None
