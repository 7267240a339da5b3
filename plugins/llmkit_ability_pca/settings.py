"""The options of ability-pca, declared once: Typer reads them for --help, the command builds the
table and analysis options of the step from them (the parsing and checks live here)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated

import typer

import llmkit

_TABLE = "Score table"
_ANALYSIS = "Analysis"


class Missing(str, Enum):
    drop_models = "drop-models"
    drop_benchmarks = "drop-benchmarks"
    mean = "mean"


class Duplicates(str, Enum):
    error = "error"
    mean = "mean"
    last = "last"


class Rotation(str, Enum):
    none = "none"
    varimax = "varimax"


def parse_names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if len(set(names)) != len(names):
        raise llmkit.UsageError(f"a name is repeated in {text!r}")
    return names


def parse_where(pairs: list[str] | None) -> tuple[tuple[str, str], ...]:
    parsed = []
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise llmkit.UsageError(f"--where must look like FIELD=VALUE, got {pair!r}")
        parsed.append((name, value))
    return tuple(parsed)


@dataclass(frozen=True)
class TableSettings:
    benchmarks: Annotated[str | None, typer.Option(help="Comma-separated benchmarks to analyse, in this order (default: all seen).", rich_help_panel=_TABLE)] = None
    model_field: Annotated[str, typer.Option(help="Field naming the model.", rich_help_panel=_TABLE)] = "model"
    benchmark_field: Annotated[str, typer.Option(help="Long records: field naming the benchmark.", rich_help_panel=_TABLE)] = "benchmark"
    score_field: Annotated[str, typer.Option(help="Long records: field holding the score.", rich_help_panel=_TABLE)] = "score"
    scores_field: Annotated[str, typer.Option(help="Wide records: object field {benchmark: score}.", rich_help_panel=_TABLE)] = "scores"
    covariates: Annotated[str | None, typer.Option(help="Flat records: comma-separated numeric fields that are covariates, not benchmarks.", rich_help_panel=_TABLE)] = None
    where: Annotated[list[str] | None, typer.Option(metavar="FIELD=VALUE", help="Analyse only records whose FIELD equals VALUE (repeatable; others go to rejects as not_selected).", rich_help_panel=_TABLE)] = None
    label_field: Annotated[str | None, typer.Option(help="Per-model field used as the label in plots (default: 'name' if present, else the model).", rich_help_panel=_TABLE)] = None
    missing: Annotated[Missing, typer.Option(help="Missing scores: drop the models, drop the benchmarks, or fill with the benchmark mean.", rich_help_panel=_TABLE)] = Missing.drop_models
    duplicates: Annotated[Duplicates, typer.Option(help="Several scores for one model and benchmark: stop (exit 65), average them, or keep the last.", rich_help_panel=_TABLE)] = Duplicates.error

    def __post_init__(self) -> None:
        parse_names(self.benchmarks)
        parse_names(self.covariates)
        parse_where(self.where)


@dataclass(frozen=True)
class AnalysisSettings:
    standardize: Annotated[bool, typer.Option(help="Z-score each benchmark (correlation-matrix PCA); --no-standardize: covariance PCA.", rich_help_panel=_ANALYSIS)] = True
    spearman: Annotated[bool, typer.Option(help="Report Spearman rank correlations instead of Pearson (the PCA itself is unchanged).", rich_help_panel=_ANALYSIS)] = False
    components: Annotated[int | None, typer.Option(min=1, help="Components to keep (default: the fewest explaining 90% of the variance, at most 5).", rich_help_panel=_ANALYSIS)] = None
    rotation: Annotated[Rotation, typer.Option(help="Rotate the kept components' loadings (varimax, Kaiser-normalised).", rich_help_panel=_ANALYSIS)] = Rotation.none
    regress_on: Annotated[str | None, typer.Option(metavar="FIELD", help="Fit each component's model scores on this per-model field (e.g. compute).", rich_help_panel=_ANALYSIS)] = None
    log: Annotated[bool, typer.Option("--log", help="With --regress-on: use log10 of the field (non-positive values are left out).", rich_help_panel=_ANALYSIS)] = False
    plot: Annotated[str | None, typer.Option(metavar="DIR", help="Write PNG figures here: scree, loadings, biplot, correlation (and regression).", rich_help_panel=_ANALYSIS)] = None

    def __post_init__(self) -> None:
        if self.log and self.regress_on is None:
            raise llmkit.UsageError("--log needs --regress-on FIELD")
