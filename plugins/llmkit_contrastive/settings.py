"""The options of contrastive-gen, declared once: Typer reads them for --help, the step reads them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import typer

from llmkit import UsageError
from llmkit_contrastive.contrast import COMPAT, FORMULAS, Contrast

#: CoDIT's sampling defaults; the longest response we let a model write unless told otherwise.
DEFAULT_SAMPLING = dict(temperature=1.0, top_p=1.0, max_tokens=2048)
#: Fields every output record gets besides the text (whose name --response-field sets).
FIXED_FIELDS = ("generation", "repetition")


@dataclass
class GenSettings:
    expert: Annotated[
        str | None, typer.Option(help="The post-trained model (path or hub name); --model is the same option.")
    ] = None
    amateur: Annotated[
        str | None, typer.Option(help="The pre-trained base model to contrast with; absent = plain generation.")
    ] = None
    beta: Annotated[float, typer.Option(help="Weight of the amateur's contrast; 0 = plain generation.")] = 1.0
    alpha: Annotated[float, typer.Option(help="Plausibility cut: keep tokens with p_expert >= alpha * max p_expert.")] = 0.01
    formula: Annotated[
        str,
        typer.Option(help="difference (CoDIT: lp_e - beta*lp_a), obrien ((1+beta)*logit_e - beta*logit_a) "
                          "or li (Li et al.'s full rule: top-k/top-p on the expert, expert tempered after the cut)."),
    ] = "difference"
    amateur_temperature: Annotated[
        float, typer.Option(help="The amateur's own temperature (Li et al.'s student_temperature, 0.5 there); 1.0 = CoDIT.")
    ] = 1.0
    compat: Annotated[
        str,
        typer.Option(help="llmkit or official: with --formula li and greedy decoding (temperature 0), official takes the "
                          "argmax over the whole vocabulary as Li et al.'s code does; llmkit keeps the plausibility cut."),
    ] = "llmkit"
    field: Annotated[str, typer.Option(help="Input field holding the instruction (else `messages` is used).")] = "instruction"
    system: Annotated[str | None, typer.Option(help="System message put before each instruction.")] = None
    n: Annotated[int, typer.Option("--n", help="Responses per instruction (> 1 writes lists).")] = 1
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable); the text ends before it.")] = None
    response_field: Annotated[
        str | None, typer.Option(help="Output field for the text (default: response, or responses with --n > 1).")
    ] = None

    def __post_init__(self) -> None:
        """Options that cannot work together, before anything loads."""
        if self.formula not in FORMULAS:
            raise UsageError(f"--formula must be one of {', '.join(FORMULAS)}, not {self.formula!r}")
        if self.compat not in COMPAT:
            raise UsageError(f"--compat must be one of {', '.join(COMPAT)}, not {self.compat!r}")
        if not math.isfinite(self.amateur_temperature) or self.amateur_temperature <= 0:
            raise UsageError("--amateur-temperature must be > 0")
        if not math.isfinite(self.beta) or self.beta < 0:
            raise UsageError("--beta must be >= 0")
        if not 0 <= self.alpha <= 1:  # NaN fails this too
            raise UsageError("--alpha must be in [0, 1]")
        if self.n < 1:
            raise UsageError("--n must be >= 1")
        if self.output_field in FIXED_FIELDS:
            raise UsageError(f"--response-field {self.output_field!r} would be overwritten by the output's own "
                             f"{self.output_field!r} field; choose another name")

    @property
    def expert_model(self) -> str:
        """The expert, once the command has resolved it from --expert or --model."""
        if self.expert is None:
            raise UsageError("--expert (or --model) is required")
        return self.expert

    @property
    def contrast(self) -> Contrast:
        return Contrast(beta=self.beta, alpha=self.alpha, formula=self.formula, amateur_temperature=self.amateur_temperature,
                        compat=self.compat)

    @property
    def stops(self) -> tuple[str, ...]:
        return tuple(self.stop or ())

    @property
    def plain(self) -> bool:
        """No contrast to make: generate from the expert alone."""
        return self.amateur is None or self.beta == 0

    @property
    def output_field(self) -> str:
        """Where the text goes: --response-field, else response (responses with --n > 1)."""
        return self.response_field or ("response" if self.n == 1 else "responses")
