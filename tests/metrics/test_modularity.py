"""Modularity (closed forms on hand-made MI matrices, ground-truth codes) and Explicitness."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from drl_jax.metrics._modularity import modularity, modularity_from_mi

N_TRAIN, N_TEST = 1500, 500


def split(codes_of, sizes, seed: int = 0, n_train: int = N_TRAIN):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, n_train + N_TEST) for s in sizes], axis=1)
    codes = codes_of(factors, rng)
    return codes[:n_train], factors[:n_train], codes[n_train:], factors[n_train:]


def shuffle_each_row(factors, rng):
    """Each sample's FoV values permuted at random over the dimensions."""
    order = np.argsort(rng.uniform(size=factors.shape), axis=1)
    return np.take_along_axis(factors, order, axis=1).astype(float)


def test_modularity_from_hand_made_mi():
    diagonal = np.diag(np.full(5, 5.0))
    np.testing.assert_allclose(modularity_from_mi(diagonal), 1.0)
    # A code with no information scores 0 and counts in the mean (dlib): 2/3.
    np.testing.assert_allclose(
        modularity_from_mi([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]).mean(), 2 / 3
    )
    np.testing.assert_allclose(modularity_from_mi(np.zeros((10, 10))), 0.0)
    np.testing.assert_allclose(modularity_from_mi(np.vstack([diagonal, diagonal])), 1.0)
    # One code for two of 10 FoVs: delta = 5^2 / (5^2 (10 - 1)) = 1/9.
    np.testing.assert_allclose(modularity_from_mi(np.hstack([diagonal, diagonal])), 1 - 1 / 9)
    # Equal MI with every FoV: delta = (F - 1) m^2 / (m^2 (F - 1)) = 1.
    np.testing.assert_allclose(modularity_from_mi(np.full((3, 4), 0.7)), 0.0, atol=1e-12)


def identity(factors, rng):
    return factors + 0.05 * rng.normal(size=factors.shape)


def test_modularity_of_ground_truth_codes():
    sizes = (2, 3, 4, 5)
    codes, factors, codes_test, factors_test = split(identity, sizes)
    # Each code's MI with the other FoVs is plug-in bias only (~0.01 nats against >= ln 2).
    result = modularity(codes, factors, codes_test, factors_test)
    assert result["modularity"] >= 0.99
    # Permuting the dimensions permutes the per-code values: the mean is unchanged.
    order = [2, 0, 3, 1]
    permuted = modularity(codes[:, order], factors, codes_test[:, order], factors_test)
    np.testing.assert_allclose(permuted["modularity"], result["modularity"], rtol=1e-12)
    np.testing.assert_allclose(
        permuted["modularity_per_code"], np.asarray(result["modularity_per_code"])[order]
    )
    duplicated = modularity(
        np.hstack([codes, codes]), factors, np.hstack([codes_test] * 2), factors_test
    )
    assert duplicated["modularity"] >= 0.99
    zeros = modularity(codes * 0, factors, codes_test * 0, factors_test)
    assert zeros["modularity"] == 0.0
    # dlib's bad case: each sample's FoV values permuted over the dims. With equal FoV
    # sizes every code carries the same MI about every FoV, so delta -> 1; what is left is
    # the sampling noise of the MIs (1 - modularity ~ 0.8 at 1,500 samples, so 6,000).
    shuffled = split(shuffle_each_row, (5,) * 4, n_train=6000)
    assert modularity(*shuffled)["modularity"] <= 0.2


def test_explicitness_of_ground_truth_codes():
    sizes = (2, 3, 4, 5)
    result = modularity(*split(identity, sizes))
    # The own dimension ranks the end classes perfectly and the middle ones nearly so.
    assert result["explicitness_test"] >= 0.95
    noise = modularity(*split(lambda f, rng: rng.normal(size=f.shape), sizes))
    # AUC of an uninformative score: 0.5 +- 0.03 per class with 500 test samples.
    assert 0.45 <= noise["explicitness_test"] <= 0.55
    assert modularity(*split(lambda f, rng: np.zeros(f.shape), sizes))["explicitness_test"] == 0.5


def test_explicitness_matches_one_vs_rest_logistic_regressions():
    codes, factors, codes_test, factors_test = split(
        lambda f, rng: f @ rng.normal(size=(2, 3)) + rng.normal(size=(len(f), 3)), (4, 3)
    )
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    train, test = (codes - mean) / std, (codes_test - mean) / std
    expected = []
    for j in range(2):
        classes = np.unique(factors[:, j])
        scores = np.stack(
            [
                LogisticRegression(solver="liblinear", random_state=0)
                .fit(train, factors[:, j] == c)
                .decision_function(test)
                for c in classes
            ],
            axis=1,
        )
        probabilities = expit(scores) / expit(scores).sum(axis=1, keepdims=True)
        expected.append(
            np.mean(
                [
                    roc_auc_score(factors_test[:, j] == c, probabilities[:, k])
                    for k, c in enumerate(classes)
                ]
            )
        )
    result = modularity(codes, factors, codes_test, factors_test)
    np.testing.assert_allclose(result["explicitness_test_per_fov"], expected, rtol=1e-10)


def test_rejects_bad_inputs():
    codes, factors, codes_test, factors_test = split(identity, (2, 3))
    with pytest.raises(ValueError, match=r"F >= 2.*\(2, 1\)"):
        modularity(codes, factors[:, :1], codes_test, factors_test[:, :1])
    with pytest.raises(ValueError, match=r"\(1500, 2\).*\(1499, 2\)"):
        modularity(codes, factors[:-1], codes_test, factors_test)
