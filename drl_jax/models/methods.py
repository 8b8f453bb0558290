"""The VAE family's training objectives (docs/models.md#objectives), registered in METHODS.

A method object is static (hashable, closed over by the jitted step) and knows:
`needs_pairs` (batches are weak pairs from `data.sample_pairs`, else images from
`data.sample`), `hparam_names` (the float32 scalars it reads from `hparams`, so a
sweep varies them per model), and `objective(vae)`, which returns the pure function

    objective(params, batch_stats, extra_params, batch, key, hparams, step)
        -> (loss, (metrics, new_batch_stats))

* batch: `{"x": [B, 64, 64, C], "factors": int32 [B, F]}`, or for pair methods the
  dict of `sample_pairs` (`x1`, `x2`, `factors1`, `factors2`, `changed`).
* extra_params: FactorVAE's discriminator parameters (`{}` for the others).
* step: int32 scalar, the optimizer step about to be taken (schedules read it).
* loss: float32 scalar to differentiate with respect to `params` and `extra_params`.
  It is the VAE objective plus, for FactorVAE, the discriminator's loss; stop-gradients
  make each part train only its own parameters, so one backward pass serves both.
* metrics: float32 scalars `loss` (the VAE objective alone, mean over the batch),
  `reconstruction` (nats summed over pixels, mean over the batch and pair members),
  `kl` (nats summed over d, of the posteriors actually sampled: the aggregated ones
  for pair methods), `kl_per_dim` [d], and the method's terms: `beta` (in effect,
  after warm-up), `shared_dims` (mean number of averaged dims per pair), `capacity`,
  `tc`, `dip_penalty`, `discriminator_loss`, `discriminator_accuracy`.

Options are dataclass fields: `get_method("ada_gvae", aggregation="labels")`,
`reconstruction="gaussian"`. Fine-tuning passes another method (e.g. `beta_vae`) to
the step with a state trained by `ada_gvae`: both read `beta` and `warmup_steps`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from drl_jax.models import losses
from drl_jax.models.architectures import VAE, Discriminator

Hparams = Mapping[str, jax.Array]
Objective = Callable[..., tuple[jax.Array, tuple[dict[str, jax.Array], Any]]]
NO_EXTRA = {"params": {}, "opt_state": ()}


class Posterior(NamedTuple):
    """A batch's posteriors and draws: each float32 [B, d]; kl per dim in nats."""

    mean: jax.Array
    logvar: jax.Array
    z: jax.Array
    kl: jax.Array


# A regularizer: (posterior, hparams, step, critic) -> (penalty scalar, terms dict), where
# critic maps codes [B, d] to FactorVAE discriminator logits [B, 2] (None elsewhere).
Regularizer = Callable[[Posterior, Hparams, jax.Array, Any], tuple[jax.Array, dict]]


def _kl(posterior: Posterior) -> jax.Array:
    return jnp.mean(jnp.sum(posterior.kl, axis=-1))


def _beta_vae(posterior, hparams, step, critic):
    del critic
    beta = losses.linear_warmup(hparams["beta"], step, hparams["warmup_steps"])
    return beta * _kl(posterior), {"beta": beta}


def _annealed_vae(posterior, hparams, step, critic):
    del critic
    capacity = losses.linear_warmup(hparams["c_max"], step, hparams["capacity_steps"])
    kl = jnp.sum(posterior.kl, axis=-1)
    return losses.capacity_penalty(kl, capacity, hparams["gamma"]), {"capacity": capacity}


def _beta_tcvae(posterior, hparams, step, critic):
    del step, critic
    tc = losses.total_correlation(posterior.z, posterior.mean, posterior.logvar)
    return _kl(posterior) + (hparams["beta"] - 1.0) * tc, {"tc": tc}


def _dip_vae(kind: str) -> Regularizer:
    def regularizer(posterior, hparams, step, critic):
        del step, critic
        covariance = losses.dip_covariance(posterior.mean, posterior.logvar, kind)
        penalty = losses.dip_penalty(covariance, hparams["lambda_od"], hparams["lambda_d"])
        return _kl(posterior) + penalty, {"dip_penalty": penalty}

    return regularizer


def _factor_vae(posterior, hparams, step, critic):
    del step
    tc = losses.discriminator_total_correlation(critic(posterior.z))
    return _kl(posterior) + hparams["gamma"] * tc, {"tc": tc}


def _encode(vae: VAE, params, batch_stats, images: jax.Array):
    """Training-mode encoding: ((mean, logvar) [B, d], updated batch_stats)."""
    outputs, updates = vae.apply(
        {"params": params, "batch_stats": batch_stats},
        images,
        True,
        method="encode",
        mutable=["batch_stats"],
    )
    return outputs, updates.get("batch_stats", batch_stats)


