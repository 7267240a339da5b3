"""``llmkit tiny-model``: build a small random-weight causal LM offline, for smoke tests.

torch and transformers are imported inside the command, so mounting it costs ``--help`` nothing.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Arch(str, Enum):
    llama = "llama"
    byte = "byte"


def tiny_model(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Folder to write the model to (created if absent).")],
    arch: Annotated[
        Arch,
        typer.Option(help="llama: byte-level BPE tokenizer trained on a built-in corpus; byte: one token per byte value."),
    ] = Arch.llama,
    layers: Annotated[int, typer.Option(min=1, help="Transformer layers.")] = 2,
    hidden_size: Annotated[int, typer.Option(min=1, help="Hidden size; a multiple of --heads.")] = 64,
    heads: Annotated[
        int, typer.Option(min=1, help="Attention heads. vLLM's CPU attention needs hidden-size/heads = 32 or 64.")
    ] = 2,
    vocab_size: Annotated[int, typer.Option(min=260, help="Vocabulary size of the llama arch's tokenizer (byte: fixed 260).")] = 512,
    seed: Annotated[int, typer.Option(help="Seed of the random weights: same seed, same model.")] = 0,
    max_position: Annotated[int, typer.Option(min=8, help="Context length in tokens.")] = 1024,
) -> None:
    """Build a tiny random-weight Llama-style model with a real tokenizer and chat template, offline.

    Loads with the hf, vllm and openai (vllm serve) backends; its outputs are noise, which is what pipeline smoke tests need. Prints the model's path on stdout.
    """
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    spec = TinyModelSpec(
        arch=Arch(arch).value,  # also when called as a plain function with a str
        layers=layers,
        hidden_size=hidden_size,
        heads=heads,
        vocab_size=vocab_size,
        max_position=max_position,
        seed=seed,
    )
    built = build_tiny_model(path, spec)
    typer.echo(str(built))
