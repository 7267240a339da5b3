"""``llmkit ability-pca``: ability factors of LLMs from a table of benchmark scores.

Modules: ``table`` (records to a model x benchmark matrix), ``missing`` (missing-value policy,
constant columns), ``pca`` (z-scores, SVD, components, sign convention, varimax),
``correlation``, ``regress``, ``analysis`` (all of it on one matrix), ``records`` (JSONL output),
``report`` (rich tables on stderr), ``plots`` (matplotlib figures), ``step`` (the aggregate step).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import llmkit
import typer

app = typer.Typer(help="Ability factors of LLMs from benchmark scores: correlations, PCA, varimax, scaling with compute, plots.")

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


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if len(set(names)) != len(names):
        raise llmkit.UsageError(f"a name is repeated in {text!r}")
    return names


def _where(pairs: list[str] | None) -> tuple[tuple[str, str], ...]:
    parsed = []
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise llmkit.UsageError(f"--where must look like FIELD=VALUE, got {pair!r}")
        parsed.append((name, value))
    return tuple(parsed)


@app.command()
@llmkit.whole_input_options
def ability_pca(
    io: llmkit.WholeInputOptions,
    benchmarks: Annotated[str | None, typer.Option(help="Comma-separated benchmarks to analyse, in this order (default: all seen).", rich_help_panel=_TABLE)] = None,
    model_field: Annotated[str, typer.Option(help="Field naming the model.", rich_help_panel=_TABLE)] = "model",
    benchmark_field: Annotated[str, typer.Option(help="Long records: field naming the benchmark.", rich_help_panel=_TABLE)] = "benchmark",
    score_field: Annotated[str, typer.Option(help="Long records: field holding the score.", rich_help_panel=_TABLE)] = "score",
    scores_field: Annotated[str, typer.Option(help="Wide records: object field {benchmark: score}.", rich_help_panel=_TABLE)] = "scores",
    covariates: Annotated[str | None, typer.Option(help="Flat records: comma-separated numeric fields that are covariates, not benchmarks.", rich_help_panel=_TABLE)] = None,
    where: Annotated[list[str] | None, typer.Option(metavar="FIELD=VALUE", help="Analyse only records whose FIELD equals VALUE (repeatable; others go to rejects as not_selected).", rich_help_panel=_TABLE)] = None,
    label_field: Annotated[str | None, typer.Option(help="Per-model field used as the label in plots (default: 'name' if present, else the model).", rich_help_panel=_TABLE)] = None,
    missing: Annotated[Missing, typer.Option(help="Missing scores: drop the models, drop the benchmarks, or fill with the benchmark mean.", rich_help_panel=_TABLE)] = Missing.drop_models,
    duplicates: Annotated[Duplicates, typer.Option(help="Several scores for one model and benchmark: stop (exit 65), average them, or keep the last.", rich_help_panel=_TABLE)] = Duplicates.error,
    standardize: Annotated[bool, typer.Option(help="Z-score each benchmark (correlation-matrix PCA); --no-standardize: covariance PCA.", rich_help_panel=_ANALYSIS)] = True,
    spearman: Annotated[bool, typer.Option(help="Report Spearman rank correlations instead of Pearson (the PCA itself is unchanged).", rich_help_panel=_ANALYSIS)] = False,
    components: Annotated[int | None, typer.Option(min=1, help="Components to keep (default: the fewest explaining 90% of the variance, at most 5).", rich_help_panel=_ANALYSIS)] = None,
    rotation: Annotated[Rotation, typer.Option(help="Rotate the kept components' loadings (varimax, Kaiser-normalised).", rich_help_panel=_ANALYSIS)] = Rotation.none,
    regress_on: Annotated[str | None, typer.Option(metavar="FIELD", help="Fit each component's model scores on this per-model field (e.g. compute).", rich_help_panel=_ANALYSIS)] = None,
    log: Annotated[bool, typer.Option("--log", help="With --regress-on: use log10 of the field (non-positive values are left out).", rich_help_panel=_ANALYSIS)] = False,
    plot: Annotated[str | None, typer.Option(metavar="DIR", help="Write PNG figures here: scree, loadings, biplot, correlation (and regression).", rich_help_panel=_ANALYSIS)] = None,
) -> None:
    """PCA of a model x benchmark score table: components, factor scores, correlations, regressions.

    Input: long records {model, benchmark, score}, wide records {model, scores: {...}} or flat
    records with numeric benchmark fields; other fields are per-model covariates. Output: JSONL
    records typed notes, component, model, correlation, regression; tables on stderr.
    """
    # numpy and the analysis load here, not with the plugin: `llmkit --help` stays light
    from llmkit_ability_pca.analysis import AnalysisOptions
    from llmkit_ability_pca.step import AbilityPcaStep
    from llmkit_ability_pca.table import TableOptions

    if log and regress_on is None:
        raise llmkit.UsageError("--log needs --regress-on FIELD")
    table = TableOptions(
        model_field=model_field,
        benchmark_field=benchmark_field,
        score_field=score_field,
        scores_field=scores_field,
        benchmarks=_names(benchmarks),
        covariates=(_names(covariates) or ()) + ((regress_on,) if regress_on else ()),
        duplicates=duplicates.value,
        where=_where(where),
    )
    analysis = AnalysisOptions(
        standardize=standardize,
        correlation="spearman" if spearman else "pearson",
        components=components,
        rotation=rotation.value,
        regress_on=regress_on,
        log10=log,
    )
    step = AbilityPcaStep(table, analysis, missing=missing.value, plot_dir=plot, label_field=label_field,
                          tables=not io.quiet)
    llmkit.run_step(step, io)
