"""Method objectives on a tiny VAE: each loss is the sum of its documented terms."""

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drl_jax.models.architectures import VAE
from drl_jax.models.methods import METHODS, check_hparams, get_method

LATENT, BATCH = 5, 6
HPARAMS = {
    "beta_vae": {"beta": 3.0, "warmup_steps": 10.0},
    "ada_gvae": {"beta": 3.0, "warmup_steps": 10.0},
    "ada_mlvae": {"beta": 3.0, "warmup_steps": 10.0},
    "annealed_vae": {"gamma": 100.0, "c_max": 20.0, "capacity_steps": 10.0},
    "beta_tcvae": {"beta": 6.0},
    "dip_vae_i": {"lambda_od": 10.0, "lambda_d": 100.0},
    "dip_vae_ii": {"lambda_od": 10.0, "lambda_d": 10.0},
    "factor_vae": {"gamma": 10.0},
}
STEP = 4  # Warm-ups at 40%: beta 1.2, capacity 8 nats.


class TinyEncoder(nn.Module):
    """Every 64th pixel -> BatchNorm -> heads: cheap to compile, with batch statistics."""

    latent_dim: int

    @nn.compact
    def __call__(self, x, train):
        h = nn.BatchNorm(use_running_average=not train)(x.reshape(x.shape[0], -1)[:, ::64])
        return nn.Dense(self.latent_dim)(h), 0.1 * nn.Dense(self.latent_dim)(h)


class TinyDecoder(nn.Module):
    channels: int

    @nn.compact
    def __call__(self, z, train):
        del train
        return nn.Dense(64 * 64 * self.channels)(z).reshape(-1, 64, 64, self.channels)


VAE_MODEL = VAE(TinyEncoder(LATENT), TinyDecoder(1))


def _images(key):
    return (jax.random.uniform(key, (BATCH, 64, 64, 1)) > 0.7).astype(jnp.float32)


def _batch(method):
    key1, key2 = jax.random.split(jax.random.key(3))
    if not method.needs_pairs:
        return {"x": _images(key1), "factors": jnp.zeros((BATCH, 3), jnp.int32)}
    changed = jax.nn.one_hot(jnp.arange(BATCH) % 3, 3, dtype=jnp.bool_)
    return {"x1": _images(key1), "x2": _images(key2), "changed": changed}


@functools.cache
def _variables():
    """Random VAE variables from numpy (compiling flax's initialisers costs more than a test)."""
    rng = np.random.default_rng(0)
    images = jax.ShapeDtypeStruct((BATCH, 64, 64, 1), jnp.float32)
    abstract = jax.eval_shape(lambda x: VAE_MODEL.init(jax.random.key(0), x, False), images)

    def value(path, leaf):
        name = path[-1].key  # BatchNorm running var 1, running mean 0, scale 1.
        if name in ("scale", "var", "mean"):
            return np.full(leaf.shape, name != "mean", np.float32)
        return rng.normal(scale=0.05, size=leaf.shape).astype(np.float32)

    return jax.tree_util.tree_map_with_path(value, abstract)


@functools.cache
def _extra(name):
    return METHODS[name].init_extra(jax.random.key(1), LATENT)


def _evaluate(method):
    variables = _variables()
    hparams = {name: jnp.float32(value) for name, value in HPARAMS[method.name].items()}
    objective = jax.jit(method.objective(VAE_MODEL))
    args = (variables["params"], variables["batch_stats"], _extra(method.name)["params"])
    args += (_batch(method), jax.random.key(2), hparams, jnp.int32(STEP))
    return objective(*args), args


@pytest.mark.parametrize("name", list(METHODS))
def test_loss_is_the_sum_of_its_terms(name):
    method = METHODS[name]
    (total, (metrics, new_stats)), _ = _evaluate(method)
    recon, kl, loss = metrics["reconstruction"], metrics["kl"], metrics["loss"]
    expected = {
        "beta_vae": lambda: recon + 1.2 * kl,
        "ada_gvae": lambda: recon + 1.2 * kl,
        "ada_mlvae": lambda: recon + 1.2 * kl,
        "annealed_vae": lambda: recon + 100.0 * abs(kl - 8.0),
        "beta_tcvae": lambda: recon + kl + 5.0 * metrics["tc"],
        "dip_vae_i": lambda: recon + kl + metrics["dip_penalty"],
        "dip_vae_ii": lambda: recon + kl + metrics["dip_penalty"],
        "factor_vae": lambda: recon + kl + 10.0 * metrics["tc"],
    }[name]()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["kl_per_dim"].sum(), kl, rtol=1e-5)
    assert metrics["kl_per_dim"].shape == (LATENT,) and np.isfinite(loss)
    # Pixels are 0/1 and the decoder starts near logit 0: about ln 2 nats per pixel.
    assert 0.5 * 4096 * np.log(2) < recon < 2 * 4096 * np.log(2)
    if name == "factor_vae":
        np.testing.assert_allclose(total, loss + metrics["discriminator_loss"], rtol=1e-6)
    else:
        assert total == loss
    running_mean = new_stats["encoder"]["BatchNorm_0"]["mean"]
    assert np.abs(running_mean).max() > 0  # Training mode updates the statistics.


def test_label_aggregation_shares_all_but_the_changed_dim():
    (_, (metrics, _)), _ = _evaluate(get_method("ada_gvae", aggregation="labels"))
    assert metrics["shared_dims"] == LATENT - 1  # One FoV (index < d) changes per pair.


def test_factor_vae_trains_each_network_on_its_own_loss():
    method = METHODS["factor_vae"]
    _, (params, batch_stats, extra_params, batch, key, hparams, step) = _evaluate(method)
    objective = method.objective(VAE_MODEL)

    @jax.jit
    def gradients(params, extra_params):
        def term(name):
            def value(params, extra_params):
                out = objective(params, batch_stats, extra_params, batch, key, hparams, step)
                return out[0] if name == "total" else out[1][0][name]

            return jax.grad(value, argnums=(0, 1))(params, extra_params)

        return [term(name) for name in ("total", "loss", "discriminator_loss")]

    total, vae, discriminator = gradients(params, extra_params)

    def same(a, b):
        return jax.tree.all(
            jax.tree.map(lambda x, y: np.allclose(x, y, rtol=1e-4, atol=1e-6), a, b)
        )

    assert same(total[0], vae[0])  # The VAE's gradient ignores the discriminator's loss ...
    assert same(total[1], discriminator[1])  # ... and the discriminator's ignores the VAE's.
    assert not same(total[1], vae[1])
    extra = _extra("factor_vae")
    updated = jax.jit(method.update_extra)(extra, total[1])
    moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), updated["params"], extra["params"])
    # Adam's first step moves every weight by about its learning rate, 1e-4.
    np.testing.assert_allclose(max(jax.tree.leaves(moved)), 1e-4, rtol=0.01)


def test_registry_and_hparam_errors():
    with pytest.raises(ValueError, match="'vae'.*beta_vae, ada_gvae"):
        get_method("vae")
    with pytest.raises(ValueError, match="'argmax'.*adaptive, labels"):
        get_method("ada_gvae", aggregation="argmax")
    with pytest.raises(ValueError, match="'l1'.*bernoulli, gaussian"):
        dataclasses.replace(METHODS["beta_vae"], reconstruction="l1")
    with pytest.raises(ValueError, match=r"\['beta', 'warmup_steps'\], got \['beta'\]"):
        check_hparams(METHODS["ada_mlvae"], {"beta": 1.0})
    assert get_method("ada_mlvae").combine == "natural"
