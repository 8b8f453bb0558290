"""VAE encoders and decoders (docs/models.md#architectures) and FactorVAE's discriminator.

Two architectures, both for images float32 [B, 64, 64, C] in [0, 1] and a
latent of d dimensions:

* `paper`: the paper's. Encoder 3 x [conv 4x4 stride 2 (32, 64, 128) ->
  BatchNorm -> LeakyReLU(0.02)], flatten, LayerNorm, linear heads for mean
  and log-variance. Decoder: linear to 8x8x128 + LeakyReLU(0.02), 3 x
  [transposed conv 4x4 stride 2 (64, 32, C) -> LeakyReLU(0.02)], output
  (tanh(a) + 1) / 2.
* `dlib`: disentanglement_lib's standard conv architecture. Encoder conv
  (32, 32, 64, 64) with kernels (4, 4, 2, 2), stride 2, ReLU, dense 256 + ReLU,
  linear heads; decoder dense 256, dense 1024 (ReLU), reshape 4x4x64,
  transposed conv (64, 32, 32, C) kernel 4 stride 2 (ReLU between), logits.

One output convention: decoders return logits, reconstruction = sigmoid(logits).
The paper's (tanh(a) + 1) / 2 equals sigmoid(2a), so its logits are 2a.
BatchNorm (paper encoder) keeps running statistics in the `batch_stats`
collection; `train=True` normalises with the batch's statistics and updates them.

`Conv` and `ConvTranspose4x4` have flax's parameter names and layouts and equal
`nn.Conv` and `nn.ConvTranspose` in every formulation of `convolutions` (native,
patches, s2d; tests/models/test_architectures.py); `make_vae(..., conv="auto")` picks
the one measured fastest on the backend. The paper encoder's convs have no bias:
BatchNorm's offset makes it redundant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from drl_jax.data.ground_truth import IMAGE_SIZE
from drl_jax.models import convolutions

_PAPER_SLOPE = 0.02  # LeakyReLU negative slope of the paper's networks.


class Conv(nn.Module):
    """Equal to `nn.Conv(features, (size, size), (stride, stride), padding, use_bias=...)`.

    Same parameter names and shapes; `padding` is "SAME" or ((top, bottom), (left,
    right)); `conv` the formulation (convolutions.FORMULATIONS).
    """

    features: int
    size: int
    stride: int
    padding: str | tuple[tuple[int, int], tuple[int, int]]
    use_bias: bool = True
    conv: str = "native"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (self.size, self.size, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        padding = self.padding
        if padding == "SAME":
            padding = tuple(
                convolutions.same_padding(n, self.size, self.stride) for n in x.shape[1:3]
            )
        y = convolutions.conv(x, kernel, self.stride, padding, self.conv)
        if not self.use_bias:
            return y
        return y + self.param("bias", nn.initializers.zeros_init(), (self.features,))


class ConvTranspose4x4(nn.Module):
    """Transposed conv, kernel 4x4, stride 2, 'SAME': [B, H, W, Cin] -> [B, 2H, 2W, Cout].

    Equal to `nn.ConvTranspose(features, (4, 4), (2, 2), padding="SAME")` with the same
    `kernel` [4, 4, Cin, Cout] and `bias` [Cout] (same names, shapes, initialisers);
    `conv` the formulation (convolutions.FORMULATIONS).
    """

    features: int
    conv: str = "native"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (4, 4, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return convolutions.conv_transpose_4x4(x, kernel, self.conv) + bias


def _heads(x: jax.Array, latent_dim: int) -> tuple[jax.Array, jax.Array]:
    """Linear heads (inside the calling module): mean [B, d] and log-variance [B, d]."""
    return nn.Dense(latent_dim, name="mean")(x), nn.Dense(latent_dim, name="logvar")(x)


class PaperEncoder(nn.Module):
    """images [B, 64, 64, C] -> (mean [B, d], log-variance [B, d])."""

    latent_dim: int
    conv: str = "native"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        for features in (32, 64, 128):
            # No conv bias: BatchNorm's offset makes it redundant, and its gradient would be
            # rounding noise that Adam turns into +-lr steps.
            x = Conv(features, 4, 2, ((1, 1), (1, 1)), use_bias=False, conv=self.conv)(x)
            # momentum 0.9 and eps 1e-5 are PyTorch's BatchNorm2d defaults (the reference code).
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(x)
            x = nn.leaky_relu(x, _PAPER_SLOPE)
        x = nn.LayerNorm(epsilon=1e-5)(x.reshape(x.shape[0], -1))
        return _heads(x, self.latent_dim)


class PaperDecoder(nn.Module):
    """codes [B, d] -> logits [B, 64, 64, C] (2a, where the paper outputs (tanh(a) + 1) / 2)."""

    channels: int
    conv: str = "native"

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        del train  # No batch statistics in the decoder.
        x = nn.leaky_relu(nn.Dense(8 * 8 * 128)(z), _PAPER_SLOPE).reshape(-1, 8, 8, 128)
        for features in (64, 32, self.channels):
            x = nn.leaky_relu(ConvTranspose4x4(features, self.conv)(x), _PAPER_SLOPE)
        return 2.0 * x


class DlibEncoder(nn.Module):
    """disentanglement_lib `conv_encoder`: images [B, 64, 64, C] -> (mean, log-variance) [B, d]."""

    latent_dim: int
    conv: str = "native"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        del train  # No batch statistics.
        for features, size in ((32, 4), (32, 4), (64, 2), (64, 2)):
            x = nn.relu(Conv(features, size, 2, "SAME", conv=self.conv)(x))
        x = nn.relu(nn.Dense(256)(x.reshape(x.shape[0], -1)))
        return _heads(x, self.latent_dim)


class DlibDecoder(nn.Module):
    """disentanglement_lib `deconv_decoder`: codes [B, d] -> logits [B, 64, 64, C]."""

    channels: int
    conv: str = "native"

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        del train  # No batch statistics.
        x = nn.relu(nn.Dense(256)(z))
        x = nn.relu(nn.Dense(1024)(x)).reshape(-1, 4, 4, 64)
        for features in (64, 32, 32):
            x = nn.relu(ConvTranspose4x4(features, self.conv)(x))
        return ConvTranspose4x4(self.channels, self.conv)(x)


class VAE(nn.Module):
    """A Gaussian encoder and a Bernoulli-logit decoder.

    `init(key, images, train=False)` creates `params` (and `batch_stats` where the
    encoder has BatchNorm); `apply(..., method="encode")` / `method="decode"` run
    each half, with `mutable=["batch_stats"]` when `train=True`.
    """

    encoder: nn.Module
    decoder: nn.Module

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        """images [B, 64, 64, C] -> logits of the reconstruction of the posterior mean."""
        mean, _ = self.encode(x, train)
        return self.decode(mean, train)

    def encode(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        """images float32 [B, 64, 64, C] in [0, 1] -> (mean [B, d], log-variance [B, d])."""
        expected = (IMAGE_SIZE, IMAGE_SIZE, self.decoder.channels)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(
                f"VAE expects images [B, {', '.join(map(str, expected))}], got {x.shape}."
            )
        return self.encoder(x, train)

    def decode(self, z: jax.Array, train: bool) -> jax.Array:
        """codes float32 [B, d] -> logits float32 [B, 64, 64, C]; image = sigmoid(logits)."""
        return self.decoder(z, train)


def over_models(
    vae: VAE, fn: Callable[..., Any], spmd_axis_name: str | None = None
) -> Callable[..., Any]:
    """`fn(stacked, *shared)` over the leading model axis of `stacked` (a pytree [M, ...]);
    the `shared` arguments are the same for every model, the outputs gain the M axis.

    `jax.vmap`, except on CPU with the native and s2d formulations: there a vmapped
    convolution with per-model kernels becomes a grouped one, which XLA:CPU runs
    more slowly per model than M plain ones, so the models run one after another
    (`lax.map`, each model at full speed; one program either way).
    """
    if models_in_sequence(vae):
        return lambda stacked, *shared: jax.lax.map(lambda one: fn(one, *shared), stacked)
    return lambda stacked, *shared: jax.vmap(
        lambda one: fn(one, *shared), spmd_axis_name=spmd_axis_name
    )(stacked)


# Rows per block of an inference pass (`in_blocks`), per backend: on XLA:CPU a batch's
# activations outgrow the caches, and blocks of 32 images run the encoders faster than
# whole batches (benchmarks/bench_train.py, README "Speed"). GPUs and TPUs take the
# batch whole.
INFERENCE_BLOCK = {"cpu": 32}


def in_blocks(fn: Callable[..., Any], *batch: jax.Array, block: int | None = None) -> Any:
    """`fn(*batch)` for a per-example fn, computed in blocks of `block` rows.

    `batch`: arrays with a common leading axis B; fn maps arrays [b, ...] to outputs [b, ...]
    row by row (an inference pass: no batch statistics). `lax.map` over blocks (one compile,
    one block's activations live at a time); the last block is zero-padded and its padding
    dropped, so every row is computed in a block of the same shape whatever B is.
    `block` None: the backend's INFERENCE_BLOCK; where there is none, one call fn(*batch).
    """
    block = block or INFERENCE_BLOCK.get(jax.default_backend())
    if block is None:
        return fn(*batch)
    rows = batch[0].shape[0]
    blocks = -(-rows // block)
    padded = [
        jnp.pad(x, [(0, blocks * block - rows)] + [(0, 0)] * (x.ndim - 1)).reshape(
            blocks, block, *x.shape[1:]
        )
        for x in batch
    ]
    outputs = jax.lax.map(lambda xs: fn(*xs), padded)
    return jax.tree.map(lambda y: y.reshape(blocks * block, *y.shape[2:])[:rows], outputs)


def models_in_sequence(vae: VAE) -> bool:
    """Whether `over_models` runs the models one after another (`lax.map`: their buffers
    shared, so a call's memory does not grow with its models) rather than vmapped."""
    return jax.default_backend() == "cpu" and vae.encoder.conv != "patches"


ARCHITECTURES = {
    "paper": (PaperEncoder, PaperDecoder),
    "dlib": (DlibEncoder, DlibDecoder),
}


def make_vae(architecture: str, channels: int, latent_dim: int, conv: str = "auto") -> VAE:
    """The VAE of `architecture` (one of ARCHITECTURES) for C=`channels` images, d=`latent_dim`.

    `conv`: the convolution formulation (convolutions.FORMULATIONS, or "auto": the one
    measured fastest on JAX's default backend). All give the same parameters and values.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r}; valid: {', '.join(sorted(ARCHITECTURES))}."
        )
    if channels < 1 or latent_dim < 1:
        raise ValueError(f"channels and latent_dim must be >= 1, got {channels}, {latent_dim}.")
    encoder, decoder = ARCHITECTURES[architecture]
    conv = convolutions.resolve(conv)
    return VAE(encoder(latent_dim, conv), decoder(channels, conv))


class Discriminator(nn.Module):
    """FactorVAE's discriminator: codes [B, d] -> logits [B, 2] (0: joint q(z), 1: permuted).

    An MLP of `depth` hidden layers of `width` units with LeakyReLU(0.2), as in the
    FactorVAE paper (Kim and Mnih 2018, appendix: 6 layers of 1000).
    """

    width: int = 1000
    depth: int = 6

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            z = nn.leaky_relu(nn.Dense(self.width)(z), 0.2)
        return nn.Dense(2)(z)
