"""Coil100-Augmented rendered on the device from COIL-100's 7,200 base images.

Every COIL-100 image (object 100 x pose 72; docs/datasets.md#coil100-augmented) rotated
in the image plane in 18 steps of 20 degrees and shrunk about the centre in 9 steps from 1.0
to 0.5 on black: 1,166,400 images, never stored. The base table, uint8
[objects * 72, 128, 128, 3] (354 MB for all 100 objects), stays on the device;
`observe` samples each 64 x 64 output pixel bilinearly from it. At rotation 0 and
scale 1.0 each output pixel's sample point falls between 2 x 2 base pixels, so
the image equals the 2 x 2 area-downsampled photograph.

Rotation is counter-clockwise as displayed (OpenCV's sign convention, which the
reference code's augmentation used); the scales are linspace(1.0, 0.5, 9) exactly
(the reference rounded them to 2 decimals in its file names only).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import IMAGE_SIZE, GridData

ROTATION_STEPS = 18  # 20 degrees apart
SCALE_STEPS = 9  # 1.0, 0.9375, ..., 0.5
SMALLEST_SCALE = 0.5


def rotation_radians(rotation: jax.typing.ArrayLike) -> jax.Array:
    """Rotation class int [...] -> angle float32 [...], radians counter-clockwise."""
    return jnp.asarray(rotation, jnp.float32) * jnp.float32(2.0 * math.pi / ROTATION_STEPS)


def scale_factor(scale: jax.typing.ArrayLike) -> jax.Array:
    """Scale class int [...] -> size factor float32 [...], 1.0 for class 0 to 0.5 for the last."""
    step = (1.0 - SMALLEST_SCALE) / (SCALE_STEPS - 1)
    return 1.0 - jnp.asarray(scale, jnp.float32) * jnp.float32(step)


def rotate_and_scale(
    table: jax.Array, rows: jax.Array, angle: jax.Array, scale: jax.Array, size: int = IMAGE_SIZE
) -> jax.Array:
    """Renders table images rotated and scaled about their centre, on black.

    Args:
      table: uint8 [N, S, S, C] square base images.
      rows: int [B] which base image each output shows.
      angle: float32 [B] counter-clockwise rotation, radians.
      scale: float32 [B] > 0, size of the object relative to the base image.
      size: output side in pixels; the output spans the whole base image.

    Returns:
      float32 [B, size, size, C] in [0, 1]; bilinear samples, 0 outside the base.
    """
    side = table.shape[1]
    # Output pixel centres in base pixels, relative to the image centre.
    offsets = (jnp.arange(size, dtype=jnp.float32) + 0.5) * (side / size) - side / 2
    v, u = offsets[:, None], offsets[None, :]  # rows (down), columns (right)
    cos = (jnp.cos(angle) / scale)[:, None, None]
    sin = (jnp.sin(angle) / scale)[:, None, None]
    # Inverse map: output (u, v) comes from the base point rotated back and unscaled.
    x = u * cos - v * sin + (side / 2 - 0.5)
    y = u * sin + v * cos + (side / 2 - 0.5)
    x0, y0 = jnp.floor(x), jnp.floor(y)
    wx, wy = x - x0, y - y0
    rows = jnp.asarray(rows)[:, None, None]
    image = 0.0
    for dy, weight_y in ((0, 1.0 - wy), (1, wy)):
        for dx, weight_x in ((0, 1.0 - wx), (1, wx)):
            xi, yi = (x0 + dx).astype(jnp.int32), (y0 + dy).astype(jnp.int32)
            inside = (xi >= 0) & (xi < side) & (yi >= 0) & (yi < side)
            tap = table[rows, jnp.clip(yi, 0, side - 1), jnp.clip(xi, 0, side - 1)]
            weight = jnp.where(inside, weight_x * weight_y, 0.0)[..., None]
            image = image + weight * tap.astype(jnp.float32)
    return image / 255.0


def augmented_space(base_space: FactorSpace) -> FactorSpace:
    """(object, pose) -> (object, pose, rotation, scale)."""
    return FactorSpace(
        base_space.names + ("rotation", "scale"), base_space.sizes + (ROTATION_STEPS, SCALE_STEPS)
    )


def from_base(name: str, base_space: FactorSpace, table: np.ndarray) -> GridData:
    """Coil100-Augmented as a grid over (object, pose, rotation, scale).

    Args:
      name: dataset name.
      base_space: FactorSpace (object, pose) of the base images.
      table: uint8 [base_space.num_states, S, S, C], row i the base image of state i.

    Returns:
      A GridData whose `observe` renders float32 [B, 64, 64, C] on the device.
    """
    if table.shape[0] != base_space.num_states or table.shape[1] != table.shape[2]:
        raise ValueError(
            f"{name}: expected square base images [{base_space.num_states}, S, S, C], "
            f"got {table.shape}."
        )
    space = augmented_space(base_space)

    def render(arrays, factors, key):
        del key
        rows = base_space.index(factors[:, :2])
        angle, scale = rotation_radians(factors[:, 2]), scale_factor(factors[:, 3])
        return rotate_and_scale(arrays["base_images"], rows, angle, scale)

    return GridData(
        {"base_images": jnp.asarray(table, jnp.uint8)}, name, space, table.shape[-1], render
    )
