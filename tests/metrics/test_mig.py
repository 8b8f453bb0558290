"""MIG and its helpers (drl_jax/metrics/info.py) against direct numpy/sklearn computations."""

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from drl_jax.metrics import info
from drl_jax.metrics._mig import mig

SIZES = (2, 3, 4, 5, 6, 4)


def grid_factors(n: int, sizes=SIZES, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


def dlib_discretize(codes: np.ndarray, num_bins: int) -> np.ndarray:
    """disentanglement_lib's histogram discretizer, column by column."""
    return np.stack([np.digitize(c, np.histogram(c, num_bins)[1][:-1]) for c in codes.T], axis=1)


def test_discretize_matches_numpy_histogram_digitize():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(500, 4))
    codes[:, 1] = 2.5  # constant column: numpy uses the range 2.5 +- 0.5
    codes[:, 2] = np.round(codes[:, 2])  # values exactly on bin edges
    for bins in (1, 7, 20):
        np.testing.assert_array_equal(info.discretize(codes, bins), dlib_discretize(codes, bins))


def test_mutual_info_and_entropy_match_sklearn():
    rng = np.random.default_rng(2)
    factors = grid_factors(800, (2, 7, 1, 4), seed=3)
    discrete = np.stack(
        [factors[:, 0] * 3 + rng.integers(0, 3, 800), rng.integers(5, 9, 800), np.zeros(800, int)],
        axis=1,
    )
    expected = [[mutual_info_score(f, z) for f in factors.T] for z in discrete.T]
    np.testing.assert_allclose(info.mutual_info(discrete, factors), expected, rtol=0, atol=1e-12)
    entropy = [mutual_info_score(f, f) for f in factors.T]
    np.testing.assert_allclose(info.entropy(factors), entropy, rtol=0, atol=1e-12)
    # Closed forms: a balanced binary FoV copied exactly carries ln 2 nats.
    binary = np.tile([0, 1], 50)[:, None]
    np.testing.assert_allclose(info.mutual_info(binary, binary), [[np.log(2)]], atol=1e-15)


def test_mig_matches_direct_computation():
    rng = np.random.default_rng(4)
    factors = grid_factors(600)
    codes = factors @ rng.normal(size=(6, 5)) + 0.3 * rng.normal(size=(600, 5))
    discrete = dlib_discretize(codes, 20)
    mi = np.array([[mutual_info_score(f, z) for f in factors.T] for z in discrete.T])
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    top = np.sort(mi, axis=0)
    expected = (top[-1] - top[-2]) / entropy
    result = mig(codes, factors)
    np.testing.assert_allclose(result["mig_per_fov"], expected, atol=1e-12)
    np.testing.assert_allclose(result["mig"], expected.mean(), atol=1e-12)
    np.testing.assert_allclose(result["mutual_info"], mi, atol=1e-12)


def test_ground_truth_codes():
    factors = grid_factors(2000)
    rng = np.random.default_rng(5)
    identity = factors + 0.05 * rng.normal(size=factors.shape)
    # Each class falls in its own bin, so I(z_j; v_j) = H(v_j); the second dimension's MI
    # is only the plug-in bias, below 0.02 nats here (< 2% of the smallest H, ln 2).
    assert mig(identity, factors)["mig"] >= 0.98
    # Equal-width bins between min and max: a positive affine map changes nothing.
    np.testing.assert_allclose(
        mig(7.0 * identity - 3.0, factors)["mig_per_fov"], mig(identity, factors)["mig_per_fov"]
    )
    # Mixing FoVs 4 and 5 into two dims, z = (v4 + v5, v4 - v5): both dims tell as much
    # about v4 (and about v5), so those two gaps collapse (to 0.005 here).
    mixed = identity.copy()
    mixed[:, 4], mixed[:, 5] = identity[:, 4] + identity[:, 5], identity[:, 4] - identity[:, 5]
    assert max(mig(mixed, factors)["mig_per_fov"][4:]) <= 0.1
    # Noise: both top MIs are bias of the same size, so the gap is tiny.
    assert mig(rng.normal(size=(2000, 6)), factors)["mig"] <= 0.05
    # Constant codes carry no information at all: exactly 0.
    assert mig(np.zeros((2000, 6)), factors)["mig"] == 0.0
    # Duplicated codes [x, x]: the top two MIs are equal, so every gap is exactly 0.
    duplicated = mig(np.hstack([identity, identity]), factors)
    np.testing.assert_allclose(duplicated["mig_per_fov"], 0.0, atol=1e-12)
    # Per-sample permutation of the FoV values over the dims (dlib's "bad" case): low.
    shuffled = np.array([rng.permutation(row) for row in factors], dtype=float)
    assert mig(shuffled, factors)["mig"] <= 0.05


def test_rejects_bad_inputs():
    factors = grid_factors(100)
    with pytest.raises(ValueError, match=r"\(99, 6\).*\(100, 6\)"):
        mig(np.zeros((99, 6)), factors)
    with pytest.raises(ValueError, match="NaN"):
        mig(np.full((100, 6), np.nan), factors)
    with pytest.raises(ValueError, match="at least 2 code dimensions"):
        mig(np.zeros((100, 1)), factors)
    with pytest.raises(ValueError, match=r"single observed class.*\[1\]"):
        mig(np.zeros((100, 2)), np.stack([factors[:, 0], np.zeros(100, int)], axis=1))
    with pytest.raises(ValueError, match="integral"):
        mig(np.zeros((100, 2)), factors[:, :2] + 0.5)
