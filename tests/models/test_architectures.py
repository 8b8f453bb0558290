"""Architectures: shapes, hand-counted parameters, and equality of our convs with flax's."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drl_jax.models import architectures, convolutions


def _count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def _abstract_variables(vae, channels, batch=2):
    images = jax.ShapeDtypeStruct((batch, 64, 64, channels), jnp.float32)
    return jax.eval_shape(lambda x: vae.init(jax.random.key(0), x, False), images), images


@pytest.mark.parametrize("architecture", ["paper", "dlib"])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(architecture, channels):
    vae = architectures.make_vae(architecture, channels, 7)
    variables, images = _abstract_variables(vae, channels, batch=5)
    (mean, logvar), updates = jax.eval_shape(
        lambda v, x: vae.apply(v, x, True, method="encode", mutable=["batch_stats"]),
        variables,
        images,
    )
    assert mean.shape == logvar.shape == (5, 7)
    codes = jax.ShapeDtypeStruct((5, 7), jnp.float32)
    logits = jax.eval_shape(lambda v, z: vae.apply(v, z, False, method="decode"), variables, codes)
    assert logits.shape == (5, 64, 64, channels)
    # Only the paper encoder has BatchNorm: 3 layers x (mean, var) running statistics.
    assert _count(updates.get("batch_stats", {})) == (
        2 * (32 + 64 + 128) if architecture == "paper" else 0
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_paper_parameter_count(channels):
    d = 10
    encoder = (
        4 * 4 * channels * 32  # conv 4x4, 32 filters; no biases before BatchNorm
        + 4 * 4 * 32 * 64
        + 4 * 4 * 64 * 128
        + 2 * (32 + 64 + 128)  # BatchNorm scale and offset
        + 2 * 8 * 8 * 128  # LayerNorm over the flattened 8x8x128
        + 2 * (8 * 8 * 128 * d + d)  # mean and log-variance heads
    )
    decoder = (
        (d * 8 * 8 * 128 + 8 * 8 * 128)
        + (4 * 4 * 128 * 64 + 64)
        + (4 * 4 * 64 * 32 + 32)
        + (4 * 4 * 32 * channels + channels)
    )
    variables, _ = _abstract_variables(architectures.make_vae("paper", channels, d), channels)
    assert _count(variables["params"]["encoder"]) == encoder
    assert _count(variables["params"]["decoder"]) == decoder
    assert encoder + decoder == {1: 599_605, 3: 601_655}[channels]


def test_dlib_parameter_count():
    d, channels = 10, 1
    encoder = (
        (4 * 4 * 1 * 32 + 32)
        + (4 * 4 * 32 * 32 + 32)
        + (2 * 2 * 32 * 64 + 64)
        + (2 * 2 * 64 * 64 + 64)
        + (4 * 4 * 64 * 256 + 256)
        + 2 * (256 * d + d)
    )
    decoder = (
        (d * 256 + 256)
        + (256 * 1024 + 1024)
        + (4 * 4 * 64 * 64 + 64)
        + (4 * 4 * 64 * 32 + 32)
        + (4 * 4 * 32 * 32 + 32)
        + (4 * 4 * 32 * channels + channels)
    )
    variables, _ = _abstract_variables(architectures.make_vae("dlib", channels, d), channels)
    assert _count(variables["params"]) == encoder + decoder


def _random_params(kernel_shape, rng):
    """Conv parameters with non-zero biases, in flax's layout (kernel [kh, kw, Cin, Cout])."""
    kernel = rng.normal(scale=0.3, size=kernel_shape).astype(np.float32)
    bias = rng.normal(scale=0.1, size=kernel_shape[-1:]).astype(np.float32)
    return {"params": {"kernel": kernel, "bias": bias}}


# Every conv layer of both architectures (input height, Cin, Cout, kernel, padding), and
# odd sizes that 'SAME' pads unevenly.
CONVS = [
    (64, 3, 32, 4, ((1, 1), (1, 1))),  # paper (and dlib's first layer, SAME = (1, 1))
    (32, 32, 64, 4, ((1, 1), (1, 1))),
    (16, 64, 128, 4, ((1, 1), (1, 1))),
    (32, 32, 32, 4, "SAME"),  # dlib
    (16, 32, 64, 2, "SAME"),
    (8, 64, 64, 2, "SAME"),
    (9, 3, 5, 4, "SAME"),
    (7, 3, 5, 2, "SAME"),
]
TRANSPOSED = [(8, 128, 64), (16, 64, 32), (32, 32, 3), (4, 64, 64), (5, 3, 1)]


def _assert_same_values_and_gradients(ours, theirs, params, x):
    """Outputs and the gradients of a random projection of them agree (relative 1e-5)."""
    expected = jax.jit(theirs)(params, x)
    got = jax.jit(ours)(params, x)
    assert got.shape == expected.shape
    scale = float(jnp.max(jnp.abs(expected)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale)
    weights = jax.random.normal(jax.random.key(3), expected.shape)
    grads = [
        jax.jit(jax.grad(lambda p, x, f=f: jnp.sum(f(p, x) * weights), argnums=(0, 1)))(params, x)
        for f in (ours, theirs)
    ]
    for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * float(jnp.max(jnp.abs(b))))


