"""The options of `utf8-eval generate`, declared once: Typer reads them for --help, the step reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from llmkit import UsageError

PROTOCOLS = ("context-free", "context-guided")
COMPAT = ("llmkit", "official")


@dataclass(frozen=True)
class GenerateSettings:
    protocol: Annotated[
        str, typer.Option(help="context-free (records {char}) or context-guided (records {context, term}).")
    ] = "context-free"
    steps: Annotated[
        int, typer.Option(min=1, help="Tokens generated per prompt (context-guided: at least the bytes left of the term).")
    ] = 5
    char_field: Annotated[str, typer.Option(help="context-free: field holding one character.")] = "char"
    context_field: Annotated[str, typer.Option(help="context-guided: field holding the context.")] = "context"
    term_field: Annotated[str, typer.Option(help="context-guided: field holding the term.")] = "term"
    compat: Annotated[
        str, typer.Option(help="llmkit (documented protocols) or official (the paper's code: no BOS, k = 1..L, its prompts, "
                                  "literal special tokens, and its V_binary_soft / V_partial per step).")
    ] = "llmkit"
    bos: Annotated[
        bool | None,
        typer.Option("--bos/--no-bos", help="Put BOS first in every prompt (default: when the tokenizer adds one; never under --compat official)."),
    ] = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise UsageError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if self.compat not in COMPAT:
            raise UsageError(f"--compat must be llmkit or official, not {self.compat!r}")
        if self.steps < 1:
            raise UsageError("--steps must be at least 1")

    @property
    def official(self) -> bool:
        return self.compat == "official"
