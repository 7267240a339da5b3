"""The whole analysis of one complete score matrix: PCA, optional varimax, correlations and
regressions on a covariate. Pure numpy (scipy only for p-values); no output formatting here."""

from __future__ import annotations

from dataclasses import dataclass, field

import llmkit
import numpy as np

from llmkit_ability_pca.correlation import correlation_matrix, correlation_p_value
from llmkit_ability_pca.pca import PcaResult, Rotation, choose_components, fit_pca, rotate
from llmkit_ability_pca.regress import Covariate, collect_covariate, fit_line
from llmkit_ability_pca.table import ScoreMatrix

ROTATIONS = ("none", "varimax")


@dataclass(frozen=True)
class AnalysisOptions:
    standardize: bool = True
    correlation: str = "pearson"  # pearson | spearman
    components: int | None = None  # None = fewest reaching 90% (at most 5)
    rotation: str = "none"  # none | varimax
    kaiser_normalize: bool = True
    regress_on: str | None = None
    log10: bool = False


@dataclass
class Regression:
    component: str
    fit: dict[str, float | int | None]


@dataclass
class Analysis:
    matrix: ScoreMatrix
    options: AnalysisOptions
    pca: PcaResult
    k: int
    correlation: np.ndarray  # (p, p)
    correlation_n: int
    rotation: Rotation | None = None
    covariate: Covariate | None = None
    regressions: list[Regression] = field(default_factory=list)

    @property
    def component_names(self) -> list[str]:
        return [f"PC{i + 1}" for i in range(self.k)]

    @property
    def rotated_names(self) -> list[str]:
        return [f"RC{i + 1}" for i in range(self.k)] if self.rotation is not None else []

    def correlation_p(self, r: float) -> float | None:
        return correlation_p_value(r, self.correlation_n)


def analyse(matrix: ScoreMatrix, options: AnalysisOptions) -> Analysis:
    """Run the analysis the options ask for on a complete matrix (no NaN, no constant column)."""
    result = fit_pca(matrix.values, matrix.benchmarks, options.standardize)
    available = len(result.eigenvalues)
    if options.components is not None and options.components > available:
        raise llmkit.UsageError(
            f"--components {options.components}: this table has only {available} component(s) "
            f"(min(models - 1, benchmarks) = min({len(matrix.models) - 1}, {len(matrix.benchmarks)}))"
        )
    k = choose_components(result.explained_variance_ratio, options.components)
    analysis = Analysis(
        matrix=matrix,
        options=options,
        pca=result,
        k=k,
        correlation=correlation_matrix(matrix.values, options.correlation),
        correlation_n=len(matrix.models),
    )
    if options.rotation == "varimax":
        analysis.rotation = rotate(result, k, normalize=options.kaiser_normalize)
    if options.regress_on is not None:
        _regress(analysis)
    return analysis


def _regress(analysis: Analysis) -> None:
    options = analysis.options
    assert options.regress_on is not None  # the caller checks
    covariate = collect_covariate(analysis.matrix.models, analysis.matrix.covariates, options.regress_on, options.log10)
    analysis.covariate = covariate
    blocks = [(analysis.component_names, analysis.pca.scores[:, : analysis.k])]
    if analysis.rotation is not None:
        blocks.append((analysis.rotated_names, analysis.rotation.scores))
    for names, scores in blocks:
        for j, name in enumerate(names):
            y = scores[covariate.kept, j]
            analysis.regressions.append(Regression(name, fit_line(covariate.x, y)))
