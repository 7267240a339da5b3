"""The numpy PCA against scikit-learn, the sign convention, component choice and varimax."""

from __future__ import annotations

import numpy as np
import pytest

from llmkit_ability_pca.pca import choose_components, fit_pca, orientation_signs, rotate, varimax


def _factor_data(n: int = 40, p: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3))
    mixing = rng.normal(size=(3, p))
    return factors @ mixing + 0.3 * rng.normal(size=(n, p)) + rng.uniform(0, 50, size=p)


def _aligned(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """``theirs`` with each row's sign flipped to match ``ours`` (sklearn's sign is its own)."""
    signs = np.sign((ours * theirs).sum(axis=1))
    return theirs * signs[:, None]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("standardize", [True, False])
def test_matches_sklearn_pca(seed, standardize):
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    values = _factor_data(seed=seed)
    names = [f"b{j}" for j in range(values.shape[1])]
    ours = fit_pca(values, names, standardize)
    data = StandardScaler().fit_transform(values) if standardize else values
    reference = PCA().fit(data)
    m = len(ours.eigenvalues)
    np.testing.assert_allclose(ours.explained_variance, reference.explained_variance_[:m], rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio, reference.explained_variance_ratio_[:m], rtol=1e-10)
    components = _aligned(ours.components, reference.components_[:m])
    np.testing.assert_allclose(ours.components, components, atol=1e-10)
    signs = np.sign((ours.components * reference.components_[:m]).sum(axis=1))
    np.testing.assert_allclose(ours.scores, reference.transform(data)[:, :m] * signs, atol=1e-9)


def test_eigenvalues_are_those_of_the_correlation_matrix():
    values = _factor_data(seed=3)
    ours = fit_pca(values, [f"b{j}" for j in range(values.shape[1])])
    reference = np.sort(np.linalg.eigvalsh(np.corrcoef(values, rowvar=False)))[::-1]
    np.testing.assert_allclose(ours.eigenvalues, reference, atol=1e-10)
    assert ours.total_variance == pytest.approx(values.shape[1])
    # scaled loadings of standardised PCA are correlations of benchmark and component score
    corr = [np.corrcoef(values[:, 0], ours.scores[:, k])[0, 1] for k in range(3)]
    np.testing.assert_allclose(ours.scaled_loadings[0, :3], corr, atol=1e-10)


def test_fewer_models_than_benchmarks_gives_n_minus_1_components():
    values = _factor_data(n=5, p=9, seed=4)
    assert len(fit_pca(values, [f"b{j}" for j in range(9)]).eigenvalues) == 4


def test_sign_convention_largest_loading_is_positive():
    values = _factor_data(seed=5)
    ours = fit_pca(values, [f"b{j}" for j in range(values.shape[1])])
    for row in ours.components:
        assert row[np.argmax(np.abs(row))] > 0


def test_sign_ties_go_to_the_benchmark_whose_name_sorts_first():
    # two z-scored benchmarks: PC2 is (1, -1)/sqrt(2) up to sign, a tie broken by name
    rng = np.random.default_rng(6)
    values = rng.normal(size=(20, 2))
    for names in (["b", "a"], ["a", "b"]):
        ours = fit_pca(values, names)
        pc2 = dict(zip(names, ours.components[1]))
        assert abs(abs(pc2["a"]) - abs(pc2["b"])) < 1e-12
        assert pc2["a"] > 0 > pc2["b"]
    rows = np.array([[0.5, -0.5, 0.1]])
    assert orientation_signs(rows, ["z", "y", "x"])[0] == -1  # "y" sorts before "z"


@pytest.mark.parametrize("seed", [0, 1])
def test_signs_and_values_stable_under_row_and_column_shuffles(seed):
    values = _factor_data(seed=seed)
    names = [f"bench{j}" for j in range(values.shape[1])]
    base = fit_pca(values, names)
    base_rot = rotate(base, 3)
    rng = np.random.default_rng(100 + seed)
    for _ in range(5):
        rows, cols = rng.permutation(values.shape[0]), rng.permutation(values.shape[1])
        shuffled = fit_pca(values[np.ix_(rows, cols)], [names[j] for j in cols])
        np.testing.assert_allclose(shuffled.components, base.components[:, cols], atol=1e-9)
        np.testing.assert_allclose(shuffled.scores, base.scores[rows], atol=1e-9)
        rotated = rotate(shuffled, 3)
        np.testing.assert_allclose(rotated.loadings, base_rot.loadings[cols], atol=1e-7)
        np.testing.assert_allclose(rotated.scores, base_rot.scores[rows], atol=1e-7)


def test_choose_components():
    assert choose_components(np.array([0.5, 0.3, 0.15, 0.05]), None) == 3
    assert choose_components(np.array([0.95, 0.05]), None) == 1
    assert choose_components(np.array([0.5, 0.4, 0.1]), None) == 2  # exactly 90% is enough
    assert choose_components(np.full(10, 0.1), None) == 5  # capped at 5
    assert choose_components(np.full(10, 0.1), 7) == 7


def _varimax_criterion(loadings: np.ndarray) -> float:
    squared = loadings**2
    return float(((squared - squared.mean(axis=0)) ** 2).sum())


@pytest.mark.parametrize("normalize", [True, False])
def test_varimax_keeps_communalities_and_is_orthogonal(normalize):
    values = _factor_data(seed=7)
    result = fit_pca(values, [f"b{j}" for j in range(values.shape[1])])
    unrotated = result.scaled_loadings[:, :3]
    rotated, rotation = varimax(unrotated, normalize=normalize)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-10)
    np.testing.assert_allclose((rotated**2).sum(axis=1), (unrotated**2).sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(rotated, unrotated @ rotation, atol=1e-10)
    if not normalize:  # raw varimax maximises the raw criterion: no random rotation does better
        rng = np.random.default_rng(0)
        best = _varimax_criterion(rotated)
        for _ in range(200):
            q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            assert _varimax_criterion(unrotated @ q) <= best + 1e-9


def test_varimax_recovers_planted_simple_structure():
    # benchmarks 0-3 measure factor A only, 4-7 factor B only; PCA mixes them, varimax separates
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(2, 200))
    values = np.column_stack([a + 0.3 * rng.normal(size=200) for _ in range(4)]
                             + [b + 0.3 * rng.normal(size=200) for _ in range(4)])
    values[:, 4:] += 0.4 * values[:, :4].mean(axis=1, keepdims=True)  # correlated factors: PC1 mixes both
    result = fit_pca(values, [f"b{j}" for j in range(8)])
    rotation = rotate(result, 2)
    big = np.abs(rotation.loadings) > 0.6
    blocks = {tuple(big[:4].all(axis=0)), tuple(big[4:].all(axis=0))}
    assert blocks == {(True, False), (False, True)}
    assert (np.abs(rotation.loadings[:4, 1 if big[0, 0] else 0]) < 0.4).all()
    # rotated scores: unit sample variance, uncorrelated
    np.testing.assert_allclose(np.cov(rotation.scores, rowvar=False), np.eye(2), atol=1e-10)
    assert rotation.variance.sum() == pytest.approx(result.eigenvalues[:2].sum())
