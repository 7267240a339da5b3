"""Correlations and regressions against scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from llmkit_ability_pca.correlation import average_ranks, correlation_matrix, correlation_p_value
from llmkit_ability_pca.regress import collect_covariate, fit_line


def test_average_ranks_match_rankdata():
    column = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 0.5, 2.0])
    np.testing.assert_allclose(average_ranks(column), stats.rankdata(column))


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_matrix_and_p_values_match_scipy(method):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(15, 4))
    values[:, 1] += values[:, 0]
    values[:, 2] = np.round(values[:, 2], 0)  # ties, for the rank version
    corr = correlation_matrix(values, method)
    for a in range(4):
        for b in range(a + 1, 4):
            test = stats.pearsonr if method == "pearson" else stats.spearmanr
            r, p = test(values[:, a], values[:, b])
            assert corr[a, b] == pytest.approx(r, abs=1e-12)
            assert correlation_p_value(corr[a, b], 15) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_line_matches_linregress(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 3, size=12)
    y = 1.7 * x - 0.4 + rng.normal(size=12)
    ours = fit_line(x, y)
    ref = stats.linregress(x, y)
    assert ours["n"] == 12
    for key, expected in [("slope", ref.slope), ("intercept", ref.intercept), ("r", ref.rvalue),
                          ("p_value", ref.pvalue), ("stderr", ref.stderr),
                          ("intercept_stderr", ref.intercept_stderr)]:
        assert ours[key] == pytest.approx(expected, rel=1e-9), key
    assert ours["r2"] == pytest.approx(ref.rvalue**2)


def test_fit_line_undefined_cases_are_null():
    assert fit_line(np.array([1.0]), np.array([2.0]))["slope"] is None
    assert fit_line(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 3.0]))["slope"] is None
    two = fit_line(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    assert two["slope"] == pytest.approx(2.0) and two["p_value"] is None


def test_covariate_log10_and_exclusions():
    models = ["a", "b", "c", "d", "e", "f"]
    covariates = {"a": {"size": 10}, "b": {"size": 1000.0}, "c": {"size": 0}, "d": {"size": "7B"},
                  "e": {}, "f": {"size": True}}
    covariate = collect_covariate(models, covariates, "size", log10=True)
    np.testing.assert_allclose(covariate.x, [1.0, 3.0])
    assert covariate.kept.tolist() == [0, 1]
    assert set(covariate.excluded) == {"c", "d", "e", "f"}
    assert "not positive" in covariate.excluded["c"]
    plain = collect_covariate(models, covariates, "size", log10=False)
    assert plain.kept.tolist() == [0, 1, 2] and math.isclose(plain.x[1], 1000.0)
