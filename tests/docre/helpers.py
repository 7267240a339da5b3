"""Running ``llmkit docre ...`` in-process with real exit statuses; JSONL from llmkit.testing."""

from __future__ import annotations

from pathlib import Path

from llmkit.cli import run
from llmkit.testing import read_records as read_jsonl
from llmkit.testing import write_jsonl

__all__ = ["docre", "read_jsonl", "write_jsonl"]


def docre(*args: str) -> int:
    """Exit status of ``llmkit docre ARGS`` run in this process."""
    return run(["docre", *map(str, args)])


def build_tiny_encoder(
    path: Path, hidden: int = 64, layers: int = 3, heads: int = 4, seed: int = 0, dropout: float = 0.1, arch: str = "bert"
) -> Path:
    """A tiny random encoder over the synthetic documents' vocabulary, by the builder behind
    ``llmkit tiny-model --arch bert|deberta``."""
    from llmkit_docre.synthetic import encoder_vocabulary

    from llmkit.tiny_model import TinyModelSpec
    from llmkit.tiny_model import build_tiny_encoder as build

    spec = TinyModelSpec(arch=arch, hidden_size=hidden, layers=layers, heads=heads, dropout=dropout, max_position=512, seed=seed)
    return build(path, spec, encoder_vocabulary())
