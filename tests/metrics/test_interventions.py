"""Device samplers of the BetaVAE/FactorVAE scores, with an identity "observation".

As disentanglement_lib's IdentityObservationsData: the images carry the FoV classes
(pixel [0, j] = class_j / size_j) and `encode` reads them back, so the encoder is the
identity on FoVs and every number below has an exact or closed-form expectation.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import LabelledData, from_renderer
from drl_jax.metrics import interventions
from drl_jax.metrics._beta_vae import beta_vae_score
from drl_jax.metrics._factor_vae import factor_vae_score

SIZES = (2, 3, 4, 5, 6, 4)
SPACE = FactorSpace(tuple(f"fov{j}" for j in range(len(SIZES))), SIZES)
SCALE = jnp.asarray(SIZES, jnp.float32)
SMALL = {"num_train": 600, "num_eval": 600, "chunk_points": 8}  # 75 chunks of 8 x 64 images
TRACES = {"encode": 0}


def draw(factors):
    images = jnp.zeros((factors.shape[0], 64, 64, 1), jnp.float32)
    return images.at[:, 0, : len(SIZES), 0].set(factors / SCALE)


def encode(images):
    TRACES["encode"] += 1  # runs only while tracing: counts compiles
    return jnp.round(images[:, 0, : len(SIZES), 0] * SCALE)


DATA = from_renderer("identity", SPACE, 1, draw)


@pytest.fixture(scope="module")
def beta_vae_points():
    return jax.device_get(interventions.beta_vae_samples(DATA, encode, jax.random.key(0), **SMALL))


@pytest.fixture(scope="module")
def factor_vae_points():
    samples = interventions.factor_vae_samples(
        DATA, encode, jax.random.key(1), num_variance_estimate=4000, **SMALL
    )
    return jax.device_get(samples)


def test_beta_vae_points_are_exact(beta_vae_points):
    features, labels = beta_vae_points["features_train"], beta_vae_points["labels_train"]
    assert features.shape == (600, 6) and labels.shape == (600,)
    assert beta_vae_points["features_eval"].shape == (600, 6)
    rows = np.arange(600)
    # The fixed FoV's dimension never changes within a pair; every other one does on
    # average: E|v - v'| = (K^2 - 1) / (3K) >= 0.5 for K >= 2, and the mean of 64 pairs
    # is 0 only if all 64 pairs agree (probability <= 2^-64).
    np.testing.assert_array_equal(features[rows, labels], 0.0)
    others = np.where(np.eye(6, dtype=bool)[labels], np.inf, features)
    assert others.min() > 0.0
    expected = np.array([(k * k - 1) / (3 * k) for k in SIZES])
    mean_other = np.nanmean(np.where(np.isinf(others), np.nan, others), axis=0)
    np.testing.assert_allclose(mean_other, expected, rtol=0.05)  # 64 x ~500 pairs each
    # Labels uniform over 6 FoVs: 100 +- 9 per FoV out of 600.
    assert np.all(np.abs(np.bincount(labels, minlength=6) - 100) < 40)
    assert beta_vae_score(**beta_vae_points) == {"beta_vae_train": 1.0, "beta_vae_eval": 1.0}


def test_factor_vae_points_are_exact(factor_vae_points):
    variances, labels = factor_vae_points["variances_train"], factor_vae_points["labels_train"]
    assert variances.shape == (600, 6) and labels.shape == (600,)
    np.testing.assert_array_equal(variances[np.arange(600), labels], 0.0)
    # Global variance of a uniform FoV with K classes: (K^2 - 1) / 12; 4,000 samples give
    # a relative standard error of about 2-3%.
    expected = np.array([(k * k - 1) / 12 for k in SIZES])
    np.testing.assert_allclose(factor_vae_points["global_variances"], expected, rtol=0.08)
    result = factor_vae_score(**factor_vae_points)
    assert result == {
        "factor_vae_train": 1.0,
        "factor_vae_eval": 1.0,
        "factor_vae_num_active_dims": 6,
    }


def test_compiles_once(beta_vae_points, factor_vae_points):
    del beta_vae_points, factor_vae_points  # traced encode once each (lax.map body)
    assert TRACES["encode"] == 3  # beta_vae: 1; factor_vae: random codes + fixed batches
    again = interventions.beta_vae_samples(DATA, encode, jax.random.key(5), **SMALL)
    assert TRACES["encode"] == 3
    assert not np.array_equal(again["labels_train"], np.zeros(600))


def test_rejects_non_grid_data_and_bad_counts():
    labelled = LabelledData(
        jnp.zeros((2, 64, 64, 1), jnp.uint8),
        jnp.zeros((2, 1), jnp.int32),
        jnp.zeros((0, 2), jnp.int32),
        jnp.zeros((0, 1), bool),
        "tiny",
        ("a",),
        (1,),
    )
    with pytest.raises(ValueError, match="GridData.*LabelledData 'tiny'"):
        interventions.beta_vae_samples(labelled, encode, jax.random.key(0))
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        interventions.factor_vae_samples(DATA, encode, jax.random.key(0), batch_size=1)
    with pytest.raises(ValueError, match=r"codes \[B, d\] or \[M, B, d\], got \(1024,\)"):
        interventions.beta_vae_samples(
            DATA, lambda images: images[:, 0, 0, 0], jax.random.key(0), **SMALL
        )
    with pytest.raises(ValueError, match="positive integers"):
        interventions.beta_vae_samples(DATA, encode, jax.random.key(0), num_eval=0)


def test_an_encoder_of_many_models_gets_each_models_points(beta_vae_points, factor_vae_points):
    # Two "models" at once, the identity and twice it: images drawn and rendered once,
    # each model's arrays those of its encoder alone (the fixtures') with the same key.
    def two_models(images):
        codes = jnp.round(images[:, 0, : len(SIZES), 0] * SCALE)
        return jnp.stack([codes, 2 * codes])

    beta = interventions.beta_vae_samples(DATA, two_models, jax.random.key(0), **SMALL)
    factor = interventions.factor_vae_samples(
        DATA, two_models, jax.random.key(1), num_variance_estimate=4000, **SMALL
    )
    for stacked, alone in ((beta, beta_vae_points), (factor, factor_vae_points)):
        for name, value in alone.items():
            if name.startswith("labels"):
                np.testing.assert_array_equal(stacked[name], value)
            else:  # features and variances scale by 2 and 4 in the second model
                scale = 2.0 if name.startswith("features") else 4.0
                np.testing.assert_array_equal(stacked[name][0], value)
                np.testing.assert_allclose(stacked[name][1], scale * value, rtol=1e-6)
