"""VAEs (the paper's and disentanglement_lib's architectures) and their training objectives.

>>> import jax, jax.numpy as jnp
>>> from drl_jax import models
>>> vae = models.make_vae("dlib", channels=1, latent_dim=10)
>>> variables = vae.init(jax.random.key(0), jnp.zeros((2, 64, 64, 1)), False)
>>> mean, logvar = vae.apply(variables, jnp.zeros((2, 64, 64, 1)), False, method="encode")
>>> mean.shape
(2, 10)
>>> sorted(models.METHODS)[:3]
['ada_gvae', 'ada_mlvae', 'annealed_vae']
"""

from drl_jax.models.architectures import ARCHITECTURES, VAE, make_vae
from drl_jax.models.methods import METHODS, Method, get_method

__all__ = ["ARCHITECTURES", "METHODS", "Method", "VAE", "get_method", "make_vae"]
