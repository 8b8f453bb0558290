"""Dataset variants composed onto a toy binary sprite dataset."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drl_jax.data import variants
from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import from_renderer


def draw_squares(factors):
    """A white 16 x 16 square at (8 * x, 8 * y) on black: float32 [B, 64, 64, 1]."""
    rows = jnp.arange(64)[None, :, None]
    cols = jnp.arange(64)[None, None, :]
    top, left = 8 * factors[:, 0, None, None], 8 * factors[:, 1, None, None]
    inside = (rows >= top) & (rows < top + 16) & (cols >= left) & (cols < left + 16)
    return inside.astype(jnp.float32)[..., None]


@pytest.fixture(scope="module")
def squares():
    return from_renderer("squares", FactorSpace(("y", "x"), (6, 6)), 1, draw_squares)


def observe(data, factors, seed=0):
    return np.asarray(jax.jit(type(data).observe)(data, jnp.asarray(factors), jax.random.key(seed)))


def test_color_adds_a_seven_class_fov_with_the_reference_palette(squares):
    colored = variants.color(squares)
    assert colored.factor_names == ("color", "y", "x") and colored.factor_sizes == (7, 6, 6)
    assert colored.channels == 3
    images = observe(colored, [[c, 1, 2] for c in range(7)])
    sprite = images[:, 8 + 4, 16 + 4]  # a pixel inside the square
    np.testing.assert_allclose(sprite, variants.SPRITE_COLORS, atol=1e-6)
    np.testing.assert_allclose(sprite[0], [1.0, 1.0, 1.0])
    assert np.all(images[:, 0, 0] == 0.0)  # black background
    assert len({tuple(np.round(c, 3)) for c in sprite}) == 7


def test_noise_is_fresh_per_key_and_fixed_per_key(squares):
    noisy = variants.noisy(squares)
    a, b, c = observe(noisy, [[0, 0]], 1), observe(noisy, [[0, 0]], 1), observe(noisy, [[0, 0]], 2)
    np.testing.assert_array_equal(a, b)
    background = np.ones((64, 64), bool)
    background[:16, :16] = False
    assert np.abs(a - c)[0][background].mean() > 0.2
    np.testing.assert_array_equal(a[0, :16, :16], 1.0)  # the white sprite is kept
    assert 0.45 < a[0][background].mean() < 0.55  # uniform noise in [0, 1]


def test_noisy_color_keeps_the_sprite_colour(squares):
    image = observe(variants.noisy(variants.color(squares)), [[3, 0, 0]])
    np.testing.assert_allclose(image[0, 5, 5], variants.SPRITE_COLORS[3], atol=1e-6)


def test_scream_inverts_a_background_patch_under_the_sprite(squares):
    screamed = variants.scream(squares)
    images = observe(screamed, [[2, 2]] * 2, 4)
    assert images.shape == (2, 64, 64, 3) and 0.0 <= images.min() and images.max() <= 1.0
    assert not np.allclose(images[0], images[1])  # fresh patch and tint per observation
    # Background pixels are (patch + tint) / 2 and sprite pixels are 1 minus that.
    inside, outside = images[0, 20:28, 20:28], images[0, 40:, 40:]
    assert np.abs(inside.mean() - (1 - outside.mean())) < 0.2
    user = np.zeros((80, 80, 3), np.float32)
    user_images = observe(variants.scream(squares, user), [[0, 0]], 5)
    # A black picture: the background is half the tint, the sprite one minus it.
    np.testing.assert_allclose(user_images[0, 5, 5] + user_images[0, 40, 40], 1.0, atol=1e-6)


def test_load_background_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        variants.load_background(tmp_path / "missing.png")


def test_binary_thresholds_with_otsu(squares):
    gray = variants.noisy(squares)  # sprite 1.0 over noise: Otsu splits near the middle
    bright = from_renderer(
        "bright", squares.space, 1, lambda f: 0.2 + 0.6 * draw_squares(f)
    )  # 0.2 background, 0.8 sprite
    binary = variants.binary(bright)
    image = observe(binary, [[1, 1]])
    np.testing.assert_array_equal(image[..., 0], draw_squares(jnp.array([[1, 1]]))[..., 0])
    assert binary.channels == 1 and variants.binary(gray).channels == 1
    threshold = float(variants.otsu_threshold(jnp.asarray(observe(bright, [[1, 1]])[..., 0]))[0])
    assert 0.2 <= threshold < 0.8


def test_to_channels_repeats_gray_and_takes_luminance(squares):
    rgb = variants.to_channels(squares, 3)
    image = observe(rgb, [[0, 0]])
    assert image.shape == (1, 64, 64, 3)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])
    back = observe(variants.to_channels(variants.color(squares), 1), [[2, 0, 0]])
    expected = variants.SPRITE_COLORS[2] @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(back[0, 3, 3, 0], expected, atol=1e-5)
    assert variants.to_channels(squares, 1) is squares
