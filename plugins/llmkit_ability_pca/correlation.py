"""Correlations between benchmarks (Pearson, or Spearman = Pearson on average ranks) and the
two-sided p-value of a correlation coefficient from Student's t with n - 2 degrees of freedom
(the same test as ``scipy.stats.pearsonr``/``linregress``; ``spearmanr`` uses it too)."""

from __future__ import annotations

import math

import numpy as np


def average_ranks(column: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of the ranks they span (as ``scipy.stats.rankdata``)."""
    order = np.argsort(column, kind="stable")
    ordered = column[order]
    ranks = np.empty(len(column))
    start = 0
    while start < len(column):
        end = start
        while end + 1 < len(column) and ordered[end + 1] == ordered[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def correlation_matrix(values: np.ndarray, method: str = "pearson") -> np.ndarray:
    """(p, p) correlation of the columns of a complete matrix."""
    if method == "spearman":
        values = np.column_stack([average_ranks(values[:, j]) for j in range(values.shape[1])])
    centred = values - values.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    corr = (centred.T @ centred) / np.outer(norms, norms)
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def correlation_p_value(r: float, n: int) -> float | None:
    """Two-sided p of H0: rho = 0; None when n < 3 or scipy (the ``analysis`` extra) is absent."""
    df = n - 2
    if df < 1 or not math.isfinite(r):
        return None
    try:
        from scipy.special import stdtr
    except ImportError:
        return None
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt(df / ((1.0 - r) * (1.0 + r)))
    return float(2.0 * stdtr(df, -abs(t)))
