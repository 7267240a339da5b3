"""The aggregating step: collect score records, then analyse them all in ``finish()``."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import llmkit
from rich.console import Console

from llmkit_ability_pca.analysis import Analysis, AnalysisOptions, analyse
from llmkit_ability_pca.dropped import late_rejects
from llmkit_ability_pca.missing import apply_missing_policy
from llmkit_ability_pca.records import (
    component_records,
    correlation_records,
    model_records,
    notes_record,
    regression_records,
)
from llmkit_ability_pca.report import print_tables, warn
from llmkit_ability_pca.table import ScoreCollector, ScoreMatrix, TableOptions


class AbilityPcaStep(llmkit.Step):
    name = "ability-pca"
    batch_size = 1024
    aggregate = True

    def __init__(self, table: TableOptions, analysis: AnalysisOptions, missing: str = "drop-models",
                 plot_dir: llmkit.SideOutput | None = None, label_field: str | None = None, tables: bool = True,
                 console: Console | None = None) -> None:
        self.collector = ScoreCollector(table)
        self.analysis_options = analysis
        self.missing = missing
        self.plot_dir = plot_dir
        self.label_field = label_field
        self.tables = tables
        self.console = console or Console(stderr=True)
        self.warnings: list[str] = []

    def process(self, records: list[dict[str, Any]]) -> list[llmkit.Outcome]:
        return [self.collector.add(record, llmkit.source_of(record)) for record in records]

    def finish(self) -> Iterator[dict[str, Any] | llmkit.LateReject]:
        matrix = self.collector.matrix()
        self._warn_about_input(matrix)
        clean, report = apply_missing_policy(matrix, self.missing)
        for line in report.warnings():
            self._warn(line)
        analysis = analyse(clean, self.analysis_options)
        self._warn_about_analysis(analysis)
        labels = self._labels(clean)
        plots = self._plots(analysis, labels)
        if self.tables:
            print_tables(self.console, analysis)
        extra = {
            "covariate_conflicts": self.collector.covariate_conflicts,
            "plots": plots,
            "warnings": self.warnings,
        }
        yield notes_record(analysis, report, extra)
        yield from component_records(analysis)
        yield from model_records(analysis, labels, report)
        yield from correlation_records(analysis)
        yield from regression_records(analysis)
        # only now is it known which records none of whose scores was analysed: to --rejects
        yield from late_rejects(self.collector, clean, report)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warn(self.console, message)

    def _warn_about_input(self, matrix: ScoreMatrix) -> None:
        flat = self.collector.flat_fields
        if flat:
            self._warn("flat records: using the numeric field(s) " + ", ".join(flat)
                       + " as benchmarks (choose with --benchmarks, exclude with --covariates)")
        for name, models in self.collector.covariate_conflicts.items():
            self._warn(f"field {name!r} has different values across records of {len(models)} model(s) "
                       f"({', '.join(models[:5])}{', ...' if len(models) > 5 else ''}); the first value is kept")

    def _warn_about_analysis(self, analysis: Analysis) -> None:
        options = analysis.options
        if importlib.util.find_spec("scipy") is None:
            self._warn("p-values need scipy (pip install 'llmkit[analysis]'); they are null in this run")
        if analysis.rotation is not None and analysis.k < 2:
            self._warn("varimax with one component changes nothing (use --components 2 or more)")
        covariate = analysis.covariate
        if covariate is None:
            return
        if covariate.excluded:
            listed = ", ".join(f"{model} ({why})" for model, why in covariate.excluded.items())
            self._warn(f"--regress-on {options.regress_on}: left out {len(covariate.excluded)} model(s): {listed}")
        if len(covariate.kept) < 3:
            self._warn(f"--regress-on {options.regress_on}: only {len(covariate.kept)} model(s) have a usable "
                       "value; a fit needs at least 3 for a p-value")

    def _labels(self, matrix: ScoreMatrix) -> list[str]:
        labels = []
        for model in matrix.models:
            covariates = matrix.covariates.get(model, {})
            field = self.label_field if self.label_field is not None else "name"
            value = covariates.get(field)
            labels.append(str(value) if value not in (None, "") else model)
        return labels

    def _plots(self, analysis: Analysis, labels: list[str]) -> list[str]:
        if self.plot_dir is None:
            return []
        from llmkit_ability_pca.plots import draw_all

        written = draw_all(analysis, labels, self.plot_dir)
        self.console.print(f"ability-pca: wrote {len(written)} figure(s) to {self.plot_dir}", highlight=False)
        return written

