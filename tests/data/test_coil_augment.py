"""Coil100-Augmented's device renderer against numpy rotations and areas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drl_jax.data.factors import FactorSpace
from drl_jax.data.tfds import coil_augment, images

BASE_SPACE = FactorSpace(("object", "pose"), (2, 3))


def base_table() -> np.ndarray:
    """uint8 [6, 128, 128, 3]: smooth random colour fields, distinct per row."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    return np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)


def square_table(side: int) -> np.ndarray:
    """uint8 [6, 128, 128, 3]: a white centred square of `side` pixels on black."""
    table = np.zeros((6, 128, 128, 3), np.uint8)
    start = (128 - side) // 2
    table[:, start : start + side, start : start + side] = 255
    return table


def observe(table: np.ndarray, factors) -> np.ndarray:
    data = coil_augment.from_base("coil100_augmented", BASE_SPACE, table)
    return np.asarray(jax.jit(data.observe)(jnp.asarray(factors), jax.random.key(0)))


def test_fov_space_and_steps():
    data = coil_augment.from_base("coil100_augmented", BASE_SPACE, base_table())
    assert data.factor_names == ("object", "pose", "rotation", "scale")
    assert data.factor_sizes == (2, 3, 18, 9)
    assert data.channels == 3
    np.testing.assert_allclose(
        coil_augment.scale_factor(jnp.arange(9)), np.linspace(1.0, 0.5, 9), atol=1e-7
    )
    np.testing.assert_allclose(
        coil_augment.rotation_radians(jnp.arange(18)), np.deg2rad(np.arange(0, 360, 20)), atol=1e-6
    )


def test_identity_step_is_the_area_resized_base():
    table = base_table()
    out = observe(table, [[1, 2, 0, 0], [0, 0, 0, 0]])
    assert out.shape == (2, 64, 64, 3) and out.dtype == np.float32
    for image, row in zip(out, (BASE_SPACE.strides[0] + 2, 0), strict=True):
        np.testing.assert_allclose(image * 255.0, images.resize(table[row]), atol=0.5 + 1e-3)


def test_step_nine_is_a_half_turn():
    table = base_table()
    half_turn = observe(table, [[1, 1, 9, 0]])[0]
    upright = table[BASE_SPACE.strides[0] + 1].reshape(64, 2, 64, 2, 3).mean((1, 3)) / 255.0
    np.testing.assert_allclose(half_turn, np.rot90(upright, 2), atol=1e-5)


def test_rotation_is_counter_clockwise():
    table = base_table()
    quarter = coil_augment.rotate_and_scale(
        jnp.asarray(table), jnp.array([3]), jnp.array([np.pi / 2], jnp.float32), jnp.ones(1)
    )
    upright = table[3].reshape(64, 2, 64, 2, 3).mean((1, 3)) / 255.0
    np.testing.assert_allclose(np.asarray(quarter)[0], np.rot90(upright, 1), atol=1e-5)


@pytest.mark.parametrize("scale_class, area_ratio", [(8, 4.0), (4, 1 / 0.75**2)])
def test_scale_shrinks_the_area(scale_class, area_ratio):
    table = square_table(64)  # 32 x 32 output pixels at scale 1.0
    out = observe(table, [[0, 0, 0, 0], [0, 0, 0, scale_class], [0, 0, 5, scale_class]])
    lit = (out[..., 0] > 0.5).sum(axis=(1, 2))
    assert lit[0] == 32 * 32
    # Edge pixels of the smaller square are half lit: +-1 pixel row per side.
    np.testing.assert_allclose(lit[0] / lit[1], area_ratio, rtol=0.15)
    # A rotated square keeps its area (50 degrees: edges cut pixels diagonally).
    np.testing.assert_allclose(lit[2], lit[1], rtol=0.15)


def test_outside_the_base_is_black():
    out = observe(square_table(128), [[0, 0, 2, 0], [0, 0, 0, 8]])
    # Rotated by 40 degrees, the full-frame square leaves the corners black.
    assert out[0, 0, 0].max() == 0.0 and out[0, 32, 32].min() == 1.0
    # Shrunk to half, only the middle 32 x 32 pixels stay lit.
    lit = out[1, ..., 0] > 0.5
    assert lit.sum() == 32 * 32 and lit[16:48, 16:48].all()
