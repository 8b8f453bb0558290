"""Unsupervised scores (drl_jax/metrics/_unsupervised.py): dlib's numbers, closed forms."""

import numpy as np
import pytest
import scipy.linalg

from drl_jax.metrics._unsupervised import gaussian_scores, unsupervised


def golden_inputs():
    """500 correlated Gaussian codes (one with few distinct values) and a copy with a
    constant column inserted at index 2."""
    rng = np.random.RandomState(0)
    n = 500
    base = rng.randn(n, 4)
    mixing = np.array(
        [[1.0, 0.5, 0.0, 0.0], [0.0, 1.0, 0.3, 0.0], [0.0, 0.0, 2.0, 0.0], [0.2, 0.0, 0.0, 0.5]]
    )
    codes = base @ mixing
    codes[:, 3] = np.round(codes[:, 3] * 2) / 2
    with_constant = np.concatenate([codes[:, :2], np.full((n, 1), 0.25), codes[:, 2:]], axis=1)
    return codes, with_constant


# disentanglement_lib 86a644d, evaluation/metrics/unsupervised_metrics.py, run once on
# golden_inputs() in a scratch venv (gin stood in by identity decorators):
# `unsupervised_metrics` with utils.generate_batch_factor_code patched to return
# (codes.T, None) and utils.make_discretizer to `_histogram_discretize(target, num_bins)`.
GAUSSIAN = {
    "gaussian_total_correlation": 0.1566753238807752,
    "gaussian_wasserstein_correlation": 0.14289575588000325,
    "gaussian_wasserstein_correlation_norm": 0.022749483369379514,
}
MUTUAL_INFO = {20: 0.2132444379750799, 7: 0.05289143989456477}
# With the constant column, dlib's total correlation is NaN, its Wasserstein scores equal
# the ones above (within 1e-15), and its MI score over the 5 dims is:
MUTUAL_INFO_WITH_CONSTANT = 0.12794666278504793


@pytest.mark.parametrize("num_bins", sorted(MUTUAL_INFO))
def test_matches_disentanglement_lib(num_bins):
    codes, _ = golden_inputs()
    result = unsupervised(codes, num_bins=num_bins)
    for key, expected in GAUSSIAN.items():
        np.testing.assert_allclose(result[key], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["mutual_info_score"], MUTUAL_INFO[num_bins], atol=1e-6)
    assert result["num_constant_dims"] == 0 and result["constant_dims"] == []


def test_constant_dims_are_left_out_of_the_gaussian_scores():
    _, with_constant = golden_inputs()
    result = unsupervised(with_constant)
    for key, expected in GAUSSIAN.items():
        np.testing.assert_allclose(result[key], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["mutual_info_score"], MUTUAL_INFO_WITH_CONSTANT, atol=1e-6)
    assert result["num_constant_dims"] == 1 and result["constant_dims"] == [2]
    everything_constant = unsupervised(np.ones((50, 3)))
    assert everything_constant["gaussian_total_correlation"] == 0.0
    assert everything_constant["gaussian_wasserstein_correlation_norm"] == 0.0
    assert everything_constant["mutual_info_score"] == 0.0
    assert everything_constant["constant_dims"] == [0, 1, 2]


def test_closed_forms():
    rng = np.random.default_rng(1)
    # Two dims with sample correlation r: TC = -ln(1 - r^2) / 2.
    x = rng.normal(size=(2000, 2)) @ np.array([[1.0, 0.6], [0.0, 0.8]])
    r = np.corrcoef(x.T)[0, 1]
    result = unsupervised(x)
    np.testing.assert_allclose(result["gaussian_total_correlation"], -0.5 * np.log(1 - r**2))
    # Wasserstein: dlib's formula, 2 tr C - 2 tr sqrtm(C * diag(C)[:, None]), directly.
    cov = np.cov(x.T)
    direct = 2 * np.trace(cov) - 2 * np.trace(scipy.linalg.sqrtm(cov * np.diag(cov)[:, None]))
    np.testing.assert_allclose(result["gaussian_wasserstein_correlation"], direct.real, atol=1e-12)
    # Diagonal covariance: both scores 0 (up to rounding); TC ignores per-dimension scale.
    np.testing.assert_allclose(gaussian_scores(np.diag([1.0, 4.0, 0.5])), 0.0, atol=1e-15)
    scaled = unsupervised(x * [10.0, 0.1])
    np.testing.assert_allclose(
        scaled["gaussian_total_correlation"], result["gaussian_total_correlation"], rtol=1e-12
    )
    # Wasserstein scales with the variance, its normalised form does not.
    doubled = unsupervised(2.0 * x)
    np.testing.assert_allclose(
        doubled["gaussian_wasserstein_correlation"],
        4 * result["gaussian_wasserstein_correlation"],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        doubled["gaussian_wasserstein_correlation_norm"],
        result["gaussian_wasserstein_correlation_norm"],
        rtol=1e-12,
    )
    # A copy carries all of its bins' entropy: MI score of [x, x] is H(discretised x).
    copy = unsupervised(np.stack([x[:, 0], x[:, 0]], axis=1), num_bins=4)
    counts = np.unique(np.digitize(x[:, 0], np.histogram(x[:, 0], 4)[1][:-1]), return_counts=True)
    p = counts[1] / 2000
    np.testing.assert_allclose(copy["mutual_info_score"], -np.sum(p * np.log(p)), atol=1e-12)


def test_independent_codes_score_near_zero():
    codes = np.random.default_rng(2).normal(size=(10_000, 5))
    result = unsupervised(codes)
    # Sampling bias: E[TC] ~ d (d - 1) / (4 N) = 5e-4 for independent Gaussians.
    assert 0 <= result["gaussian_total_correlation"] < 3e-3
    assert 0 <= result["gaussian_wasserstein_correlation_norm"] < 1e-3
    # Plug-in MI bias of two independent 20-bin variables ~ (20 - 1)^2 / (2 N) = 0.018.
    assert result["mutual_info_score"] < 0.025


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"d >= 2.*\(100, 1\)"):
        unsupervised(np.zeros((100, 1)))
    with pytest.raises(ValueError, match=r"\(100,\)"):
        unsupervised(np.zeros(100))
    with pytest.raises(ValueError, match="NaN"):
        unsupervised(np.full((10, 3), np.inf))
    with pytest.raises(ValueError, match="num_bins"):
        unsupervised(np.ones((10, 3)), num_bins=0)
