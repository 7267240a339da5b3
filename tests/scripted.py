"""Moved to :mod:`llmkit.testing` (public, for plugin authors); this name stays while tests move over."""

from llmkit.testing import ScriptedBackend

__all__ = ["ScriptedBackend"]
