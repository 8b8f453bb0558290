"""The architectures' convolutions in three formulations, equal in value and gradient.

Every formulation computes flax's `nn.Conv` (stride 1 or 2) and `nn.ConvTranspose`
(kernel 4, stride 2, "SAME"), in NHWC / HWIO layouts, without bias:

* "native": `lax.conv_general_dilated` and `lax.conv_transpose`, what flax runs. The
  form for GPUs and TPUs. On XLA:CPU a convolution's kernel gradient inside a while
  loop (the train step's `lax.scan`) falls off the fast path (jax-ml/jax#12868), a
  transposed conv's gradient is slow even outside loops, and a vmapped model axis makes
  every conv a grouped one.
* "patches": the kh * kw shifted views of the input gathered and multiplied by the
  kernel in one matmul (transposed convs by their four output phases); its backward
  is slices, pads and dots, fast in loops on CPU, at the cost of materialising the
  views (16 per 4x4 conv).
* "s2d": everything as one stride-1 2x2 convolution (`conv2x2`) with a custom
  gradient. A stride-2 conv with an even kernel is a stride-1 conv of the
  space-to-depth input (kernel k/2, 4 x Cin channels); a 4x4 stride-2 transposed conv
  is one 2x2 conv of the padded input with 4 x Cout outputs, one per output phase
  (the same multiply count, no zeros). `conv2x2` computes narrowing convs (outputs <=
  inputs) as one matmul to the four taps' outputs summed over shifted windows, and
  widening ones by XLA's convolution (each the faster on XLA:CPU, where convolutions
  run on one thread and matmuls on all cores); its input gradient is again a
  forward-type 2x2 conv and its kernel gradient four matmuls: no backward-filter
  convolution, the op XLA:CPU runs slowly (worst inside loops). A 4x4 stride-2 conv
  that is evaluated but not differentiated (encoding, evaluation) is XLA's convolution,
  the faster forward pass on XLA:CPU; differentiated, it is the space-to-depth conv,
  forward and backward (a `custom_vjp`: the train step's program is unchanged).

`FORMULATIONS` lists them; "auto" (`resolve`) picks, per backend, the one measured
fastest (benchmarks/bench_train.py, README "Speed").
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

FORMULATIONS = ("native", "patches", "s2d")
# Per backend: the formulation "auto" resolves to (chosen by benchmarks/bench_train.py).
AUTO = {"cpu": "s2d", "gpu": "native", "tpu": "native"}
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")

Padding = tuple[tuple[int, int], tuple[int, int]]


def resolve(formulation: str, backend: str | None = None) -> str:
    """A formulation name, "auto" replaced by the one for `backend` (default: JAX's)."""
    if formulation == "auto":
        return AUTO.get(backend or jax.default_backend(), "native")
    if formulation not in FORMULATIONS:
        raise ValueError(
            f"Unknown conv formulation {formulation!r}; valid: auto, {', '.join(FORMULATIONS)}."
        )
    return formulation


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF/flax 'SAME' padding of one spatial axis: (low, high), the extra pixel high."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv(
    x: jax.Array, kernel: jax.Array, stride: int, padding: Padding, formulation: str
) -> jax.Array:
    """2D convolution, no bias: `lax.conv_general_dilated(x, kernel, (stride,) * 2, padding)`.

    Args:
      x: float32 [B, H, W, Cin].
      kernel: float32 [kh, kw, Cin, Cout].
      stride: 1 or 2, the same for both spatial axes.
      padding: ((top, bottom), (left, right)) zero padding.
      formulation: one of FORMULATIONS.

    Returns:
      float32 [B, Ho, Wo, Cout], Ho = (H + top + bottom - kh) // stride + 1, same for Wo.
    """
    if formulation == "native":
        return jax.lax.conv_general_dilated(
            x, kernel, (stride, stride), padding, dimension_numbers=_DIMENSIONS
        )
    if formulation == "patches":
        return _patches_conv(x, kernel, stride, padding)
    if formulation == "s2d":
        if kernel.shape[:2] == (4, 4) and stride == 2:
            return _s2d_conv_4x4(x, kernel, tuple(map(tuple, padding)))
        return _s2d_conv(x, kernel, stride, padding)
    raise ValueError(f"Unknown conv formulation {formulation!r}; valid: {FORMULATIONS}.")