def _decode(vae: VAE, params, z: jax.Array) -> jax.Array:
    return vae.apply({"params": params}, z, True, method="decode")


def _metrics(loss, reconstruction, kl_per_dim_batch, terms) -> dict[str, jax.Array]:
    return {
        "loss": loss,
        "reconstruction": reconstruction,
        "kl": jnp.mean(jnp.sum(kl_per_dim_batch, axis=-1)),
        "kl_per_dim": jnp.mean(kl_per_dim_batch, axis=0),
        **terms,
    }


def _check_reconstruction(name: str):
    if name not in losses.RECONSTRUCTIONS:
        raise ValueError(
            f"Unknown reconstruction {name!r}; valid: {', '.join(losses.RECONSTRUCTIONS)}."
        )


@dataclasses.dataclass(frozen=True)
class VAEMethod:
    """An unsupervised method: recon + regularizer on a batch of single images."""

    name: str
    regularizer: Regularizer
    hparam_names: tuple[str, ...]
    reconstruction: str = "bernoulli"
    discriminator: nn.Module | None = None
    discriminator_optimizer: optax.GradientTransformation | None = None
    needs_pairs: ClassVar[bool] = False

    def __post_init__(self):
        _check_reconstruction(self.reconstruction)

    def init_extra(self, key: jax.Array, latent_dim: int) -> dict:
        """Discriminator params and optimizer state, or NO_EXTRA."""
        if self.discriminator is None:
            return NO_EXTRA
        params = self.discriminator.init(key, jnp.zeros((1, latent_dim)))["params"]
        return {"params": params, "opt_state": self.discriminator_optimizer.init(params)}

    def update_extra(self, extra: dict, grads) -> dict:
        """One discriminator optimizer step from its gradients (identity without one)."""
        if self.discriminator is None:
            return extra
        updates, opt_state = self.discriminator_optimizer.update(
            grads, extra["opt_state"], extra["params"]
        )
        return {"params": optax.apply_updates(extra["params"], updates), "opt_state": opt_state}

    def objective(self, vae: VAE) -> Objective:
        reconstruct = losses.RECONSTRUCTIONS[self.reconstruction]

        def objective(params, batch_stats, extra_params, batch, key, hparams, step):
            sample_key, permute_key = jax.random.split(key)
            images = batch["x"]
            (mean, logvar), new_batch_stats = _encode(vae, params, batch_stats, images)
            z = losses.sample_gaussian(sample_key, mean, logvar)
            reconstruction = jnp.mean(reconstruct(_decode(vae, params, z), images))
            posterior = Posterior(mean, logvar, z, losses.gaussian_kl(mean, logvar))
            penalty, terms = self.regularizer(posterior, hparams, step, self._critic(extra_params))
            loss = reconstruction + penalty
            metrics = _metrics(loss, reconstruction, posterior.kl, terms)
            if self.discriminator is None:
                return loss, (metrics, new_batch_stats)
            discriminator_loss, discriminator_metrics = self._discriminator_loss(
                extra_params, jax.lax.stop_gradient(z), permute_key
            )
            metrics.update(discriminator_metrics)
            return loss + discriminator_loss, (metrics, new_batch_stats)

        return objective

    def _critic(self, extra_params):
        """codes [B, d] -> discriminator logits [B, 2], its parameters frozen (or None)."""
        if self.discriminator is None:
            return None
        frozen = {"params": jax.lax.stop_gradient(extra_params)}

        def critic(codes):
            return self.discriminator.apply(frozen, codes)

        return critic

    def _discriminator_loss(self, extra_params, z: jax.Array, key: jax.Array):
        def apply(codes):
            return self.discriminator.apply({"params": extra_params}, codes)

        joint, permuted = apply(z), apply(losses.permute_dims(key, z))
        loss = losses.discriminator_loss(joint, permuted)
        accuracy = 0.5 * (
            jnp.mean(jnp.argmax(joint, -1) == 0) + jnp.mean(jnp.argmax(permuted, -1) == 1)
        )
        return loss, {"discriminator_loss": loss, "discriminator_accuracy": accuracy}


