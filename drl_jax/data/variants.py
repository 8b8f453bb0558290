"""Dataset variants: pure functions from a `GridData` to a new `GridData`.

Each wraps the base dataset's `render`, so variants compose in any order that
makes sense (`noisy(color(dsprites))` is Noisy-Color-dSprites); docs/datasets.md#variants.
Images are float32 [B, H, W, C] in [0, 1].
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData, LabelledData

# Color-dSprites' 7 sprite colors: white, then seaborn.husl_palette(6, h=0.1, s=0.7, l=0.7),
# the palette of the reference implementation. RGB in [0, 1].
SPRITE_COLORS = np.array(
    [
        [1.0, 1.0, 1.0],
        [0.9096, 0.5883, 0.3658],
        [0.6350, 0.6928, 0.3627],
        [0.3765, 0.7284, 0.5963],
        [0.3955, 0.7074, 0.7875],
        [0.6964, 0.6221, 0.8997],
        [0.9082, 0.5511, 0.7494],
    ],
    np.float32,
)

# Luminance weights (ITU-R BT.601) for RGB -> gray.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _derive(data: GridData, name: str, render, *, space=None, channels=None, arrays=None):
    return dataclasses.replace(
        data,
        name=name,
        render=render,
        space=space or data.space,
        channels=channels or data.channels,
        arrays=dict(data.arrays) | (arrays or {}),
    )


def _foreground(images: jax.Array) -> jax.Array:
    """Sprite mask float32 [B, H, W, 1]: pixels of a black-background image that are lit."""
    return (jnp.max(images, axis=-1, keepdims=True) > 0.5).astype(jnp.float32)


def color(data: GridData) -> GridData:
    """Prepends a `color` FoV (7 classes) that tints the sprite; output RGB."""
    space = FactorSpace(("color",) + data.space.names, (len(SPRITE_COLORS),) + data.space.sizes)
    base = data.render

    def render(arrays, factors, key):
        images = base(arrays, factors[:, 1:], key)
        tint = arrays["sprite_colors"][factors[:, 0]][:, None, None, :]
        return _foreground(images) * tint

    return _derive(
        data,
        f"color_{data.name}",
        render,
        space=space,
        channels=3,
        arrays={"sprite_colors": jnp.asarray(SPRITE_COLORS)},
    )


def noisy(data: GridData) -> GridData:
    """Replaces the black background by uniform RGB noise, fresh on every observation."""
    base = data.render

    def render(arrays, factors, key):
        base_key, noise_key = jax.random.split(key)
        images = base(arrays, factors, base_key)
        if images.shape[-1] == 1:
            images = jnp.repeat(images, 3, axis=-1)
        noise = jax.random.uniform(noise_key, images.shape, images.dtype)
        mask = _foreground(images)
        return mask * images + (1.0 - mask) * noise

    return _derive(data, f"noisy_{data.name}", render, channels=3)


def procedural_texture(size: int = 256, seed: int = 0) -> np.ndarray:
    """A painting-like RGB texture float32 [size, size, 3] in [0, 1]: smooth swirls of colour.

    The default background of `scream`, so that Scream-dSprites runs with no download.
    """
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    channels = []
    for _ in range(3):
        field = np.zeros_like(x)
        for _ in range(6):
            fx, fy, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
            warp = np.sin(2 * np.pi * (fy * y + rng.uniform())) * rng.uniform(0.2, 0.6)
            field += np.sin(2 * np.pi * fx * (x + warp) + phase)
        channels.append(field)
    texture = np.stack(channels, axis=-1)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    return texture.astype(np.float32)


def load_background(path: str | Path, size: int = 256) -> np.ndarray:
    """Reads any RGB image file as a background float32 [size, size, 3] in [0, 1]."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Scream background image {path} does not exist: pass an existing image file "
            "(PNG or JPEG), or leave the background empty for the built-in texture."
        )
    with Image.open(path) as image:
        image = image.convert("RGB").resize((size, size), Image.BILINEAR)
        return np.asarray(image, np.float32) / 255.0