@pytest.mark.parametrize("formulation", convolutions.FORMULATIONS)
@pytest.mark.parametrize("height, cin, cout, size, padding", CONVS)
def test_conv_equals_flax_conv(formulation, height, cin, cout, size, padding):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, height, height, cin)).astype(np.float32)
    params = _random_params((size, size, cin, cout), rng)
    theirs = nn.Conv(cout, (size, size), (2, 2), padding=padding).apply
    ours = architectures.Conv(cout, size, 2, padding, conv=formulation).apply
    _assert_same_values_and_gradients(ours, theirs, params, x)


@pytest.mark.parametrize("formulation", convolutions.FORMULATIONS)
@pytest.mark.parametrize("height, cin, cout", TRANSPOSED)
def test_conv_transpose_equals_flax_conv_transpose(formulation, height, cin, cout):
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(2, height, height, cin)).astype(np.float32)
    params = _random_params((4, 4, cin, cout), rng)
    theirs = nn.ConvTranspose(cout, (4, 4), (2, 2), padding="SAME").apply
    ours = architectures.ConvTranspose4x4(cout, formulation).apply
    _assert_same_values_and_gradients(ours, theirs, params, x)


@pytest.mark.parametrize(
    "height, cin, cout, padding",
    [(64, 3, 32, ((1, 1), (1, 1))), (32, 32, 64, "SAME"), (9, 3, 5, "SAME")],
)
def test_s2d_value_under_differentiation_equals_flax_conv(height, cin, cout, padding):
    # s2d's 4x4 stride-2 convs evaluate by XLA's convolution unless differentiated; the
    # value a vjp (the train step) computes is the space-to-depth forward's.
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, height, height, cin)).astype(np.float32)
    params = {
        "params": {
            "kernel": rng.normal(size=(4, 4, cin, cout)).astype(np.float32),
            "bias": rng.normal(size=(cout,)).astype(np.float32),
        }
    }
    expected = nn.Conv(cout, (4, 4), (2, 2), padding=padding).apply(params, x)
    ours = architectures.Conv(cout, 4, 2, padding, conv="s2d").apply
    under_vjp = jax.jit(lambda p, x: jax.vjp(ours, p, x)[0])(params, x)
    plain = jax.jit(ours)(params, x)
    scale = float(jnp.max(jnp.abs(expected)))
    np.testing.assert_allclose(under_vjp, expected, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(plain, expected, rtol=0, atol=1e-5 * scale)


def test_auto_formulation_per_backend():
    assert convolutions.resolve("auto", "gpu") == convolutions.resolve("auto", "tpu") == "native"
    assert convolutions.resolve("auto", "cpu") == convolutions.AUTO["cpu"]
    assert convolutions.resolve("patches") == "patches"
    with pytest.raises(ValueError, match="'winograd'; valid: auto, native, patches, s2d"):
        convolutions.resolve("winograd")


def test_batch_norm_uses_batch_statistics_only_in_training():
    vae = architectures.make_vae("paper", 1, 4)
    x = jax.random.uniform(jax.random.key(0), (4, 64, 64, 1))
    # Example 0 is the same in both batches; its code may depend on the others only in training.
    others = x.at[1:].set(jax.random.uniform(jax.random.key(2), (3, 64, 64, 1)))
    # Random numpy variables: compiling flax's initialisers costs more than the test.
    rng = np.random.default_rng(0)

    def value(path, leaf):
        name = path[-1].key  # BatchNorm/LayerNorm scale and running var 1, running mean 0.
        if name in ("scale", "var", "mean"):
            return np.full(leaf.shape, name != "mean", np.float32)
        return rng.normal(scale=0.05, size=leaf.shape).astype(np.float32)

    abstract, _ = _abstract_variables(vae, 1)
    variables = jax.tree_util.tree_map_with_path(value, abstract)

    @jax.jit
    def encode(variables, images):
        return [
            vae.apply(variables, images, t, method="encode", mutable=True) for t in (False, True)
        ]

    [(eval_x, _), stats], [(train_x, _), new_stats] = encode(variables, x)
    [(eval_others, _), _], [(train_others, _), _] = encode(variables, others)
    np.testing.assert_allclose(eval_others[0], eval_x[0], rtol=1e-5, atol=1e-5)
    unchanged = jax.tree.map(np.array_equal, stats["batch_stats"], variables["batch_stats"])
    assert jax.tree.all(unchanged)
    assert np.max(np.abs(train_x[0] - train_others[0])) > 1e-3
    means = new_stats["batch_stats"]["encoder"]["BatchNorm_0"]["mean"]
    assert np.max(np.abs(means)) > 0  # The running mean moved from its zero init.


def test_unknown_architecture_and_wrong_channels_raise():
    with pytest.raises(ValueError, match="'resnet'.*dlib, paper"):
        architectures.make_vae("resnet", 1, 10)
    vae = architectures.make_vae("dlib", 3, 10)
    with pytest.raises(ValueError, match=r"\(2, 64, 64, 1\)"):
        vae.init(jax.random.key(0), jnp.zeros((2, 64, 64, 1)), False)
