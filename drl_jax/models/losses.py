"""Loss terms of the VAE family (docs/models.md#objectives), as pure functions.

Shapes: B batch, P pairs, d latent dims, H W C image. Units: reconstruction and
KL terms are in nats (the Gaussian reconstruction is a squared error), summed over
pixels or latent dimensions as stated, per example unless a function says it
averages over the batch. Posteriors are diagonal Gaussians given by their mean and
log-variance (natural log of the variance).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

_LOG_2PI = math.log(2.0 * math.pi)


def _check_same_shape(**arrays: jax.Array):
    shapes = {name: jnp.shape(a) for name, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"Expected equal shapes, got {shapes}.")


def bernoulli_reconstruction(logits: jax.Array, images: jax.Array) -> jax.Array:
    """Binary cross-entropy of images under Bernoulli(sigmoid(logits)).

    Args:
      logits: float32 [B, H, W, C] decoder output.
      images: float32 [B, H, W, C] targets in [0, 1] (non-binary values allowed).

    Returns:
      float32 [B]: nats, summed over pixels and channels.
    """
    _check_same_shape(logits=logits, images=images)
    loss = optax.sigmoid_binary_cross_entropy(logits, images)
    return jnp.sum(loss.reshape(loss.shape[0], -1), axis=-1)


def gaussian_reconstruction(logits: jax.Array, images: jax.Array) -> jax.Array:
    """Squared error of sigmoid(logits) to images (disentanglement_lib's `l2` loss).

    Args:
      logits: float32 [B, H, W, C] decoder output.
      images: float32 [B, H, W, C] targets in [0, 1].

    Returns:
      float32 [B]: squared intensity error summed over pixels and channels.
    """
    _check_same_shape(logits=logits, images=images)
    error = jnp.square(jax.nn.sigmoid(logits) - images)
    return jnp.sum(error.reshape(error.shape[0], -1), axis=-1)


RECONSTRUCTIONS = {
    "bernoulli": bernoulli_reconstruction,
    "gaussian": gaussian_reconstruction,
}


def gaussian_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per dimension: float32 [..., d] nats (same shape)."""
    _check_same_shape(mean=mean, logvar=logvar)
    return 0.5 * (jnp.square(mean) + jnp.exp(logvar) - logvar - 1.0)


def gaussian_kl_between(
    mean1: jax.Array, logvar1: jax.Array, mean2: jax.Array, logvar2: jax.Array
) -> jax.Array:
    """KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) per dimension: [..., d] nats."""
    _check_same_shape(mean1=mean1, logvar1=logvar1, mean2=mean2, logvar2=logvar2)
    ratio = jnp.exp(logvar1 - logvar2)
    return 0.5 * (ratio + jnp.square(mean1 - mean2) * jnp.exp(-logvar2) - 1.0 - logvar1 + logvar2)


def sample_gaussian(key: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Reparameterised draw z = mean + exp(logvar / 2) * eps: float32, shape of `mean`."""
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)


def adaptive_shared_mask(delta: jax.Array) -> jax.Array:
    """Ada-GVAE's shared dimensions: delta below the pair's threshold.

    Args:
      delta: float32 [P, d] per-dimension KL(q(z|x1) || q(z|x2)) of each pair.

    Returns:
      bool [P, d]: delta < tau with tau = (min + max) / 2 over that pair's d values.
      A pair whose deltas are all equal shares nothing.
    """
    tau = 0.5 * (jnp.min(delta, axis=-1, keepdims=True) + jnp.max(delta, axis=-1, keepdims=True))
    return delta < tau


def label_shared_mask(changed: jax.Array, latent_dim: int) -> jax.Array:
    """The reference code's "labels" aggregation: dim j is kept iff FoV j changed.

    Args:
      changed: bool [P, F] which FoVs differ within each pair.
      latent_dim: d.

    Returns:
      bool [P, d]: True (shared, averaged) for every dim except those whose index is a
      changed FoV's index; FoVs with index >= d have no dim, dims >= F are always shared.
    """
    num_factors = changed.shape[-1]
    keep = changed[:, :latent_dim]
    if latent_dim > num_factors:
        keep = jnp.pad(keep, ((0, 0), (0, latent_dim - num_factors)))
    return ~keep


def average_posteriors(
    mean1: jax.Array, logvar1: jax.Array, mean2: jax.Array, logvar2: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Group-VAE average (Ada-GVAE): mean of the means, mean of the variances (not log-variances).

    Args: four float32 [P, d]. Returns: (mean [P, d], log-variance [P, d]).
    """
    _check_same_shape(mean1=mean1, logvar1=logvar1, mean2=mean2, logvar2=logvar2)
    variance = 0.5 * (jnp.exp(logvar1) + jnp.exp(logvar2))
    return 0.5 * (mean1 + mean2), jnp.log(variance)


def natural_average_posteriors(
    mean1: jax.Array, logvar1: jax.Array, mean2: jax.Array, logvar2: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """ML-VAE average (Ada-MLVAE): the mean of the two Gaussians' natural parameters.

    Averaging (mean / var, -1 / (2 var)) gives precision = mean of the precisions (the
    variance is the harmonic mean 2 v1 v2 / (v1 + v2)) and a precision-weighted mean. This
    is disentanglement_lib's `MLVae` (Locatello et al. 2020): a product of experts whose
    experts each carry half their precision, not the plain product (whose variance is
    half of this).

    Args: four float32 [P, d]. Returns: (mean [P, d], log-variance [P, d]).
    """
    _check_same_shape(mean1=mean1, logvar1=logvar1, mean2=mean2, logvar2=logvar2)
    precision1, precision2 = jnp.exp(-logvar1), jnp.exp(-logvar2)
    precision = 0.5 * (precision1 + precision2)
    mean = 0.5 * (mean1 * precision1 + mean2 * precision2) / precision
    return mean, -jnp.log(precision)


COMBINES = {
    "average": average_posteriors,
    "natural": natural_average_posteriors,
}


def aggregate_pair(
    mean1: jax.Array,
    logvar1: jax.Array,
    mean2: jax.Array,
    logvar2: jax.Array,
    shared: jax.Array,
    combine: str,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Replaces both posteriors by their combination on the shared dimensions.

    Args:
      mean1, logvar1, mean2, logvar2: float32 [P, d] posteriors of x1 and x2.
      shared: bool [P, d] dims to combine (`adaptive_shared_mask`, `label_shared_mask`).
      combine: "average" (Ada-GVAE) or "natural" (Ada-MLVAE), see COMBINES.

    Returns:
      (mean1, logvar1, mean2, logvar2) float32 [P, d] after aggregation.
    """
    if combine not in COMBINES:
        raise ValueError(f"Unknown combine {combine!r}; valid: {', '.join(COMBINES)}.")
    _check_same_shape(mean1=mean1, shared=shared)
    mean, logvar = COMBINES[combine](mean1, logvar1, mean2, logvar2)
    return (
        jnp.where(shared, mean, mean1),
        jnp.where(shared, logvar, logvar1),
        jnp.where(shared, mean, mean2),
        jnp.where(shared, logvar, logvar2),
    )


def gaussian_log_density(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """log N(z; mean, exp(logvar)) per dimension (broadcasting): float32 nats."""
    return -0.5 * (_LOG_2PI + logvar + jnp.square(z - mean) * jnp.exp(-logvar))


def total_correlation(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """beta-TCVAE's total correlation KL(q(z) || prod_j q(z_j)), minibatch-weighted sampling.

    q(z_i) is estimated by the batch's mixture: log q(z_i) ~ logsumexp_k log q(z_i | x_k)
    and likewise per dimension. As disentanglement_lib does, the constant
    (d - 1) log(N B) of the estimator (N the dataset size) is left out: it has no
    gradient, so values are shifted by it.

    Args:
      z: float32 [B, d] samples, z_i ~ q(z | x_i).
      mean, logvar: float32 [B, d] the batch's posteriors.

    Returns:
      float32 scalar: nats, mean over the batch.
    """
    _check_same_shape(z=z, mean=mean, logvar=logvar)
    log_q = gaussian_log_density(z[:, None, :], mean[None, :, :], logvar[None, :, :])  # [B, B, d]
    log_q_joint = jax.nn.logsumexp(jnp.sum(log_q, axis=-1), axis=1)
    log_q_marginals = jnp.sum(jax.nn.logsumexp(log_q, axis=1), axis=-1)
    return jnp.mean(log_q_joint - log_q_marginals)


def dip_covariance(mean: jax.Array, logvar: jax.Array, kind: str) -> jax.Array:
    """DIP-VAE's covariance of the aggregate posterior (Kumar et al. 2018).

    Args:
      mean, logvar: float32 [B, d].
      kind: "i": Cov_batch[mean]; "ii": Cov_batch[mean] + diag(mean_batch exp(logvar)).

    Returns:
      float32 [d, d] (biased batch covariance, divided by B).
    """
    _check_same_shape(mean=mean, logvar=logvar)
    centered = mean - jnp.mean(mean, axis=0)
    covariance = centered.T @ centered / mean.shape[0]
    if kind == "i":
        return covariance
    if kind == "ii":
        return covariance + jnp.diag(jnp.mean(jnp.exp(logvar), axis=0))
    raise ValueError(f"Unknown DIP-VAE kind {kind!r}; valid: i, ii.")


def dip_penalty(covariance: jax.Array, lambda_od: jax.Array, lambda_d: jax.Array) -> jax.Array:
    """lambda_od * sum of squared off-diagonal entries + lambda_d * sum (diag - 1)^2: scalar."""
    diagonal = jnp.diagonal(covariance)
    off_diagonal = covariance - jnp.diag(diagonal)
    return lambda_od * jnp.sum(jnp.square(off_diagonal)) + lambda_d * jnp.sum(
        jnp.square(diagonal - 1.0)
    )


def linear_warmup(value: jax.Array, step: jax.Array, warmup_steps: jax.Array) -> jax.Array:
    """value * min(1, step / warmup_steps); warmup_steps = 0 means no warm-up. float32 scalar.

    Used for beta (the KL weight) and for AnnealedVAE's capacity C (docs/models.md#objectives).
    """
    step = jnp.asarray(step, jnp.float32)
    warmup_steps = jnp.asarray(warmup_steps, jnp.float32)
    fraction = jnp.where(warmup_steps > 0, step / jnp.maximum(warmup_steps, 1.0), 1.0)
    return value * jnp.minimum(1.0, fraction)


def capacity_penalty(kl: jax.Array, capacity: jax.Array, gamma: jax.Array) -> jax.Array:
    """AnnealedVAE (Burgess et al. 2018): gamma * |KL - C|, scalar.

    Args:
      kl: float32 [B] KL to the prior summed over d, nats.
      capacity: float32 scalar C in nats (`linear_warmup(c_max, step, capacity_steps)`).
      gamma: float32 scalar weight.

    Returns:
      float32 scalar; the absolute value is taken after the batch mean, as
      disentanglement_lib does.
    """
    return gamma * jnp.abs(jnp.mean(kl) - capacity)


def permute_dims(key: jax.Array, z: jax.Array) -> jax.Array:
    """FactorVAE's samples of prod_j q(z_j): each column of z [B, d] shuffled over the batch."""
    order = jnp.argsort(jax.random.uniform(key, z.shape), axis=0)
    return jnp.take_along_axis(z, order, axis=0)


def discriminator_total_correlation(logits: jax.Array) -> jax.Array:
    """FactorVAE's TC estimate: mean over the batch of logit(joint) - logit(permuted).

    Args:
      logits: float32 [B, 2] discriminator output on samples of q(z) (class 0: joint).

    Returns:
      float32 scalar, nats (density-ratio estimate of log q(z) - log prod_j q(z_j)).
    """
    return jnp.mean(logits[:, 0] - logits[:, 1])


def discriminator_loss(logits_joint: jax.Array, logits_permuted: jax.Array) -> jax.Array:
    """Cross-entropy of the discriminator: joint samples are class 0, permuted class 1.

    Args:
      logits_joint, logits_permuted: float32 [B, 2].

    Returns:
      float32 scalar: mean of the two classes' batch-mean cross-entropies, nats.
    """
    joint = optax.softmax_cross_entropy_with_integer_labels(
        logits_joint, jnp.zeros(logits_joint.shape[0], jnp.int32)
    )
    permuted = optax.softmax_cross_entropy_with_integer_labels(
        logits_permuted, jnp.ones(logits_permuted.shape[0], jnp.int32)
    )
    return 0.5 * (jnp.mean(joint) + jnp.mean(permuted))
