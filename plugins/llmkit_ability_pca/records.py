"""The analysis as JSONL output records, each with a ``type``: notes, component, model,
correlation, regression. Numbers are plain floats; anything undefined is ``null``, never NaN."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from llmkit_ability_pca.analysis import Analysis
from llmkit_ability_pca.missing import MissingReport


def number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _by_name(names: list[str], values: np.ndarray) -> dict[str, float | None]:
    return {name: number(v) for name, v in zip(names, values)}


def notes_record(analysis: Analysis, report: MissingReport, extra: dict[str, Any]) -> dict[str, Any]:
    options, pca = analysis.options, analysis.pca
    return {
        "type": "notes",
        "models": len(analysis.matrix.models),
        "benchmarks": list(analysis.matrix.benchmarks),
        "standardize": options.standardize,
        "z_score_ddof": 0 if options.standardize else None,
        "correlation": options.correlation,
        "components": analysis.k,
        "components_rule": "--components" if options.components is not None else "fewest reaching 90% of the variance, at most 5",
        "rotation": options.rotation,
        "kaiser_normalize": options.kaiser_normalize if analysis.rotation is not None else None,
        "total_variance": number(pca.total_variance),
        "spectrum": [number(v) for v in pca.explained_variance_ratio],
        "missing": report.as_record(),
        **extra,
    }


def component_records(analysis: Analysis) -> Iterator[dict[str, Any]]:
    pca, benchmarks = analysis.pca, analysis.matrix.benchmarks
    cumulative = np.cumsum(pca.explained_variance_ratio)
    scaled = pca.scaled_loadings
    for k, name in enumerate(analysis.component_names):
        yield {
            "type": "component",
            "component": name,
            "index": k + 1,
            "rotation": None,
            "eigenvalue": number(pca.eigenvalues[k]),
            "explained_variance": number(pca.explained_variance[k]),
            "explained_variance_ratio": number(pca.explained_variance_ratio[k]),
            "cumulative_variance_ratio": number(cumulative[k]),
            "loadings": _by_name(benchmarks, pca.components[k]),
            "scaled_loadings": _by_name(benchmarks, scaled[:, k]),
        }
    rotation = analysis.rotation
    if rotation is None:
        return
    ratios = rotation.variance / pca.total_variance
    for k, name in enumerate(analysis.rotated_names):
        yield {
            "type": "component",
            "component": name,
            "index": k + 1,
            "rotation": analysis.options.rotation,
            "variance": number(rotation.variance[k]),
            "explained_variance_ratio": number(ratios[k]),
            "cumulative_variance_ratio": number(ratios[: k + 1].sum()),
            "scaled_loadings": _by_name(benchmarks, rotation.loadings[:, k]),
        }


def model_records(analysis: Analysis, labels: list[str], report: MissingReport) -> Iterator[dict[str, Any]]:
    filled: dict[str, list[str]] = {}
    for cell in report.filled:
        filled.setdefault(cell["model"], []).append(cell["benchmark"])
    matrix = analysis.matrix
    for i, model in enumerate(matrix.models):
        record: dict[str, Any] = {"type": "model", "model": model, "label": labels[i],
                                  "scores": _by_name(analysis.component_names, analysis.pca.scores[i, : analysis.k])}
        if analysis.rotation is not None:
            record["rotated_scores"] = _by_name(analysis.rotated_names, analysis.rotation.scores[i])
        if model in filled:
            record["filled"] = filled[model]
        record["covariates"] = matrix.covariates.get(model, {})
        yield record


def correlation_records(analysis: Analysis) -> Iterator[dict[str, Any]]:
    benchmarks, corr = analysis.matrix.benchmarks, analysis.correlation
    for a in range(len(benchmarks)):
        for b in range(a + 1, len(benchmarks)):
            r = float(corr[a, b])
            yield {"type": "correlation", "method": analysis.options.correlation, "a": benchmarks[a],
                   "b": benchmarks[b], "r": number(r), "p_value": number(analysis.correlation_p(r)),
                   "n": analysis.correlation_n}


def regression_records(analysis: Analysis) -> Iterator[dict[str, Any]]:
    covariate = analysis.covariate
    if covariate is None:
        return
    for regression in analysis.regressions:
        yield {
            "type": "regression",
            "component": regression.component,
            "x": covariate.name,
            "log10": covariate.log10,
            **{key: number(value) if key != "n" else value for key, value in regression.fit.items()},
            "excluded": covariate.excluded,
        }
