"""Pictures of what a VAE learned: reconstructions and latent traversals.

Both are jitted and take a stacked model axis, so a sweep of M models is drawn in
one call. Images float32 [..., 64, 64, C] in [0, 1].
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from drl_jax.models.architectures import VAE, over_models
from drl_jax.runtime import RUN_RARELY

TRAVERSAL_VALUES = (-2.0, -1.33, -0.67, 0.0, 0.67, 1.33, 2.0)


@functools.partial(jax.jit, static_argnums=0, compiler_options=RUN_RARELY)
def reconstructions(vae: VAE, variables: dict, images: jax.Array) -> jax.Array:
    """Inputs over reconstructions of their posterior means.

    Args:
      vae: the model.
      variables: `{"params", "batch_stats"}` with a leading model axis [M, ...].
      images: float32 [B, 64, 64, C].

    Returns:
      float32 [M, 2, B, 64, 64, C]: row 0 the inputs, row 1 the reconstructions.
    """

    def one(model_variables):
        mean, _ = vae.apply(model_variables, images, False, method="encode")
        decoded = jax.nn.sigmoid(vae.apply(model_variables, mean, False, method="decode"))
        return jnp.stack([images, decoded])

    return over_models(vae, one)(variables)


@functools.partial(jax.jit, static_argnums=0, compiler_options=RUN_RARELY)
def traversals(vae: VAE, variables: dict, image: jax.Array) -> jax.Array:
    """Decodes the posterior mean of one image with each latent dimension swept.

    Args:
      vae: the model.
      variables: `{"params", "batch_stats"}` with a leading model axis [M, ...].
      image: float32 [1, 64, 64, C].

    Returns:
      float32 [M, d, V, 64, 64, C]: row h sets dimension h to each of TRAVERSAL_VALUES.
    """
    values = jnp.asarray(TRAVERSAL_VALUES)

    def one(model_variables):
        mean, _ = vae.apply(model_variables, image, False, method="encode")
        latent_dim = mean.shape[-1]
        codes = jnp.tile(mean, (latent_dim, len(values), 1))
        rows = jnp.arange(latent_dim)[:, None]
        codes = codes.at[rows, :, rows].set(values[None, :])
        flat = codes.reshape(-1, latent_dim)
        decoded = jax.nn.sigmoid(vae.apply(model_variables, flat, False, method="decode"))
        return decoded.reshape(latent_dim, len(values), *decoded.shape[1:])

    return over_models(vae, one)(variables)
