"""Principal component analysis of a complete score matrix, written with numpy.

- Standardised PCA (the default) z-scores each benchmark with the population standard deviation
  (ddof=0, as scikit-learn's ``StandardScaler``) and so analyses the Pearson correlation matrix;
  ``standardize=False`` only centres and analyses the covariance matrix.
- The decomposition is the SVD of the centred (z-scored) matrix ``Z = U S V^T``. The component
  scores are ``Z V`` and ``explained_variance`` is ``S^2 / (n - 1)``, both exactly as
  ``sklearn.decomposition.PCA``; ``eigenvalue`` is the eigenvalue of the matrix analysed:
  ``S^2 / n`` for the correlation matrix (they sum to the number of benchmarks, for Kaiser's
  eigenvalue > 1 rule), ``S^2 / (n - 1)`` for the covariance matrix.
- Loadings: ``loadings`` are the unit eigenvectors (sklearn's ``components_``);
  ``scaled_loadings`` are ``eigenvector * sqrt(eigenvalue)``, which for standardised PCA is the
  correlation between a benchmark and the component.
- Sign convention: in each component, the benchmark with the largest absolute loading gets a
  positive loading; ties (equal within a relative 1e-9) go to the benchmark whose name sorts
  first. It depends only on the data, not on the order of rows or columns.
- Components kept by default: the fewest whose cumulative explained-variance ratio reaches 90%,
  at most 5.
- Varimax: Kaiser's criterion (gamma = 1) on the scaled loadings of the kept components, with
  Kaiser row normalisation; rotated components are reordered by the variance they explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANCE_TARGET = 0.90
MAX_DEFAULT_COMPONENTS = 5
_TIE = 1e-9


@dataclass
class PcaResult:
    benchmarks: list[str]
    standardized: bool
    mean: np.ndarray  # (p,)
    scale: np.ndarray  # (p,) population std, or ones when not standardised
    eigenvalues: np.ndarray  # (m,) of the correlation or covariance matrix analysed
    explained_variance: np.ndarray  # (m,) S^2 / (n - 1), as sklearn
    explained_variance_ratio: np.ndarray  # (m,)
    components: np.ndarray  # (m, p) unit eigenvectors, rows, sign convention applied
    scores: np.ndarray  # (n, m) Z @ components.T

    @property
    def scaled_loadings(self) -> np.ndarray:
        """(p, m): eigenvector * sqrt(eigenvalue)."""
        return self.components.T * np.sqrt(self.eigenvalues)

    @property
    def total_variance(self) -> float:
        return float(self.eigenvalues.sum())


def standardize(values: np.ndarray, scale: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred (and, with ``scale``, z-scored with ddof=0) matrix, the means and the scales."""
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=0) if scale else np.ones(values.shape[1])
    return (values - mean) / std, mean, std


def fit_pca(values: np.ndarray, benchmarks: list[str], standardize_columns: bool = True) -> PcaResult:
    """All ``min(n - 1, p)`` components of a complete (models x benchmarks) matrix."""
    n, p = values.shape
    z, mean, scale = standardize(values, standardize_columns)
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    m = min(n - 1, p)
    singular, vt = singular[:m], vt[:m]
    vt = vt * orientation_signs(vt, benchmarks)[:, None]
    squared = singular**2
    explained = squared / (n - 1)
    eigenvalues = squared / n if standardize_columns else explained
    return PcaResult(
        benchmarks=list(benchmarks),
        standardized=standardize_columns,
        mean=mean,
        scale=scale,
        eigenvalues=eigenvalues,
        explained_variance=explained,
        explained_variance_ratio=squared / squared.sum(),
        components=vt,
        scores=z @ vt.T,
    )


def orientation_signs(rows: np.ndarray, benchmarks: list[str]) -> np.ndarray:
    """+1/-1 per row of ``rows`` (components x benchmarks) that makes the documented
    reference loading positive: the largest |loading|, ties broken by benchmark name."""
    signs = np.ones(rows.shape[0])
    for k, row in enumerate(rows):
        size = np.abs(row)
        tied = np.flatnonzero(size >= size.max() * (1 - _TIE))
        reference = min(tied, key=lambda j: benchmarks[j])
        if row[reference] < 0:
            signs[k] = -1.0
    return signs


def choose_components(ratios: np.ndarray, requested: int | None) -> int:
    """``requested``, or the fewest components reaching 90% of the variance (at most 5)."""
    if requested is not None:
        return requested
    cumulative = np.cumsum(ratios)
    enough = int(np.searchsorted(cumulative, VARIANCE_TARGET - 1e-12)) + 1
    return max(1, min(enough, MAX_DEFAULT_COMPONENTS, len(ratios)))


@dataclass
class Rotation:
    loadings: np.ndarray  # (p, k) rotated scaled loadings
    rotation: np.ndarray  # (k, k) orthogonal: rotated = unrotated @ rotation
    variance: np.ndarray  # (k,) sum of squared rotated loadings per component
    scores: np.ndarray  # (n, k) whitened component scores @ rotation (unit sample variance)


def varimax(loadings: np.ndarray, normalize: bool = True, gamma: float = 1.0,
            max_iter: int = 1000, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Kaiser's varimax: the orthogonal ``R`` maximising the variance of squared loadings.

    Returns ``(loadings @ R, R)``. With ``normalize`` each row is divided by the square root of
    its communality before rotating and multiplied back after (Kaiser normalisation).
    """
    p, k = loadings.shape
    if k < 2:
        return loadings.copy(), np.eye(k)
    weights = np.sqrt((loadings**2).sum(axis=1)) if normalize else np.ones(p)
    weights = np.where(weights > 0, weights, 1.0)
    base = loadings / weights[:, None]
    rotation = np.eye(k)
    criterion = 0.0
    for _ in range(max_iter):
        rotated = base @ rotation
        target = rotated**3 - (gamma / p) * rotated * (rotated**2).sum(axis=0)
        u, s, vt = np.linalg.svd(base.T @ target)
        rotation = u @ vt
        previous, criterion = criterion, s.sum()
        if previous > 0 and criterion <= previous * (1 + tol):
            break
    return (base @ rotation) * weights[:, None], rotation


def rotate(result: PcaResult, k: int, normalize: bool = True) -> Rotation:
    """Varimax of the first ``k`` components: loadings, reordered and sign-fixed, and scores."""
    unrotated = result.scaled_loadings[:, :k]
    loadings, rotation = varimax(unrotated, normalize=normalize)
    variance = (loadings**2).sum(axis=0)
    order = np.argsort(-variance, kind="stable")
    loadings, rotation, variance = loadings[:, order], rotation[:, order], variance[order]
    signs = orientation_signs(loadings.T, result.benchmarks)
    loadings, rotation = loadings * signs, rotation * signs
    whitened = result.scores[:, :k] / np.sqrt(result.explained_variance[:k])
    return Rotation(loadings, rotation, variance, whitened @ rotation)
