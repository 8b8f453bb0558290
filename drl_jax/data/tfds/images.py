"""Image bytes and sizes on the host: PNG without TensorFlow, area resizing, square padding.

TFDS encodes numpy images with `tf.image.encode_png`, so the builders here hand it
PNG bytes made by PIL instead (or the source files' own bytes), and the readers
decode with PIL. Shapes: H W C, C in {1, 3}.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from drl_jax.data.ground_truth import IMAGE_SIZE

_MODES = {1: "L", 3: "RGB"}


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 [H, W] or [H, W, C] (C 1 or 3), or uint16 [H, W(, 1)] -> PNG file bytes."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"png_bytes takes uint8 or uint16 images, got {image.dtype}.")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode(data: bytes, channels: int | None = None) -> np.ndarray:
    """PNG (or any PIL-readable) bytes -> [H, W, C]: uint8, or uint16 for 16-bit gray.

    `channels` (1 or 3) converts 8-bit images to gray or RGB; None keeps the file's.
    """
    with Image.open(io.BytesIO(data)) as image:
        if image.mode in ("I;16", "I;16B", "I"):
            return np.asarray(image, np.uint16)[..., None]
        if channels is not None and image.mode != _MODES[channels]:
            image = image.convert(_MODES[channels])
        array = np.asarray(image)
    return array if array.ndim == 3 else array[..., None]


def resize(image: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """[H, W, C] uint8 or float32 -> [size, size, C] of the same dtype.

    Area averaging (PIL's box filter) when shrinking, bilinear when growing, computed
    in float32 per channel and rounded to the nearest integer for uint8 (PIL's own
    8-bit box filter rounds a 2 x 2 mean of 0.25 up to 1).
    """
    height, width, channels = image.shape
    if (height, width) == (size, size):
        return image
    method = Image.Resampling.BOX if min(height, width) >= size else Image.Resampling.BILINEAR
    planes = np.stack(
        [
            np.asarray(
                Image.fromarray(image[..., c].astype(np.float32)).resize((size, size), method)
            )
            for c in range(channels)
        ],
        axis=-1,
    )
    if image.dtype == np.uint8:
        return np.clip(np.rint(planes), 0, 255).astype(np.uint8)
    return planes.astype(image.dtype)


def pad_square(image: np.ndarray) -> np.ndarray:
    """[H, W, C] -> [S, S, C] with S = max(H, W): the image centred on zeros."""
    height, width = image.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    padded = np.zeros((side, side) + image.shape[2:], image.dtype)
    padded[top : top + height, left : left + width] = image
    return padded
