"""The sampling values of the LLM stages (one model serves both: a shared llmkit.LazyBackend)."""

from __future__ import annotations

#: SwallowCode's sampling settings (also SwallowMath's).
DEFAULT_SAMPLING = {"temperature": 0.2, "top_p": 0.7, "max_tokens": 8192}