def conv_transpose_4x4(x: jax.Array, kernel: jax.Array, formulation: str) -> jax.Array:
    """`nn.ConvTranspose(Cout, (4, 4), (2, 2), padding="SAME")` without bias.

    Args:
      x: float32 [B, H, W, Cin].
      kernel: float32 [4, 4, Cin, Cout] (flax's layout: not flipped).
      formulation: one of FORMULATIONS.

    Returns:
      float32 [B, 2H, 2W, Cout].
    """
    if formulation == "native":
        return jax.lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=_DIMENSIONS)
    if formulation == "patches":
        # Output pixel (2p + a, 2q + b) meets only the taps kernel[a::2, b::2]: each phase is
        # a stride-1 2x2 conv; even rows read input rows (p - 1, p), odd ones (p, p + 1).
        pads = ((1, 0), (0, 1))
        rows = [
            jnp.stack(
                [_patches_conv(x, kernel[a::2, b::2], 1, (pads[a], pads[b])) for b in (0, 1)],
                axis=3,
            )
            for a in (0, 1)
        ]  # Each [B, H, W, 2 (b), Cout].
        y = jnp.stack(rows, axis=2)  # [B, H, 2 (a), W, 2 (b), Cout]
    elif formulation == "s2d":
        y = _s2d_conv_transpose(x, kernel)
    else:
        raise ValueError(f"Unknown conv formulation {formulation!r}; valid: {FORMULATIONS}.")
    batch, height, _, width, _, cout = y.shape
    return y.reshape(batch, 2 * height, 2 * width, cout)


def _patches_conv(x, kernel, stride, padding):
    """Patches (strided slices) times a matrix. XLA:CPU runs a convolution's kernel gradient
    slowly inside a while loop (jax-ml/jax#12868), while dots are unaffected."""
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


def _windows(x: jax.Array, height: int, width: int) -> list[jax.Array]:
    """The four [B, height, width, C] windows of x at offsets (i, j), (i, j) in {0, 1}^2."""
    return [x[:, i : i + height, j : j + width] for i in (0, 1) for j in (0, 1)]


def _forward_conv2x2(u: jax.Array, kernel: jax.Array) -> jax.Array:
    """`conv2x2`'s value. With fewer outputs than inputs (O <= C): one matmul of u to the
    four taps' outputs [B, H, W, 4 O], summed over shifted windows (XLA:CPU's own conv of
    these shapes is slower); else XLA's convolution, the faster there."""
    batch, height, width, channels = u.shape
    outputs = kernel.shape[-1]
    if outputs > channels:
        return jax.lax.conv_general_dilated(
            u, kernel, (1, 1), "VALID", dimension_numbers=_DIMENSIONS
        )
    taps = kernel.transpose(2, 0, 1, 3).reshape(channels, 4 * outputs)
    y = (u.reshape(-1, channels) @ taps).reshape(batch, height, width, 4 * outputs)
    shifted = _windows(y, height - 1, width - 1)
    return sum(w[..., k * outputs : (k + 1) * outputs] for k, w in enumerate(shifted))


@jax.custom_vjp
def conv2x2(u: jax.Array, kernel: jax.Array) -> jax.Array:
    """Stride-1 'VALID' 2x2 conv: u [B, H, W, C], kernel [2, 2, C, O] -> [B, H-1, W-1, O].

    Its input gradient is again a forward conv; its kernel gradient four matmuls, never
    XLA's backward-filter convolution (slow on XLA:CPU, worst inside loops). XLA:CPU runs its
    convolutions on one thread and its matmuls on every core.
    """
    return _forward_conv2x2(u, kernel)


def _conv2x2_forward(u, kernel):
    return _forward_conv2x2(u, kernel), (u, kernel)


def _conv2x2_backward(residuals, dy):
    u, kernel = residuals
    _, height, width, channels = u.shape
    outputs = kernel.shape[-1]
    # du[p] = sum_ij dy[p - ij] kernel[ij]^T: the full conv of dy with the flipped kernel.
    flipped = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
    du = _forward_conv2x2(jnp.pad(dy, ((0, 0), (1, 1), (1, 1), (0, 0))), flipped)
    # dkernel[ij] = sum_p u[p + ij] dy[p]: one matmul per tap, of u's window with dy, or
    # (fewer outputs) of all of u with dy shifted by ij.
    flat_dy = dy.reshape(-1, outputs)
    if channels <= outputs:
        taps = [w.reshape(-1, channels).T @ flat_dy for w in _windows(u, height - 1, width - 1)]
    else:
        flat_u = u.reshape(-1, channels)
        taps = [
            flat_u.T @ jnp.pad(dy, ((0, 0), (i, 1 - i), (j, 1 - j), (0, 0))).reshape(-1, outputs)
            for i in (0, 1)
            for j in (0, 1)
        ]
    return du, jnp.stack(taps).reshape(2, 2, channels, outputs)


