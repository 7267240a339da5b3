"""What to do with missing cells and constant columns, and the report of what was done.

Policies (``--missing``):

- ``drop-models`` (default): keep only the models that have every benchmark;
- ``drop-benchmarks``: keep only the benchmarks that every model has;
- ``mean``: fill each missing cell with the mean of its benchmark over the models that have it
  (a benchmark no model has is dropped).

After that, a benchmark whose scores are all equal is dropped (its z-score would divide by zero),
and the analysis needs at least 3 models and 2 benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import llmkit
import numpy as np

from llmkit_ability_pca.table import ScoreMatrix

POLICIES = ("drop-models", "drop-benchmarks", "mean")
MIN_MODELS = 3
MIN_BENCHMARKS = 2


@dataclass
class MissingReport:
    policy: str
    missing_cells: int = 0
    dropped_models: dict[str, list[str]] = field(default_factory=dict)  # model -> its missing benchmarks
    dropped_benchmarks: dict[str, list[str]] = field(default_factory=dict)  # benchmark -> models missing it
    filled: list[dict[str, Any]] = field(default_factory=list)  # {model, benchmark, value}
    constant_benchmarks: dict[str, float] = field(default_factory=dict)  # benchmark -> its one value

    def warnings(self) -> list[str]:
        if not self.missing_cells:
            lines = [f"missing values ({self.policy}): none, nothing dropped or filled"]
        else:
            lines = [f"missing values ({self.policy}): {self.missing_cells} missing cell(s)"]
        if self.dropped_models:
            lines.append(f"dropped {len(self.dropped_models)} model(s) with missing scores: "
                         + ", ".join(self.dropped_models))
        if self.dropped_benchmarks:
            lines.append(f"dropped {len(self.dropped_benchmarks)} benchmark(s) with missing scores: "
                         + ", ".join(self.dropped_benchmarks))
        if self.filled:
            lines.append(f"filled {len(self.filled)} missing cell(s) with the benchmark mean")
        if self.constant_benchmarks:
            lines.append("dropped constant benchmark(s) (zero variance): " + ", ".join(self.constant_benchmarks))
        return lines

    def as_record(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "missing_cells": self.missing_cells,
            "dropped_models": self.dropped_models,
            "dropped_benchmarks": self.dropped_benchmarks,
            "filled": self.filled,
            "constant_benchmarks": self.constant_benchmarks,
        }


def apply_missing_policy(matrix: ScoreMatrix, policy: str) -> tuple[ScoreMatrix, MissingReport]:
    """The complete matrix the analysis runs on, and what was dropped or filled to get it."""
    report = MissingReport(policy)
    missing = np.isnan(matrix.values)
    report.missing_cells = int(missing.sum())
    rows, cols = list(range(len(matrix.models))), list(range(len(matrix.benchmarks)))
    if policy == "drop-models":
        rows = [i for i in rows if not missing[i].any()]
        for i in sorted(set(range(len(matrix.models))) - set(rows)):
            report.dropped_models[matrix.models[i]] = [matrix.benchmarks[j] for j in np.flatnonzero(missing[i])]
    elif policy == "drop-benchmarks":
        cols = [j for j in cols if not missing[:, j].any()]
        _report_dropped_columns(matrix, missing, set(range(len(matrix.benchmarks))) - set(cols), report)
    elif policy == "mean":
        empty = {j for j in cols if missing[:, j].all()}
        _report_dropped_columns(matrix, missing, empty, report)
        cols = [j for j in cols if j not in empty]
    else:
        raise llmkit.UsageError(f"--missing must be one of {', '.join(POLICIES)}, got {policy!r}")
    result = matrix.subset(rows, cols)
    if policy == "mean":
        _fill_with_means(result, report)
    result = _drop_constant(result, report)
    _check_size(result, report)
    return result, report


def _report_dropped_columns(matrix: ScoreMatrix, missing: np.ndarray, dropped: set[int], report: MissingReport) -> None:
    for j in sorted(dropped):
        report.dropped_benchmarks[matrix.benchmarks[j]] = [matrix.models[i] for i in np.flatnonzero(missing[:, j])]


def _fill_with_means(matrix: ScoreMatrix, report: MissingReport) -> None:
    values = matrix.values
    means = np.nanmean(values, axis=0)
    for i, j in zip(*np.nonzero(np.isnan(values))):
        values[i, j] = means[j]
        report.filled.append({"model": matrix.models[i], "benchmark": matrix.benchmarks[j], "value": float(means[j])})


def _drop_constant(matrix: ScoreMatrix, report: MissingReport) -> ScoreMatrix:
    if not matrix.models:
        return matrix
    spread = np.ptp(matrix.values, axis=0)
    keep = [j for j in range(len(matrix.benchmarks)) if spread[j] > 0]
    for j in range(len(matrix.benchmarks)):
        if spread[j] == 0:
            report.constant_benchmarks[matrix.benchmarks[j]] = float(matrix.values[0, j])
    return matrix.subset(list(range(len(matrix.models))), keep)


def _check_size(matrix: ScoreMatrix, report: MissingReport) -> None:
    n_models, n_benchmarks = matrix.values.shape
    if n_models >= MIN_MODELS and n_benchmarks >= MIN_BENCHMARKS:
        return
    what = "; ".join(report.warnings())
    raise llmkit.InputError(
        f"the analysis needs at least {MIN_MODELS} models and {MIN_BENCHMARKS} benchmarks with scores, "
        f"but {n_models} model(s) x {n_benchmarks} benchmark(s) remain after the missing-value policy ({what})"
    )
