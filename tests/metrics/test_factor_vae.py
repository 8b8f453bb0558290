"""FactorVAE scorer on hand-built variances (the sampler is tested in test_interventions.py)."""

import numpy as np
import pytest

from drl_jax.metrics._factor_vae import factor_vae_score


def points(n: int, seed: int, dims_of_fov: list[int], num_codes: int):
    """Local variances as a representation gives them whose dimension dims_of_fov[j]
    encodes FoV j: that dimension's variance vanishes when FoV j is held fixed."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(dims_of_fov), n)
    variances = rng.uniform(0.5, 1.5, size=(n, num_codes))
    variances[np.arange(n), np.asarray(dims_of_fov)[labels]] = 0.0
    return variances, labels


def test_identity_scores_one():
    train, evaluation = points(500, 0, [0, 1, 2], 3), points(500, 1, [0, 1, 2], 3)
    result = factor_vae_score(*train, *evaluation, np.ones(3))
    assert result == {
        "factor_vae_train": 1.0,
        "factor_vae_eval": 1.0,
        "factor_vae_num_active_dims": 3,
    }


def test_inactive_dimensions_never_vote():
    # Dimension 0 is collapsed (std 0.01) with zero local variance everywhere: if it could
    # vote it would win every argmin (ties go to the first index) and score the majority
    # rate, about 0.5. FoVs 0 and 1 live in dimensions 2 and 1.
    variances, labels = points(400, 2, [2, 1], 3)
    variances[:, 0] = 0.0
    global_variances = np.array([1e-4, 1.0, 1.0])
    result = factor_vae_score(variances, labels, variances, labels, global_variances)
    assert result == {
        "factor_vae_train": 1.0,
        "factor_vae_eval": 1.0,
        "factor_vae_num_active_dims": 2,
    }


def test_threshold_is_on_the_standard_deviation():
    variances, labels = points(200, 3, [0, 1], 2)
    # std 0.051 >= 0.05 is active, although the variance 0.0026 is far below 0.05.
    active = factor_vae_score(variances, labels, variances, labels, np.array([0.0026, 1.0]))
    assert active["factor_vae_num_active_dims"] == 2
    inactive = factor_vae_score(variances, labels, variances, labels, np.array([0.0024, 1.0]))
    assert inactive["factor_vae_num_active_dims"] == 1
    # With only dimension 1 active, every point votes for it: the majority FoV wins.
    majority = np.max(np.bincount(labels)) / len(labels)
    assert inactive["factor_vae_eval"] == pytest.approx(majority)


def test_uninformative_codes_score_low():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 6, 4000)
    variances = rng.uniform(0.5, 1.5, size=(4000, 6))
    # Random argmins: the vote classifier generalises at chance, 1/6 +- 0.008 (2,000 points).
    result = factor_vae_score(
        variances[:2000], labels[:2000], variances[2000:], labels[2000:], np.ones(6)
    )
    assert result["factor_vae_eval"] <= 0.2
    # Constant codes: no active dimension, both accuracies 0 (dlib's rule).
    zeros = factor_vae_score(variances * 0, labels, variances * 0, labels, np.zeros(6))
    assert zeros == {
        "factor_vae_train": 0.0,
        "factor_vae_eval": 0.0,
        "factor_vae_num_active_dims": 0,
    }


def test_rejects_bad_inputs():
    variances, labels = points(50, 0, [0, 1], 2)
    with pytest.raises(ValueError, match=r"global_variances must be finite \[d\].*\(3,\)"):
        factor_vae_score(variances, labels, variances, labels, np.ones(3))
    with pytest.raises(ValueError, match=r"variances_eval \(50, 2\).*\(40, 1\)"):
        factor_vae_score(variances, labels, variances, labels[:40], np.ones(2))
    with pytest.raises(ValueError, match="non-negative"):
        factor_vae_score(-variances, labels, variances, labels, np.ones(2))