conv2x2.defvjp(_conv2x2_forward, _conv2x2_backward)


def _space_to_depth(x: jax.Array) -> jax.Array:
    """[B, 2H, 2W, C] -> [B, H, W, 4C], channels in (row offset, column offset, c) order."""
    batch, height, width, channels = x.shape
    x = x.reshape(batch, height // 2, 2, width // 2, 2, channels).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(batch, height // 2, width // 2, 4 * channels)


def _s2d_conv(x, kernel, stride, padding):
    kh, kw, cin, cout = kernel.shape
    x = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    if stride == 1:
        if (kh, kw) != (2, 2):
            raise ValueError(f"s2d: stride-1 convs must be 2x2, got kernel {kernel.shape}.")
        return conv2x2(x, kernel)
    if stride != 2 or kh % 2 or kw % 2:
        raise ValueError(
            f"s2d: stride 2 needs an even kernel, got {kernel.shape}, stride {stride}."
        )
    height = (x.shape[1] - kh) // 2 + 1
    width = (x.shape[2] - kw) // 2 + 1
    u = _space_to_depth(x[:, : 2 * height + kh - 2, : 2 * width + kw - 2])
    # kernel[2a + r, 2b + s, c] -> kernel2[a, b, (r, s, c)], matching the input's channels.
    kernel2 = kernel.reshape(kh // 2, 2, kw // 2, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5)
    kernel2 = kernel2.reshape(kh // 2, kw // 2, 4 * cin, cout)
    if (kh, kw) == (2, 2):  # a 1x1 conv of the space-to-depth input: a matmul
        return u @ kernel2[0, 0]
    if (kh, kw) != (4, 4):
        raise ValueError(f"s2d: stride-2 convs must be 2x2 or 4x4, got kernel {kernel.shape}.")
    return conv2x2(u, kernel2)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _s2d_conv_4x4(x: jax.Array, kernel: jax.Array, padding: Padding) -> jax.Array:
    """The s2d formulation's 4x4 stride-2 conv. Evaluated without a gradient (encoding),
    its value is XLA's convolution, the faster forward on XLA:CPU for these shapes;
    differentiated, it is the space-to-depth conv (`_s2d_conv`), forward and backward,
    whose gradient never runs a backward-filter convolution."""
    return jax.lax.conv_general_dilated(x, kernel, (2, 2), padding, dimension_numbers=_DIMENSIONS)


def _s2d_conv_4x4_forward(x, kernel, padding):
    return jax.vjp(lambda x, kernel: _s2d_conv(x, kernel, 2, padding), x, kernel)


def _s2d_conv_4x4_backward(padding, vjp, dy):
    del padding
    return vjp(dy)


_s2d_conv_4x4.defvjp(_s2d_conv_4x4_forward, _s2d_conv_4x4_backward)


def _s2d_conv_transpose(x, kernel):
    """[B, H, W, Cin] -> phases [B, H, 2 (a), W, 2 (b), Cout] of the 4x4 stride-2 transposed
    conv, from one 2x2 conv of pad(x, 1) with 4 x Cout outputs."""
    cin, cout = kernel.shape[2:]
    # Phase (a, b) at output position P of the padded input reads rows P + a - 1 ... so a 2x2
    # window at P holds phase a = 0 of p = P and phase a = 1 of p = P - 1 (same for columns).
    phases = jnp.stack(
        [jnp.stack([kernel[a::2, b::2] for b in (0, 1)], axis=2) for a in (0, 1)], axis=2
    )  # [2, 2, 2 (a), 2 (b), Cin, Cout]
    phases = phases.transpose(0, 1, 4, 2, 3, 5).reshape(2, 2, cin, 4 * cout)
    z = conv2x2(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), phases)  # [B, H+1, W+1, 4 Cout]
    batch, height, width = z.shape[0], z.shape[1] - 1, z.shape[2] - 1
    z = z.reshape(batch, height + 1, width + 1, 2, 2, cout)
    rows = [
        jnp.stack([z[:, a : a + height, b : b + width, a, b] for b in (0, 1)], axis=3)
        for a in (0, 1)
    ]  # each [B, H, W, 2 (b), Cout]
    return jnp.stack(rows, axis=2)