def scream(data: GridData, background: np.ndarray | None = None) -> GridData:
    """Sprite cut out of a random patch of a background image (disentanglement_lib).

    The background is a random 64 x 64 patch of `background` (float32 [S, S, 3]; the
    built-in procedural texture by default), averaged with a random colour; sprite
    pixels show the inverted patch. Fresh patch and colour on every observation.
    """
    texture = procedural_texture() if background is None else np.asarray(background, np.float32)
    base = data.render

    def render(arrays, factors, key):
        base_key, corner_key, color_key = jax.random.split(key, 3)
        images = base(arrays, factors, base_key)
        height, width = images.shape[1:3]
        picture = arrays["scream_background"]
        batch = images.shape[0]
        corners = jax.random.randint(
            corner_key, (batch, 2), 0, jnp.array(picture.shape[:2]) - jnp.array([height, width])
        )
        patches = jax.vmap(
            lambda corner: jax.lax.dynamic_slice(
                picture, (corner[0], corner[1], 0), (height, width, 3)
            )
        )(corners)
        tint = jax.random.uniform(color_key, (batch, 1, 1, 3))
        patches = (patches + tint) / 2.0
        mask = _foreground(images)
        return mask * (1.0 - patches) + (1.0 - mask) * patches

    return _derive(
        data,
        f"scream_{data.name}",
        render,
        channels=3,
        arrays={"scream_background": jnp.asarray(texture)},
    )


def otsu_threshold(gray: jax.Array, bins: int = 256) -> jax.Array:
    """Otsu's threshold per image: gray float32 [B, H, W] in [0, 1] -> float32 [B]."""
    levels = jnp.clip((gray * (bins - 1)).round().astype(jnp.int32), 0, bins - 1)
    histogram = jax.vmap(lambda v: jnp.bincount(v.ravel(), length=bins))(levels)
    probability = histogram / histogram.sum(axis=-1, keepdims=True)
    centers = jnp.arange(bins, dtype=jnp.float32) / (bins - 1)
    weight0 = jnp.cumsum(probability, axis=-1)
    mass0 = jnp.cumsum(probability * centers, axis=-1)
    total = mass0[:, -1:]
    weight1 = 1.0 - weight0
    between = (total * weight0 - mass0) ** 2 / jnp.maximum(weight0 * weight1, 1e-12)
    return centers[jnp.argmax(between, axis=-1)]


def binary(data: GridData) -> GridData:
    """Otsu-thresholded silhouettes, one channel in {0, 1}."""
    base = data.render

    def render(arrays, factors, key):
        gray = to_gray(base(arrays, factors, key))[..., 0]
        threshold = otsu_threshold(gray)
        return (gray > threshold[:, None, None]).astype(jnp.float32)[..., None]

    return _derive(data, f"{data.name}_binary", render, channels=1)


def to_gray(images: jax.Array) -> jax.Array:
    """[B, H, W, C] -> [B, H, W, 1]: luminance of RGB, identity for one channel."""
    if images.shape[-1] == 1:
        return images
    return jnp.einsum("bhwc,c->bhw", images, jnp.asarray(_LUMA))[..., None]


def to_channels(data: GridData | LabelledData, channels: int) -> GridData | LabelledData:
    """Converts images to `channels` (1 or 3): gray is repeated to RGB, RGB becomes luminance.

    This is the documented conversion when a model trained on one channel count is
    transferred to a dataset with the other (binary or depth <-> RGB).
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}.")
    if channels == data.channels:
        return data
    if isinstance(data, LabelledData):
        images = data.images
        if channels == 3:
            converted = jnp.repeat(images, 3, axis=-1)
        else:
            gray = to_gray(images.astype(jnp.float32))
            converted = jnp.clip(jnp.round(gray), 0, 255).astype(jnp.uint8)
        return dataclasses.replace(data, images=converted, name=f"{data.name}_{channels}ch")
    base = data.render

    def render(arrays, factors, key):
        images = base(arrays, factors, key)
        return jnp.repeat(images, 3, axis=-1) if channels == 3 else to_gray(images)

    return _derive(data, f"{data.name}_{channels}ch", render, channels=channels)
