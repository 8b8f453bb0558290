"""Loss terms against closed forms and direct numpy computations, all through jax.jit."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drl_jax.models import losses

RNG = np.random.default_rng(0)


def _gaussians(*shape):
    return (
        RNG.normal(size=shape).astype(np.float32),
        RNG.normal(scale=0.5, size=shape).astype(np.float32),
    )


@pytest.mark.parametrize(
    "mean, logvar, expected",
    [
        # Unit means over 10 dims, unit variances: 0.5 * 1 per dim, 5 in all.
        (np.ones((1, 10)), np.zeros((1, 10)), 5.0),
        (np.zeros((1, 10)), np.zeros((1, 10)), 0.0),
        # Zero mean, variance e: 0.5 * (e - 1 - 1) per dim.
        (np.zeros((1, 4)), np.ones((1, 4)), 4 * 0.5 * (np.e - 2.0)),
    ],
)
def test_kl_to_prior_closed_forms(mean, logvar, expected):
    kl = jax.jit(losses.gaussian_kl)(jnp.float32(mean), jnp.float32(logvar))
    assert kl.shape == mean.shape
    np.testing.assert_allclose(kl.sum(), expected, rtol=1e-6, atol=1e-6)


def test_kl_between_gaussians_matches_numpy():
    mean1, logvar1 = _gaussians(6, 5)
    mean2, logvar2 = _gaussians(6, 5)
    var1, var2 = np.exp(logvar1), np.exp(logvar2)
    expected = 0.5 * (np.log(var2 / var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1.0)
    kl = jax.jit(losses.gaussian_kl_between)(mean1, logvar1, mean2, logvar2)
    np.testing.assert_allclose(kl, expected, rtol=1e-5, atol=1e-6)
    same = jax.jit(losses.gaussian_kl_between)(mean1, logvar1, mean1, logvar1)
    np.testing.assert_allclose(same, 0.0, atol=1e-6)


def test_reconstructions_match_numpy():
    logits = RNG.normal(scale=3.0, size=(3, 4, 4, 2)).astype(np.float32)
    images = RNG.uniform(size=(3, 4, 4, 2)).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    bce = -(images * np.log(p) + (1 - images) * np.log(1 - p)).sum(axis=(1, 2, 3))
    l2 = ((p - images) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(
        jax.jit(losses.bernoulli_reconstruction)(logits, images), bce, rtol=1e-5
    )
    np.testing.assert_allclose(
        jax.jit(losses.gaussian_reconstruction)(logits, images), l2, rtol=1e-5
    )
    with pytest.raises(ValueError, match=r"\(3, 4, 4, 2\)"):
        losses.bernoulli_reconstruction(logits, images[:, :3])


def test_adaptive_aggregation_averages_exactly_the_dims_below_threshold():
    # Unit variances in x1; x2 moves the mean of dim j by shifts[j]: delta_j = shifts^2 / 2,
    # plus variance terms on dims 1 and 5. Deltas 0, 0.024, 4.5, 0.02, 3.125, 0.163, so
    # tau = (0 + 4.5) / 2 = 2.25 and dims 2 and 4 keep their own posteriors.
    shifts = np.float32([[0.0, 0.1, 3.0, 0.2, 2.5, 0.5]])
    mean1 = np.zeros((1, 6), np.float32)
    logvar1 = np.zeros((1, 6), np.float32)
    mean2 = shifts
    logvar2 = np.float32([[0.0, 0.3, 0.0, 0.0, 0.0, -0.2]])
    delta = jax.jit(losses.gaussian_kl_between)(mean1, logvar1, mean2, logvar2)
    shared = jax.jit(losses.adaptive_shared_mask)(delta)
    np.testing.assert_array_equal(shared, [[True, True, False, True, False, True]])
    out = jax.jit(losses.aggregate_pair, static_argnums=5)(
        mean1, logvar1, mean2, logvar2, shared, "average"
    )
    var1, var2 = np.exp(logvar1), np.exp(logvar2)
    averaged_mean = 0.5 * (mean1 + mean2)
    averaged_logvar = np.log(0.5 * (var1 + var2))  # Mean of variances, not of log-variances.
    np.testing.assert_allclose(out[0], np.where(shared, averaged_mean, mean1), atol=1e-6)
    np.testing.assert_allclose(out[1], np.where(shared, averaged_logvar, logvar1), atol=1e-6)
    np.testing.assert_allclose(out[2], np.where(shared, averaged_mean, mean2), atol=1e-6)
    np.testing.assert_allclose(out[3], np.where(shared, averaged_logvar, logvar2), atol=1e-6)
    assert not np.allclose(averaged_logvar[0, 1], 0.5 * (logvar1 + logvar2)[0, 1])
    # All deltas equal: nothing is below the threshold.
    assert not losses.adaptive_shared_mask(jnp.ones((1, 4))).any()


@pytest.mark.parametrize(
    "changed_fovs, num_factors, latent_dim, kept",
    [
        ((2,), 5, 6, (2,)),
        ((0, 4), 5, 6, (0, 4)),
        ((4,), 5, 3, ()),  # FoV 4 has no latent dim when d = 3: everything is shared.
    ],
)
def test_label_aggregation_keeps_exactly_the_changed_index(
    changed_fovs, num_factors, latent_dim, kept
):
    changed = np.zeros((2, num_factors), bool)
    changed[:, list(changed_fovs)] = True
    shared = jax.jit(losses.label_shared_mask, static_argnums=1)(changed, latent_dim)
    expected = np.ones((2, latent_dim), bool)
    expected[:, list(kept)] = False
    np.testing.assert_array_equal(shared, expected)


def test_natural_average_is_the_mean_of_natural_parameters():
    mean1, logvar1 = _gaussians(4, 3)
    mean2, logvar2 = _gaussians(4, 3)
    mean, logvar = jax.jit(losses.natural_average_posteriors)(mean1, logvar1, mean2, logvar2)
    var1, var2 = np.exp(logvar1), np.exp(logvar2)
    # Natural parameters (m / v, -1 / (2 v)), averaged, mapped back.
    eta1 = 0.5 * (mean1 / var1 + mean2 / var2)
    eta2 = 0.5 * (-0.5 / var1 - 0.5 / var2)
    np.testing.assert_allclose(np.exp(logvar), -0.5 / eta2, rtol=1e-5)
    np.testing.assert_allclose(mean, eta1 * (-0.5 / eta2), rtol=1e-4, atol=1e-6)
    # disentanglement_lib's MLVae form: harmonic mean of the variances.
    np.testing.assert_allclose(np.exp(logvar), 2 * var1 * var2 / (var1 + var2), rtol=1e-5)


def test_total_correlation_matches_direct_numpy():
    z, mean, logvar = (RNG.normal(size=(5, 3)).astype(np.float32) for _ in range(3))
    logvar = 0.3 * logvar
    expected = []
    for i in range(5):
        # log q(z_i | x_k) per dim, for every k.
        log_q = np.array(
            [
                -0.5 * (np.log(2 * np.pi) + logvar[k] + (z[i] - mean[k]) ** 2 / np.exp(logvar[k]))
                for k in range(5)
            ]
        )  # [k, d]
        joint = np.log(np.sum(np.exp(log_q.sum(axis=1))))
        marginals = sum(np.log(np.sum(np.exp(log_q[:, j]))) for j in range(3))
        expected.append(joint - marginals)
    tc = jax.jit(losses.total_correlation)(z, mean, logvar)
    np.testing.assert_allclose(tc, np.mean(expected), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["i", "ii"])
def test_dip_penalties_match_numpy(kind):
    mean, logvar = _gaussians(16, 4)
    covariance = np.cov(mean, rowvar=False, bias=True)
    if kind == "ii":
        covariance = covariance + np.diag(np.exp(logvar).mean(axis=0))
    off = sum(covariance[i, j] ** 2 for i, j in itertools.permutations(range(4), 2))
    diag = sum((covariance[i, i] - 1.0) ** 2 for i in range(4))
    penalty = jax.jit(
        lambda m, lv: losses.dip_penalty(losses.dip_covariance(m, lv, kind), 3.0, 7.0)
    )(mean, logvar)
    np.testing.assert_allclose(penalty, 3.0 * off + 7.0 * diag, rtol=1e-5)
    with pytest.raises(ValueError, match="iii"):
        losses.dip_covariance(mean, logvar, "iii")


@pytest.mark.parametrize(
    "step, warmup_steps, expected",
    [(0, 100, 0.0), (25, 100, 0.5), (100, 100, 2.0), (5000, 100, 2.0), (0, 0, 2.0), (7, 0, 2.0)],
)
def test_linear_warmup_values(step, warmup_steps, expected):
    warmup = jax.jit(losses.linear_warmup)
    beta = warmup(jnp.float32(2.0), jnp.int32(step), jnp.float32(warmup_steps))
    np.testing.assert_allclose(beta, expected, rtol=1e-6)


def test_capacity_penalty_is_gamma_times_distance_of_mean_kl():
    kl = np.float32([3.0, 5.0, 10.0])  # Mean 6.
    penalty = jax.jit(losses.capacity_penalty)(kl, jnp.float32(8.0), jnp.float32(100.0))
    np.testing.assert_allclose(penalty, 200.0, rtol=1e-6)


def test_permute_dims_shuffles_each_column_independently():
    z = jnp.arange(64 * 3, dtype=jnp.float32).reshape(64, 3)
    permuted = np.asarray(jax.jit(losses.permute_dims)(jax.random.key(0), z))
    for j in range(3):
        np.testing.assert_array_equal(np.sort(permuted[:, j]), z[:, j])
    rows = (permuted - np.arange(3)) // 3  # The source row of each entry.
    assert not np.array_equal(rows[:, 0], rows[:, 1])
    assert not np.array_equal(rows[:, 0], np.arange(64))


def test_discriminator_terms_match_numpy():
    joint = RNG.normal(size=(8, 2)).astype(np.float32)
    permuted = RNG.normal(size=(8, 2)).astype(np.float32)

    def log_softmax(x):
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    expected = -0.5 * (log_softmax(joint)[:, 0].mean() + log_softmax(permuted)[:, 1].mean())
    np.testing.assert_allclose(
        jax.jit(losses.discriminator_loss)(joint, permuted), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        jax.jit(losses.discriminator_total_correlation)(joint),
        np.mean(joint[:, 0] - joint[:, 1]),
        rtol=1e-5,
    )
