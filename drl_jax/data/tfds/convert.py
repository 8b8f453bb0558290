"""Per-example conversions: one TFDS example (Image features as encoded bytes) -> uint8 image.

Each returns the image as it goes into a table: uint8 [64, 64, C] (or the source
size where the device resamples it, `unresized`). Area resampling; see `images`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from drl_jax.data.tfds import images

Example = Mapping[str, Any]


def to_64(example: Example, channels: int, scale: int = 1, key: str = "image") -> np.ndarray:
    """Feature `key` decoded to `channels`, times `scale`, resized to uint8 [64, 64, channels].

    `scale` maps stored classes to intensities: dSprites stores pixels as 0/1 (255).
    """
    image = images.decode(example[key], channels)
    return images.resize(image * np.uint8(scale) if scale != 1 else image)


def unresized(example: Example, channels: int, key: str = "image") -> np.ndarray:
    """Feature `key` decoded to `channels` at its stored size: uint8 [H, W, channels]."""
    return images.decode(example[key], channels)


def masked_rgb(example: Example) -> np.ndarray:
    """RGB-D Objects colour crop with its mask applied: uint8 [64, 64, 3].

    Pixels outside `mask` go black; the crop is centred on a black square, then
    area-resized, so the object keeps its aspect ratio.
    """
    rgb = images.decode(example["image"], 3)
    mask = _mask(example, rgb.shape[:2])
    return images.resize(images.pad_square(rgb * mask[..., None]))


def masked_depth(example: Example) -> np.ndarray:
    """RGB-D Objects depth crop as nearness within the object: uint8 [64, 64, 1].

    Inside the mask, pixels with a depth reading map linearly to [0, 1], the
    nearest point 1 and the farthest 0 (all 1 if the object is flat); the
    background and pixels without a reading (depth 0) are 0. Padded to a square
    and area-resized like `masked_rgb`.
    """
    depth = images.decode(example["depth"])[..., 0].astype(np.float32)
    valid = _mask(example, depth.shape) & (depth > 0)
    nearness = np.zeros(depth.shape, np.float32)
    if valid.any():
        near, far = depth[valid].min(), depth[valid].max()
        nearness[valid] = (far - depth[valid]) / (far - near) if far > near else 1.0
    small = images.resize(images.pad_square(nearness[..., None]))
    return np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)


def _mask(example: Example, shape: tuple[int, ...]) -> np.ndarray:
    mask = images.decode(example["mask"], 1)[..., 0] > 0
    if mask.shape != tuple(shape):
        raise ValueError(f"RGB-D Objects mask {mask.shape} does not match its crop {shape}.")
    return mask
