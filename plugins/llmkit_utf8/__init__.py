"""utf8-eval: UTF-8 validity of byte-level generation.

Commands: ``check`` (validator), ``generate`` (context-free / context-guided protocols),
``next-byte`` (validity mass of the next-token distribution), ``char-tiers`` (frequency tiers of
a corpus, the input of ``generate``) and ``summary`` (validity by tier, byte length, k and step).
Heavy libraries are imported inside the commands.
"""

from __future__ import annotations

from typing import Annotated

import typer

import llmkit
from llmkit_utf8.settings import GenerateSettings

generate_options = llmkit.option_set(GenerateSettings)

app = typer.Typer(
    help="UTF-8 validity of byte-level generation: validator, generation protocols, next-byte mass, character tiers.",
    no_args_is_help=True,
)


@app.command()
@llmkit.io_options
def check(
    io: llmkit.IOOptions,
    field: Annotated[str, typer.Option(help="Field holding the bytes.")] = "bytes",
    encoding: Annotated[str, typer.Option(help="How the field holds the bytes: hex, base64 or text.")] = "hex",
    max_errors: Annotated[int, typer.Option(min=0, help="Most error spans listed per record (error_count has them all).")] = 100,
    paper_scores: Annotated[
        bool, typer.Option(help="Also add the UTF-8 paper's V_binary_strict, V_binary_soft and V_partial, as its DFA defines them.")
    ] = False,
) -> None:
    """Add `utf8`: {valid, soft, partial, errors: [{offset, length, kind}], error_count}."""
    from llmkit_utf8.check import CheckStep

    llmkit.run_step(CheckStep(field, encoding, max_errors, paper_scores), io)


@app.command()
@llmkit.io_options
@llmkit.backend_options
@generate_options
def generate(io: llmkit.IOOptions, backend_options: llmkit.BackendOptions, settings: GenerateSettings) -> None:
    """Prompt with the first k bytes of a character (or term), generate greedily, score the bytes; adds `utf8_generate`."""
    from llmkit_utf8.generate import GenerateStep

    llmkit.run_step(GenerateStep(backend_options, settings), io)


@app.command("next-byte")
@llmkit.io_options
@llmkit.backend_options
def next_byte(
    io: llmkit.IOOptions,
    backend_options: llmkit.BackendOptions,
    field: Annotated[str, typer.Option(help="Field holding the text (a character or more) to cut inside characters.")] = "char",
    context_field: Annotated[str | None, typer.Option(help="Optional field holding a context put before the text.")] = None,
    top: Annotated[int, typer.Option(min=0, help="Most likely next tokens listed per position.")] = 5,
) -> None:
    """Probability the model puts on well-formed next tokens inside multi-byte characters (transformers, float32); adds `utf8_next_byte`."""
    from llmkit_utf8.nextbyte import NextByteStep

    llmkit.run_step(NextByteStep(backend_options, field, context_field, top), io)


@app.command("char-tiers")
@llmkit.whole_input_options
def char_tiers(
    io: llmkit.WholeInputOptions,
    field: Annotated[str, typer.Option(help="Corpus field holding the text.")] = "text",
    candidates: Annotated[
        list[str] | None, typer.Option(help="Characters to list as `unseen` when absent: U+4E00-U+9FFF, U+3042, or a text file; repeatable.")
    ] = None,
    common_ppm: Annotated[float, typer.Option(min=0, help="Occurrences per million characters for `common`.")] = 100.0,
    uncommon_ppm: Annotated[float, typer.Option(min=0, help="Occurrences per million characters for `uncommon` (below: `rare`).")] = 1.0,
    quantiles: Annotated[str | None, typer.Option(metavar="Q1,Q2", help="Cut by rank instead: the top Q1 share of distinct characters (by count) common, up to Q2 uncommon, the rest rare.")] = None,
    per_tier: Annotated[int | None, typer.Option(min=1, help="Keep a seeded random sample of at most this many characters per tier.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of --per-tier sampling.")] = 0,
) -> None:
    """Count characters of a JSONL corpus; write {char, codepoint, tier, count, ppm, byte_length} per character."""
    from llmkit_utf8.tiers import CharTiersStep, parse_candidates, parse_quantiles

    step = CharTiersStep(field, parse_candidates(candidates or []), common_ppm, uncommon_ppm, parse_quantiles(quantiles), per_tier, seed)
    llmkit.run_step(step, io)


@app.command()
@llmkit.whole_input_options
def summary(
    io: llmkit.WholeInputOptions,
    tier_field: Annotated[str, typer.Option(help="Field holding the tier (records without it are grouped as `none`).")] = "tier",
) -> None:
    """Validity of generate / next-byte outputs by tier, byte length, k and step: JSON rows on stdout, tables on stderr."""
    from llmkit_utf8.summary import SummaryStep

    step = SummaryStep(tier_field)
    llmkit.run_step(step, io)
    if not io.quiet:
        step.print_tables()
