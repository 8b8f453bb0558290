"""VAE encoders and decoders (SPEC section 3) and FactorVAE's discriminator.

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

Convolutions are computed as patches times a matrix (`conv2d`, `Conv`,
`ConvTranspose4x4`) with flax's parameter names and layouts, and equal `nn.Conv` and
`nn.ConvTranspose` (tests/models/test_architectures.py). On 2 shared CPU cores, one
train step of batch 64 inside the K-step `lax.scan` took 1.3 s (paper) and 0.8 s
(dlib) this way, against 26 s and 8.5 s with flax's modules. The paper encoder's convs
have no bias: BatchNorm's offset makes it redundant.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from drl_jax.data.ground_truth import IMAGE_SIZE

_PAPER_SLOPE = 0.02  # LeakyReLU negative slope of the paper's networks.


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF/flax 'SAME' padding of one spatial axis: (low, high), the extra pixel high."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(
    x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[tuple[int, int], ...]
) -> jax.Array:
    """2D convolution as patches (strided slices) times a matrix, no bias.

    Equal to `lax.conv_general_dilated(x, kernel, (stride,) * 2, padding)` in NHWC/HWIO.
    Gathering the kh * kw shifted views and contracting them with one matmul keeps the
    backward pass made of slices, pads and dots: XLA:CPU runs a convolution's
    kernel-gradient 10-20x slower inside a while loop (the train step's `lax.scan`;
    jax-ml/jax#12868), while dots are unaffected.

    Args:
      x: float32 [B, H, W, Cin].
      kernel: float32 [kh, kw, Cin, Cout].
      stride: the same for both spatial axes.
      padding: ((top, bottom), (left, right)) zero padding.

    Returns:
      float32 [B, Ho, Wo, Cout], Ho = (H + top + bottom - kh) // stride + 1, same for Wo.
    """
    kh, kw, cin, cout = kernel.shape
    x = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    height = (x.shape[1] - kh) // stride + 1
    width = (x.shape[2] - kw) // stride + 1
    views = [
        x[:, i : i + stride * (height - 1) + 1 : stride, j : j + stride * (width - 1) + 1 : stride]
        for i in range(kh)
        for j in range(kw)
    ]
    patches = jnp.concatenate(views, axis=-1)  # [B, Ho, Wo, kh * kw * Cin], (i, j, c) order.
    return patches @ kernel.reshape(kh * kw * cin, cout)


class Conv(nn.Module):
    """Equal to `nn.Conv(features, (size, size), (stride, stride), padding, use_bias=...)`.

    Same parameter names and shapes; `padding` is "SAME" or ((top, bottom), (left,
    right)). Computed by `conv2d`.
    """

    features: int
    size: int
    stride: int
    padding: str | tuple[tuple[int, int], tuple[int, int]]
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (self.size, self.size, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        padding = self.padding
        if padding == "SAME":
            padding = tuple(_same_padding(n, self.size, self.stride) for n in x.shape[1:3])
        y = conv2d(x, kernel, self.stride, padding)
        if not self.use_bias:
            return y
        return y + self.param("bias", nn.initializers.zeros_init(), (self.features,))


class ConvTranspose4x4(nn.Module):
    """Transposed conv, kernel 4x4, stride 2, 'SAME': [B, H, W, Cin] -> [B, 2H, 2W, Cout].

    Equal to `nn.ConvTranspose(features, (4, 4), (2, 2), padding="SAME")` with the same
    `kernel` [4, 4, Cin, Cout] and `bias` [Cout] (same names, shapes, initialisers), by
    phase decomposition: output pixel (2p + a, 2q + b) only meets the taps
    kernel[a::2, b::2], so each of the four phases is a stride-1 2x2 conv of the input
    (`conv2d`), interleaved by depth-to-space. This skips the zeros that the
    dilated-input form multiplies (4x fewer FLOPs).
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (4, 4, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        # Even output rows read input rows (p - 1, p): pad before; odd rows (p, p + 1): after.
        pads = ((1, 0), (0, 1))
        rows = [
            jnp.stack(
                [conv2d(x, kernel[a::2, b::2], 1, (pads[a], pads[b])) for b in (0, 1)], axis=3
            )
            for a in (0, 1)
        ]  # Each [B, H, W, 2 (b), Cout].
        y = jnp.stack(rows, axis=2)  # [B, H, 2 (a), W, 2 (b), Cout]
        batch, height, _, width, _, _ = y.shape
        return y.reshape(batch, 2 * height, 2 * width, self.features) + bias


def _heads(x: jax.Array, latent_dim: int) -> tuple[jax.Array, jax.Array]:
    """Linear heads (inside the calling module): mean [B, d] and log-variance [B, d]."""
    return nn.Dense(latent_dim, name="mean")(x), nn.Dense(latent_dim, name="logvar")(x)


class PaperEncoder(nn.Module):
    """images [B, 64, 64, C] -> (mean [B, d], log-variance [B, d])."""

    latent_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        for features in (32, 64, 128):
            # No conv bias: BatchNorm's offset makes it redundant, and its gradient would be
            # rounding noise that Adam turns into +-lr steps.
            x = Conv(features, 4, 2, ((1, 1), (1, 1)), use_bias=False)(x)
            # momentum 0.9 and eps 1e-5 are PyTorch's BatchNorm2d defaults (the reference code).
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(x)
            x = nn.leaky_relu(x, _PAPER_SLOPE)
        x = nn.LayerNorm(epsilon=1e-5)(x.reshape(x.shape[0], -1))
        return _heads(x, self.latent_dim)


class PaperDecoder(nn.Module):
    """codes [B, d] -> logits [B, 64, 64, C] (2a, where the paper outputs (tanh(a) + 1) / 2)."""

    channels: int

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        del train  # No batch statistics in the decoder.
        x = nn.leaky_relu(nn.Dense(8 * 8 * 128)(z), _PAPER_SLOPE).reshape(-1, 8, 8, 128)
        for features in (64, 32, self.channels):
            x = nn.leaky_relu(ConvTranspose4x4(features)(x), _PAPER_SLOPE)
        return 2.0 * x


class DlibEncoder(nn.Module):
    """disentanglement_lib `conv_encoder`: images [B, 64, 64, C] -> (mean, log-variance) [B, d]."""

    latent_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        del train  # No batch statistics.
        for features, size in ((32, 4), (32, 4), (64, 2), (64, 2)):
            x = nn.relu(Conv(features, size, 2, "SAME")(x))
        x = nn.relu(nn.Dense(256)(x.reshape(x.shape[0], -1)))
        return _heads(x, self.latent_dim)


class DlibDecoder(nn.Module):
    """disentanglement_lib `deconv_decoder`: codes [B, d] -> logits [B, 64, 64, C]."""

    channels: int

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        del train  # No batch statistics.
        x = nn.relu(nn.Dense(256)(z))
        x = nn.relu(nn.Dense(1024)(x)).reshape(-1, 4, 4, 64)
        for features in (64, 32, 32):
            x = nn.relu(ConvTranspose4x4(features)(x))
        return ConvTranspose4x4(self.channels)(x)


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


ARCHITECTURES = {
    "paper": (PaperEncoder, PaperDecoder),
    "dlib": (DlibEncoder, DlibDecoder),
}


def make_vae(architecture: str, channels: int, latent_dim: int) -> VAE:
    """The VAE of `architecture` (one of ARCHITECTURES) for C=`channels` images, d=`latent_dim`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r}; valid: {', '.join(sorted(ARCHITECTURES))}."
        )
    if channels < 1 or latent_dim < 1:
        raise ValueError(f"channels and latent_dim must be >= 1, got {channels}, {latent_dim}.")
    encoder, decoder = ARCHITECTURES[architecture]
    return VAE(encoder(latent_dim), decoder(channels))


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
