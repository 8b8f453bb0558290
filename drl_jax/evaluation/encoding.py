"""Encoding ground-truth samples with M stacked models at once, on the device.

Every model sees the same samples and interventions; images are rendered or
looked up and encoded chunk by chunk in one jitted program per shape, so nothing
is per-sample Python and no image set is held on the host.
Shapes: M models, N samples, d latent dims, F FoVs, P pairs per FoV.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from drl_jax.data import pairs
from drl_jax.data.ground_truth import GridData, GroundTruthData
from drl_jax.models import losses
from drl_jax.models.architectures import VAE


@functools.partial(jax.jit, static_argnums=0)
def encode_images(vae: VAE, variables: dict, images: jax.Array, key: jax.Array) -> dict:
    """Encodes images [B, 64, 64, C] with M stacked models (variables [M, ...]).

    Returns:
      `mean`, `sampled` (a posterior draw) float32 [M, B, d]; `reconstruction` and `kl`
      float32 [M, B]: the negative ELBO's terms at beta = 1 (nats; Bernoulli, summed
      over pixels; KL summed over d), from the posterior draw.
    """

    def one(model_variables, model_key):
        mean, logvar = vae.apply(model_variables, images, False, method="encode")
        z = losses.sample_gaussian(model_key, mean, logvar)
        logits = vae.apply(model_variables, z, False, method="decode")
        return {
            "mean": mean,
            "sampled": z,
            "reconstruction": losses.bernoulli_reconstruction(logits, images),
            "kl": jnp.sum(losses.gaussian_kl(mean, logvar), axis=-1),
        }

    num_models = jax.tree.leaves(variables)[0].shape[0]
    return jax.vmap(one)(variables, jax.random.split(key, num_models))


@functools.partial(jax.jit, static_argnums=0)
def encode_means(vae: VAE, variables: dict, images: jax.Array) -> jax.Array:
    """Encoder means float32 [M, B, d] of images [B, 64, 64, C] under M stacked models."""
    return jax.vmap(lambda v: vae.apply(v, images, False, method="encode")[0])(variables)


@functools.partial(jax.jit, static_argnums=2)
def _sample(data: GroundTruthData, key: jax.Array, batch: int):
    return data.sample(key, batch)


@jax.jit
def _observe(data: GridData, factors: jax.Array, key: jax.Array) -> jax.Array:
    return data.observe(factors, key)


def encode_samples(
    vae: VAE, variables: dict, data: GroundTruthData, key: jax.Array, num_samples: int, chunk: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draws num_samples (images, FoVs) from data and encodes them with every model.

    Returns:
      (`encode_images`' dict as numpy [M, N, ...], FoV classes int32 [N, F]).
    """
    outputs, factors = [], []
    for i in range(-(-num_samples // chunk)):
        sample_key, encode_key = jax.random.split(jax.random.fold_in(key, i))
        images, chunk_factors = _sample(data, sample_key, chunk)
        outputs.append(jax.device_get(encode_images(vae, variables, images, encode_key)))
        factors.append(np.asarray(chunk_factors))
    encoded = {
        name: np.concatenate([o[name] for o in outputs], axis=1)[:, :num_samples]
        for name in outputs[0]
    }
    return encoded, np.concatenate(factors)[:num_samples]


def encode_interventions(
    vae: VAE, variables: dict, data: GridData, key: jax.Array, per_fov: int, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoder means of `per_fov` intervention pairs per FoV of a full grid.

    Returns:
      (z1, z2 float32 [M, F, P, d], valid bool [F, P]).
    """
    factors1, factors2, valid = pairs.intervention_pairs(data.space, key, per_fov)
    num_factors = data.space.num_factors
    codes = []
    for member, factors in enumerate((factors1, factors2)):
        flat = factors.reshape(-1, num_factors)
        parts = []
        for start in range(0, flat.shape[0], chunk):
            part_key = jax.random.fold_in(jax.random.fold_in(key, member), start)
            rows = flat[start : start + chunk]
            images = _observe(data, jnp.pad(rows, ((0, chunk - len(rows)), (0, 0))), part_key)
            parts.append(np.asarray(encode_means(vae, variables, images))[:, : len(rows)])
        merged = np.concatenate(parts, axis=1)
        codes.append(merged.reshape(merged.shape[0], num_factors, per_fov, -1))
    return codes[0], codes[1], np.asarray(valid)
