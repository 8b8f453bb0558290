"""IRS (drl_jax/metrics/_irs.py): disentanglement_lib's numbers, known answers, bad input."""

import numpy as np
import pytest

from drl_jax.metrics._irs import irs, mean_group_deviation


def golden_inputs():
    """600 samples of FoVs with 4, 30 (binned into 20) and 3 classes; 5 dims, one constant."""
    rng = np.random.RandomState(0)
    n = 600
    factors = np.stack([rng.randint(0, 4, n), rng.randint(0, 30, n), rng.randint(0, 3, n)], axis=1)
    codes = np.stack(
        [
            factors[:, 0] + 0.3 * rng.randn(n),
            np.sin(factors[:, 1] / 5.0) + 0.1 * rng.randn(n),
            factors[:, 2] - 0.5 * factors[:, 0] + 0.2 * rng.randn(n),
            np.zeros(n),
            rng.randn(n),
        ],
        axis=1,
    )
    return codes, factors


# disentanglement_lib 86a644d, evaluation/metrics/irs.py, run once on golden_inputs() in a
# scratch venv (gin stood in by identity decorators): `compute_irs` with
# utils.generate_batch_factor_code patched to return (codes.T, factors.T) and
# utils.make_discretizer to `_histogram_discretize(target, num_bins)`; the per-dimension
# scores from `scalable_disentanglement_score` on the same inputs. Its `num_active_dims`
# was 1056.0525504022403 (the sum of the kept codes); we report the count, 4.
GOLDEN = {  # (diff_quantile, num_bins): (IRS, scores of the 4 non-constant dims)
    (0.99, 20): (
        0.5161252749924882,
        [0.6569928546570766, 0.8094373102703283, 0.4636410086313356, 0.31990119119016247],
    ),
    (1.0, 20): (
        0.4881752148975709,
        [0.6227669441200328, 0.7985665780331919, 0.43301123661179497, 0.2916637329731814],
    ),
    (0.5, 5): (
        0.81866007894612,
        [0.9118046636422823, 0.8423137305336275, 0.7586595539952561, 0.781385587891015],
    ),
}


@pytest.mark.parametrize("setting", sorted(GOLDEN))
def test_matches_disentanglement_lib(setting):
    diff_quantile, num_bins = setting
    expected_irs, expected_scores = GOLDEN[setting]
    result = irs(*golden_inputs(), diff_quantile=diff_quantile, num_bins=num_bins)
    np.testing.assert_allclose(result["irs"], expected_irs, rtol=0, atol=1e-6)
    scores = np.delete(result["disentanglement_scores"], 3)  # dim 3 is constant: score 0
    np.testing.assert_allclose(scores, expected_scores, rtol=0, atol=1e-6)
    assert result["disentanglement_scores"][3] == 0.0
    assert result["max_deviations"][3] == 0.0
    assert result["num_active_dims"] == 4


def test_group_quantiles_match_percentile_loop():
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(257, 3))
    latents[:, 2] = np.round(latents[:, 2])  # ties within groups
    groups = rng.integers(0, 7, 257)
    groups[groups == 5] = 6  # a missing label
    groups[0] = 9  # a group of one sample
    for quantile in (0.0, 0.25, 0.5, 0.99, 1.0):
        expected = np.mean(
            [
                np.percentile(
                    np.abs(latents[groups == g] - latents[groups == g].mean(axis=0)),
                    q=quantile * 100,
                    axis=0,
                )
                for g in np.unique(groups)
            ],
            axis=0,
        )
        np.testing.assert_allclose(
            mean_group_deviation(latents, groups, quantile), expected, rtol=0, atol=1e-14
        )


def test_ground_truth_codes():
    rng = np.random.default_rng(2)
    sizes = (3, 6, 20, 2)
    factors = np.stack([rng.integers(0, s, 3000) for s in sizes], axis=1)
    # Identity codes of FoVs with at most num_bins classes: each dimension is constant
    # given its FoV, so every IRS_jj is exactly 1, for any quantile and affine map.
    for quantile in (0.99, 1.0):
        assert irs(factors.astype(float), factors, diff_quantile=quantile)["irs"] == 1.0
        assert irs(3.0 * factors - 1.0, factors, diff_quantile=quantile)["irs"] == 1.0
    # IRS does not penalise duplicates: [x, x] scores 1 as well.
    assert irs(np.hstack([factors, factors]).astype(float), factors)["irs"] == 1.0
    # More classes than bins: two classes share a bin, so the code varies within it.
    merged = np.hstack([factors[:, :3], rng.integers(0, 40, (3000, 1))])
    assert 0.9 < irs(merged.astype(float), merged)["irs"] < 1.0
    # Zeros (dlib's bad case): no non-constant dimension, IRS 0.
    zeros = irs(np.zeros((3000, 4)), factors)
    assert zeros["irs"] == 0.0 and zeros["num_active_dims"] == 0
    # Noise: each group's spread is the overall spread, so IRS_ij ~ 1 - q99 / max of
    # |z - E z| ~ 1 - 2.6 / 3.7 for 3,000 Gaussian samples, about 0.3; well below 1.
    noise = irs(rng.normal(size=(3000, 4)), factors)["irs"]
    assert 0.2 < noise < 0.45
    # Per-sample permutation of the FoV values over the dims: in between.
    shuffled = np.array([rng.permutation(row) for row in factors], dtype=float)
    assert irs(shuffled, factors)["irs"] < 0.7


def test_constant_dims_are_dropped():
    codes, factors = golden_inputs()
    # A constant 0.1 column: np.var gives ~1e-34 (its mean is rounded), so dlib keeps it
    # with weight ~1e-17; here it is dropped. IRS is the same either way.
    with_constant = np.hstack([codes, np.full((600, 1), 0.1)])
    result, reference = irs(with_constant, factors), irs(codes, factors)
    np.testing.assert_allclose(result["irs"], reference["irs"], rtol=0, atol=1e-15)
    assert result["num_active_dims"] == 4
    assert result["disentanglement_scores"][-1] == 0.0
    assert np.shape(result["irs_matrix"]) == (6, 3)


def test_rejects_bad_inputs():
    codes, factors = golden_inputs()
    with pytest.raises(ValueError, match=r"\(599, 5\).*\(600, 3\)"):
        irs(codes[:599], factors)
    with pytest.raises(ValueError, match="NaN"):
        irs(np.full_like(codes, np.nan), factors)
    with pytest.raises(ValueError, match="diff_quantile"):
        irs(codes, factors, diff_quantile=1.5)
    with pytest.raises(ValueError, match="integral"):
        irs(codes, factors + 0.5)
    with pytest.raises(ValueError, match="num_bins"):
        irs(codes, factors, num_bins=0)
