"""``llmkit tiny-model``: build a small random-weight causal LM or encoder offline, for smoke tests.

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
    bert = "bert"
    deberta = "deberta"


def tiny_model(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Folder to write the model to (created if absent).")],
    arch: Annotated[
        Arch,
        typer.Option(
            help="Causal LMs: llama (byte-level BPE tokenizer trained on a built-in corpus), byte (one token per byte value). "
            "Encoders, for docre: bert, deberta (relative positions; learns from fewer documents), with a word-level "
            "tokenizer over the built-in corpus and --words-from."
        ),
    ] = Arch.llama,
    layers: Annotated[int, typer.Option(min=1, help="Transformer layers.")] = 2,
    hidden_size: Annotated[int, typer.Option(min=1, help="Hidden size; a multiple of --heads.")] = 64,
    heads: Annotated[
        int, typer.Option(min=1, help="Attention heads. vLLM's CPU attention needs hidden-size/heads = 32 or 64.")
    ] = 2,
    vocab_size: Annotated[int, typer.Option(min=260, help="Vocabulary size of the llama arch's tokenizer (byte: fixed 260).")] = 512,
    seed: Annotated[int, typer.Option(help="Seed of the random weights: same seed, same model.")] = 0,
    max_position: Annotated[int, typer.Option(min=8, help="Context length in tokens.")] = 1024,
    words_from: Annotated[
        list[Path] | None,
        typer.Option(help="Encoders: add the words of this text or JSONL file to the vocabulary (repeatable); others are [UNK]."),
    ] = None,
    dropout: Annotated[float, typer.Option(min=0, max=0.99, help="Encoders: hidden and attention dropout.")] = 0.1,
) -> None:
    """Build a tiny random-weight model with a real tokenizer, offline: a Llama-style causal LM, or an encoder.

    The causal LMs load with the hf, vllm and openai (vllm serve) backends; the encoders are what
    `docre train --encoder` takes. Their outputs are noise, which is what pipeline smoke tests need.
    Prints the model's path on stdout.
    """
    from llmkit.errors import UsageError
    from llmkit.tiny_model import ENCODER_ARCHS, TinyModelSpec, build_tiny_encoder, build_tiny_model, corpus_words

    spec = TinyModelSpec(
        arch=Arch(arch).value,  # also when called as a plain function with a str
        layers=layers,
        hidden_size=hidden_size,
        heads=heads,
        vocab_size=vocab_size,
        max_position=max_position,
        seed=seed,
        dropout=dropout,
    )
    if spec.arch in ENCODER_ARCHS:
        built = build_tiny_encoder(path, spec, corpus_words(words_from or []))
    elif words_from:
        raise UsageError("--words-from is for the encoders (--arch bert or deberta); a causal LM's tokenizer covers any text")
    else:
        built = build_tiny_model(path, spec)
    typer.echo(str(built))