@dataclasses.dataclass(frozen=True)
class WeakMethod:
    """Ada-GVAE / Ada-MLVAE on weak pairs (x1, x2) that differ in k FoVs.

    Both images' posteriors are aggregated on the shared dims (`aggregation`
    "adaptive": KL threshold per pair; "labels": all but the changed FoVs' indices),
    by `combine` ("average" or "natural", see losses.COMBINES); loss = mean of the two
    reconstructions + beta * mean of the two KLs of the aggregated posteriors, averaged
    over pairs. x1 and x2 are encoded as one batch of 2P (BatchNorm sees both).
    """

    name: str
    combine: str
    aggregation: str = "adaptive"
    reconstruction: str = "bernoulli"
    needs_pairs: ClassVar[bool] = True
    hparam_names: ClassVar[tuple[str, ...]] = ("beta", "warmup_steps")
    aggregations: ClassVar[tuple[str, ...]] = ("adaptive", "labels")

    def __post_init__(self):
        _check_reconstruction(self.reconstruction)
        if self.aggregation not in self.aggregations:
            raise ValueError(
                f"Unknown aggregation {self.aggregation!r}; valid: {', '.join(self.aggregations)}."
            )
        if self.combine not in losses.COMBINES:
            raise ValueError(
                f"Unknown combine {self.combine!r}; valid: {', '.join(losses.COMBINES)}."
            )

    def init_extra(self, key: jax.Array, latent_dim: int) -> dict:
        del key, latent_dim
        return NO_EXTRA

    def update_extra(self, extra: dict, grads) -> dict:
        del grads
        return extra

    def objective(self, vae: VAE) -> Objective:
        reconstruct = losses.RECONSTRUCTIONS[self.reconstruction]

        def objective(params, batch_stats, extra_params, batch, key, hparams, step):
            del extra_params
            images = jnp.concatenate([batch["x1"], batch["x2"]])
            (mean, logvar), new_batch_stats = _encode(vae, params, batch_stats, images)
            mean1, mean2 = jnp.split(mean, 2)
            logvar1, logvar2 = jnp.split(logvar, 2)
            if self.aggregation == "adaptive":
                delta = losses.gaussian_kl_between(mean1, logvar1, mean2, logvar2)
                shared = losses.adaptive_shared_mask(delta)
            else:
                shared = losses.label_shared_mask(batch["changed"], mean.shape[-1])
            aggregated = losses.aggregate_pair(mean1, logvar1, mean2, logvar2, shared, self.combine)
            mean = jnp.concatenate(aggregated[0::2])
            logvar = jnp.concatenate(aggregated[1::2])
            z = losses.sample_gaussian(key, mean, logvar)
            reconstruction = jnp.mean(reconstruct(_decode(vae, params, z), images))
            kl = losses.gaussian_kl(mean, logvar)
            beta = losses.linear_warmup(hparams["beta"], step, hparams["warmup_steps"])
            loss = reconstruction + beta * jnp.mean(jnp.sum(kl, axis=-1))
            terms = {
                "beta": beta,
                "shared_dims": jnp.mean(jnp.sum(shared, axis=-1, dtype=jnp.float32)),
            }
            return loss, (_metrics(loss, reconstruction, kl, terms), new_batch_stats)

        return objective


Method = VAEMethod | WeakMethod

METHODS = {
    "beta_vae": VAEMethod("beta_vae", _beta_vae, ("beta", "warmup_steps")),
    "ada_gvae": WeakMethod("ada_gvae", combine="average"),
    "ada_mlvae": WeakMethod("ada_mlvae", combine="natural"),
    "annealed_vae": VAEMethod("annealed_vae", _annealed_vae, ("gamma", "c_max", "capacity_steps")),
    "beta_tcvae": VAEMethod("beta_tcvae", _beta_tcvae, ("beta",)),
    "dip_vae_i": VAEMethod("dip_vae_i", _dip_vae("i"), ("lambda_od", "lambda_d")),
    "dip_vae_ii": VAEMethod("dip_vae_ii", _dip_vae("ii"), ("lambda_od", "lambda_d")),
    "factor_vae": VAEMethod(
        "factor_vae",
        _factor_vae,
        ("gamma",),
        discriminator=Discriminator(),
        # Kim and Mnih 2018 / disentanglement_lib: Adam lr 1e-4, beta1 0.5, beta2 0.9.
        discriminator_optimizer=optax.adam(1e-4, b1=0.5, b2=0.9),
    ),
}


def get_method(name: str, **options) -> Method:
    """METHODS[name] with dataclass options replaced (aggregation, reconstruction, ...)."""
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}; valid: {', '.join(METHODS)}.")
    return dataclasses.replace(METHODS[name], **options)


def check_hparams(method: Method, hparams: Mapping[str, Any]):
    """Raises ValueError unless `hparams` has exactly the method's hparam_names."""
    if set(hparams) != set(method.hparam_names):
        raise ValueError(
            f"{method.name} reads hparams {sorted(method.hparam_names)}, got {sorted(hparams)}."
        )
