"""``llmkit ability-pca``: ability factors of LLMs from a table of benchmark scores.

Modules: ``table`` (records to a model x benchmark matrix), ``missing`` (missing-value policy,
constant columns), ``pca`` (z-scores, SVD, components, sign convention, varimax),
``correlation``, ``regress``, ``analysis`` (all of it on one matrix), ``records`` (JSONL output),
``report`` (rich tables on stderr), ``plots`` (matplotlib figures), ``step`` (the aggregate step).
"""

from __future__ import annotations

import llmkit
import typer

from llmkit_ability_pca.settings import AnalysisSettings, TableSettings, parse_names, parse_where

app = typer.Typer(help="Ability factors of LLMs from benchmark scores: correlations, PCA, varimax, scaling with compute, plots.")

table_options = llmkit.option_set(TableSettings)
analysis_options = llmkit.option_set(AnalysisSettings)


@app.command()
@llmkit.whole_input_options
@analysis_options
@table_options
def ability_pca(io: llmkit.WholeInputOptions, table: TableSettings, analysis: AnalysisSettings) -> None:
    """PCA of a model x benchmark score table: components, factor scores, correlations, regressions.

    Input: long records {model, benchmark, score}, wide records {model, scores: {...}} or flat
    records with numeric benchmark fields; other fields are per-model covariates. Output: JSONL
    records typed notes, component, model, correlation, regression; tables on stderr.
    """
    # numpy and the analysis load here, not with the plugin: `llmkit --help` stays light
    from llmkit_ability_pca.analysis import AnalysisOptions
    from llmkit_ability_pca.step import AbilityPcaStep
    from llmkit_ability_pca.table import TableOptions

    regress_on = analysis.regress_on
    table_spec = TableOptions(
        model_field=table.model_field,
        benchmark_field=table.benchmark_field,
        score_field=table.score_field,
        scores_field=table.scores_field,
        benchmarks=parse_names(table.benchmarks),
        covariates=(parse_names(table.covariates) or ()) + ((regress_on,) if regress_on else ()),
        duplicates=table.duplicates.value,
        where=parse_where(table.where),
    )
    analysis_spec = AnalysisOptions(
        standardize=analysis.standardize,
        correlation="spearman" if analysis.spearman else "pearson",
        components=analysis.components,
        rotation=analysis.rotation.value,
        regress_on=regress_on,
        log10=analysis.log,
    )
    if analysis.plot is not None:
        llmkit.require("matplotlib", "plot", "--plot")  # now, not after the analysis
    with llmkit.SideOutputs(io) as side:  # --plot: never an input, locked, figures written whole
        step = AbilityPcaStep(table_spec, analysis_spec, missing=table.missing.value,
                              plot_dir=side.folder("--plot", analysis.plot, new=False),
                              label_field=table.label_field, tables=not io.quiet)
        llmkit.run_step(step, io)
