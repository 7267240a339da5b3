"""The options of `mia score`, declared once: Typer reads them for --help, the step reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from llmkit import UsageError

SAMPLING_METHODS = ("samia", "samia-zlib")
LIKELIHOOD_METHODS = ("loss", "zlib", "mink", "minkpp")
METHODS = SAMPLING_METHODS + LIKELIHOOD_METHODS
#: --compat: llmkit's documented rules, or the official code's (see llmkit_mia.official)
COMPAT = ("llmkit", "official")


def check_compat(value: str) -> None:
    if value not in COMPAT:
        raise UsageError(f"--compat must be llmkit or official, not {value!r}")


def parse_methods(value: str) -> tuple[str, ...]:
    """``samia,loss`` -> ("samia", "loss"); unknown names are a usage error."""
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise UsageError(f"--methods: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(METHODS)}")
    return names


@dataclass(frozen=True)
class ScoreConfig:
    methods: Annotated[str, typer.Option(help="Comma-separated: samia, samia-zlib, loss, zlib, mink, minkpp.")] = "samia"
    field: Annotated[str, typer.Option(help="Field holding the text.")] = "input"
    prefix_ratio: Annotated[float, typer.Option(help="samia: share of the words given as the prefix.")] = 0.5
    num_samples: Annotated[int, typer.Option(help="samia: continuations sampled per text (one request, n samples).")] = 10
    ngram: Annotated[int, typer.Option(help="samia: n of the ROUGE-N recall.")] = 1
    mink_k: Annotated[float, typer.Option(help="mink, minkpp: share k of the lowest-scoring tokens averaged.")] = 0.2
    keep_samples: Annotated[bool, typer.Option(help="samia: write the sampled continuations to 'mia_samples'.")] = False
    compat: Annotated[
        str, typer.Option(help="llmkit (documented rules) or official (the SaMIA and Min-K%++ code's numbers, exactly).")
    ] = "llmkit"

    def __post_init__(self) -> None:
        parse_methods(self.methods)
        check_compat(self.compat)
        if not 0.0 < self.prefix_ratio < 1.0:  # NaN fails this too
            raise UsageError("--prefix-ratio must be between 0 and 1 (exclusive)")
        if self.num_samples < 1 or self.ngram < 1:
            raise UsageError("--num-samples and --ngram must be at least 1")
        if not 0.0 < self.mink_k <= 1.0:
            raise UsageError("--mink-k must be in (0, 1]")

    @property
    def method_names(self) -> tuple[str, ...]:
        """The methods asked for, in order, each once."""
        return parse_methods(self.methods)

    @property
    def official(self) -> bool:
        return self.compat == "official"

    @property
    def sampling(self) -> bool:
        return any(m in SAMPLING_METHODS for m in self.method_names)

    @property
    def scoring(self) -> list[str]:
        return [m for m in self.method_names if m in LIKELIHOOD_METHODS]
