"""SAP: both of disentanglement_lib's variants on ground-truth codes and direct computations."""

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from drl_jax.metrics._sap import sap

SIZES = (2, 3, 4, 5)
N_TRAIN, N_TEST = 1000, 500


def split(codes_of, sizes=SIZES, seed: int = 0):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, N_TRAIN + N_TEST) for s in sizes], axis=1)
    codes = codes_of(factors, rng)
    return codes[:N_TRAIN], factors[:N_TRAIN], codes[N_TRAIN:], factors[N_TRAIN:]


def identity(factors, rng):
    return factors + 0.05 * rng.normal(size=factors.shape)


def test_continuous_variant_on_ground_truth_codes():
    assert sap(*split(identity), continuous_factors=True)["sap"] >= 0.9
    noise = sap(*split(lambda f, rng: rng.normal(size=f.shape)), continuous_factors=True)
    # R^2 of noise with a FoV is about 1/N = 0.001 per entry, so gaps stay tiny.
    assert noise["sap"] <= 0.02
    assert sap(*split(lambda f, rng: np.zeros(f.shape)), continuous_factors=True)["sap"] == 0.0
    duplicated = sap(*split(lambda f, rng: np.hstack([f, f]) + 0.0), continuous_factors=True)
    assert duplicated["sap"] == 0.0  # the top two scores are identical columns


def test_continuous_matrix_is_squared_correlation():
    codes, factors, _, _ = split(
        lambda f, rng: f @ rng.normal(size=(4, 3)) + rng.normal(size=(len(f), 3))
    )
    matrix = np.asarray(sap(codes, factors, codes, factors, continuous_factors=True)["sap_matrix"])
    expected = np.corrcoef(codes.T, factors.T)[:3, 3:] ** 2
    np.testing.assert_allclose(matrix, expected, rtol=1e-10)


def test_discrete_variant_on_ground_truth_codes():
    # A 1-D one-vs-rest linear classifier isolates an ordered FoV's end classes only:
    # on binary FoVs the own dimension scores 1 and the others chance (~0.5, balanced
    # class weights), so SAP is about 0.5; noise: 0.5 +- 0.02 (500 test samples) for
    # every dimension, so the gap is a few hundredths.
    binary = sap(*split(identity, sizes=(2, 2, 2)))
    assert 0.4 <= binary["sap"] <= 0.6
    np.testing.assert_allclose(np.max(binary["sap_matrix"], axis=0), 1.0)
    assert sap(*split(lambda f, rng: rng.normal(size=f.shape), sizes=(2, 2, 2)))["sap"] <= 0.06
    assert sap(*split(identity))["sap"] >= 0.3  # FoVs of 2..5 classes: 0.51, 0.67, 0.5, 0.42
    assert sap(*split(lambda f, rng: np.zeros(f.shape)))["sap"] == 0.0
    assert sap(*split(lambda f, rng: np.hstack([f, f]) + 0.0))["sap"] == 0.0


def test_discrete_matrix_matches_direct_linear_svc():
    codes, factors, codes_test, factors_test = split(
        lambda f, rng: f @ rng.normal(size=(4, 2)) + rng.normal(size=(len(f), 2))
    )
    result = sap(codes, factors, codes_test, factors_test, seed=3)
    for i in range(2):
        for j in range(4):
            classifier = LinearSVC(C=0.01, class_weight="balanced", random_state=3)
            classifier.fit(codes[:, i : i + 1], factors[:, j])
            accuracy = np.mean(classifier.predict(codes_test[:, i : i + 1]) == factors_test[:, j])
            assert result["sap_matrix"][i][j] == accuracy
    top = np.sort(result["sap_matrix"], axis=0)
    np.testing.assert_allclose(result["sap_per_fov"], top[-1] - top[-2])


def test_rejects_bad_inputs():
    codes, factors, codes_test, factors_test = split(identity)
    with pytest.raises(ValueError, match="at least 2 code dimensions"):
        sap(codes[:, :1], factors, codes_test[:, :1], factors_test)
    with pytest.raises(ValueError, match=r"factors_train \(1000, 4\).*factors_test \(500, 3\)"):
        sap(codes, factors, codes_test, factors_test[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        sap(codes * np.inf, factors, codes_test, factors_test)
