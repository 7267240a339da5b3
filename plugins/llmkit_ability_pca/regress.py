"""Least-squares fit of each component's model scores on a per-model covariate.

``y = slope * x + intercept`` with ``x`` the covariate (``log10`` of it with ``--log``), the
same quantities as ``scipy.stats.linregress``: slope, intercept, r, r^2, the two-sided p-value of
the slope (t test, n - 2 degrees of freedom) and the standard errors of slope and intercept.
Models whose covariate is missing or not a number, or not positive under ``--log``, are left out
of the fit and listed in ``excluded``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmkit_ability_pca.correlation import correlation_p_value


@dataclass
class Covariate:
    name: str
    log10: bool
    x: np.ndarray  # values of the models kept, transformed
    kept: np.ndarray  # indices of those models in the matrix
    excluded: dict[str, str] = field(default_factory=dict)  # model -> why


def collect_covariate(models: list[str], covariates: dict[str, dict[str, Any]], name: str, log10: bool) -> Covariate:
    values, kept, excluded = [], [], {}
    for i, model in enumerate(models):
        raw = covariates.get(model, {}).get(name)
        if raw is None:
            excluded[model] = "missing"
        elif isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            excluded[model] = f"not a number: {raw!r}"
        elif log10 and raw <= 0:
            excluded[model] = f"not positive under --log: {raw!r}"
        else:
            values.append(math.log10(raw) if log10 else float(raw))
            kept.append(i)
    return Covariate(name, log10, np.array(values), np.array(kept, dtype=int), excluded)


def fit_line(x: np.ndarray, y: np.ndarray) -> dict[str, float | int | None]:
    """linregress's quantities; None where undefined (n < 3 or a constant x)."""
    n = len(x)
    empty: dict[str, float | int | None] = {"n": n, "slope": None, "intercept": None, "r": None, "r2": None, "p_value": None,
             "stderr": None, "intercept_stderr": None}
    if n < 2:
        return empty
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy, sxy = float(dx @ dx), float(dy @ dy), float(dx @ dy)
    if sxx == 0:
        return empty
    slope = sxy / sxx
    intercept = float(y.mean() - slope * x.mean())
    r = sxy / math.sqrt(sxx * syy) if syy > 0 else 0.0
    r = max(-1.0, min(1.0, r))
    result = {**empty, "slope": slope, "intercept": intercept, "r": r, "r2": r * r}
    if n > 2:
        stderr = math.sqrt(max(0.0, (1 - r * r) * syy / sxx / (n - 2)))
        result["stderr"] = stderr
        result["intercept_stderr"] = stderr * math.sqrt(float(x @ x) / n)
        result["p_value"] = correlation_p_value(r, n)
    return result
