"""Encoding many stacked models within a memory budget: the plan fits, and any split of models
and images into calls, or of a call's images into inference blocks, gives the numbers of one
call."""

import jax
import jax.numpy as jnp
import numpy as np
from conftest import random_stacked_variables
from jax.tree_util import Partial

from drl_jax.data import registry
from drl_jax.evaluation import encoding
from drl_jax.metrics import MetricOptions
from drl_jax.metrics.registry import intervention_points
from drl_jax.models import architectures, losses, make_vae

MODELS = 100


def test_a_hundred_models_in_budgeted_calls_equal_one_call(capsys):
    vae = make_vae("dlib", 1, 10, "s2d")
    variables = random_stacked_variables(vae, 1, MODELS)
    budget = encoding.call_bytes(vae, 20, 32, 1)  # room for about 20 models a call
    chunks = encoding.plan_chunks(vae, MODELS, 1, 32, budget)
    assert 10 < chunks.models < MODELS and chunks.images == 32
    assert encoding.call_bytes(vae, chunks.models, chunks.images, 1) <= budget
    data = registry.load("procedural_dsprites")
    key = jax.random.key(1)
    split, factors = encoding.encode_samples(vae, variables, data, key, 40, chunks)
    whole, same_factors = encoding.encode_samples(
        vae, variables, data, key, 40, encoding.Chunks(models=MODELS, images=32)
    )
    np.testing.assert_array_equal(factors, same_factors)
    assert split["mean"].shape == (MODELS, 40, 10)
    for name in ("mean", "sampled", "reconstruction", "kl_per_dim"):
        np.testing.assert_allclose(split[name], whole[name], rtol=1e-6, atol=1e-6)
    assert np.std(split["mean"][:, 0, 0]) > 0  # the models differ
    # The progress bar names the split.
    assert f"{MODELS} models, {chunks.models} x 32 a call" in capsys.readouterr().err


def test_a_budget_below_one_call_of_images_takes_fewer_images():
    vae = make_vae("dlib", 1, 10, "s2d")
    budget = int(0.9 * encoding.call_bytes(vae, 2, 256, 1))
    chunks = encoding.plan_chunks(vae, 10, 1, 256, budget)
    assert chunks.images < 256
    assert chunks.images % architectures.INFERENCE_BLOCK.get(jax.default_backend(), 1) == 0
    assert encoding.call_bytes(vae, chunks.models, chunks.images, 1) <= budget


def test_in_blocks_equals_one_call_for_any_batch():
    def per_row(x, y):  # a tuple of outputs from two batched inputs
        return x.sum(axis=1) * y, jnp.tanh(x)

    x = jax.random.normal(jax.random.key(0), (10, 3))
    y = jnp.arange(10.0)
    for rows in (1, 4, 10):
        blocked = architectures.in_blocks(per_row, x[:rows], y[:rows], block=4)
        for got, expected in zip(blocked, per_row(x[:rows], y[:rows]), strict=True):
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_encoding_in_blocks_equals_the_whole_batch_at_once():
    # The paper architecture (BatchNorm, LayerNorm in evaluation mode): every row of a
    # blocked call equals the row of one whole-batch call, for a batch that is not a
    # multiple of the block.
    vae = make_vae("paper", 1, 6, "s2d")
    images = registry.load("procedural_dsprites").sample(jax.random.key(0), 45)[0]
    variables = jax.jit(vae.init, static_argnums=2)(jax.random.key(1), images, False)
    stacked = jax.tree.map(lambda x: x[None], variables)
    keys = jax.random.split(jax.random.key(2), 1)
    encoded = encoding.encode_images(vae, stacked, images, keys)  # blocks of 32 on CPU

    @jax.jit
    def whole_batch(variables, images, key):
        mean, logvar = vae.apply(variables, images, False, method="encode")
        z = losses.sample_gaussian(key, mean, logvar)
        logits = vae.apply(variables, z, False, method="decode")
        return {
            "mean": mean,
            "sampled": z,
            "reconstruction": losses.bernoulli_reconstruction(logits, images),
            "kl_per_dim": losses.gaussian_kl(mean, logvar),
        }

    for name, value in whole_batch(variables, images, keys[0]).items():
        np.testing.assert_allclose(encoded[name][0], value, rtol=1e-5, atol=1e-5)


def test_intervention_points_of_stacked_models_equal_each_models_own():
    vae = make_vae("dlib", 1, 10, "s2d")
    variables = random_stacked_variables(vae, 1, 2)
    data, key = registry.load("procedural_dsprites"), jax.random.key(3)
    options = MetricOptions(factor_vae_train=3, factor_vae_eval=2, factor_vae_variance=50)
    stacked = encoding.encode_intervention_points(
        vae, variables, data, key, options, ("factor_vae",), encoding.memory_budget()
    )
    for m in range(2):
        one = Partial(encoding.encoder_means, vae)
        alone = intervention_points(
            "factor_vae", data, Partial(one, jax.tree.map(lambda x, m=m: x[m], variables)),
            key, options,
        )  # fmt: skip
        assert stacked[m]["factor_vae"].keys() == alone.keys()
        for name, value in alone.items():
            np.testing.assert_allclose(stacked[m]["factor_vae"][name], value, rtol=1e-5, atol=1e-6)
    assert not np.allclose(
        stacked[0]["factor_vae"]["global_variances"], stacked[1]["factor_vae"]["global_variances"]
    )
