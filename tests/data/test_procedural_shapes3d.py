"""Tests of the ray-cast Shapes3D-like renderer (drl_jax/data/procedural/shapes3d.py)."""

import colorsys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drl_jax.data.procedural import shapes3d

BATCH = 64  # every render below is padded to this batch, so `render` compiles once
BASE = (2, 5, 8, 3, 1, 7)  # floor, wall, object hue; scale; cylinder; orientation 0 degrees


def _render(rows: list) -> np.ndarray:
    """Renders up to BATCH scenes given as FoV index rows: float32 [len(rows), 64, 64, 3]."""
    padded = np.zeros((BATCH, 6), np.int32)
    padded[: len(rows)] = rows
    return np.asarray(shapes3d.render(jnp.asarray(padded)))[: len(rows)]


def _with(base: tuple, **changes: int) -> list:
    """`base` FoV indices with some factors, named as in FACTOR_NAMES, replaced."""
    row = list(base)
    for name, value in changes.items():
        row[shapes3d.FACTOR_NAMES.index(name)] = value
    return row


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels where two images [..., 64, 64, 3] differ in any channel: bool [..., 64, 64]."""
    return np.abs(a - b).max(axis=-1) > 0


def test_factor_grid_matches_shapes3d():
    assert shapes3d.FACTOR_NAMES == (
        "floor_hue",
        "wall_hue",
        "object_hue",
        "scale",
        "shape",
        "orientation",
    )
    assert shapes3d.FACTOR_SIZES == (10, 10, 10, 8, 4, 15)
    np.testing.assert_allclose(shapes3d.HUES, np.arange(10) / 10)
    np.testing.assert_allclose(shapes3d.SCALES[[0, -1]], [0.75, 1.25])
    np.testing.assert_allclose(shapes3d.ORIENTATIONS_DEG[[0, 7, -1]], [-30.0, 0.0, 30.0])


def test_output_dtype_shape_range_and_determinism():
    keys = jax.random.split(jax.random.key(0), 6)
    classes = np.stack(
        [
            np.asarray(jax.random.randint(key, (BATCH,), 0, size))
            for key, size in zip(keys, shapes3d.FACTOR_SIZES, strict=True)
        ],
        axis=1,
    )
    images = shapes3d.render(jnp.asarray(classes))
    assert images.dtype == jnp.float32
    assert images.shape == (BATCH, 64, 64, 3)
    images = np.asarray(images)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.std() > 0.1  # saturated colours, not a blank image
    np.testing.assert_array_equal(images, np.asarray(shapes3d.render(jnp.asarray(classes))))


def test_rejects_wrong_number_of_factors():
    with pytest.raises(ValueError, match=r"\[B, 6\]"):
        shapes3d.render(jnp.zeros((4, 5), jnp.int32))


def test_each_factor_changes_the_image():
    rows = [BASE] + [
        _with(BASE, **{name: (BASE[i] + 1) % size})
        for i, (name, size) in enumerate(
            zip(shapes3d.FACTOR_NAMES, shapes3d.FACTOR_SIZES, strict=True)
        )
    ]
    base, *changed = _render(rows)
    for name, image in zip(shapes3d.FACTOR_NAMES, changed, strict=True):
        assert _changed(base, image).sum() >= 20, name


@pytest.mark.parametrize("shape", range(4))
def test_object_area_grows_with_scale(shape):
    # Object pixels: those that change when only the object's hue does (red vs cyan).
    rows = [_with(BASE, shape=shape, scale=s, object_hue=h) for s in range(8) for h in (0, 5)]
    images = _render(rows).reshape(8, 2, 64, 64, 3)
    areas = _changed(images[:, 0], images[:, 1]).sum(axis=(1, 2))
    assert areas[0] >= 100, areas  # about 14 x 14 pixels at the smallest scale
    assert np.all(np.diff(areas) > 0), areas


def test_object_occludes_the_wall_and_floor():
    wall_changes, floor_changes, object_mask = (
        _changed(a, b)
        for a, b in [
            _render([_with(BASE, wall_hue=0), _with(BASE, wall_hue=5)]),
            _render([_with(BASE, floor_hue=0), _with(BASE, floor_hue=5)]),
            _render([_with(BASE, object_hue=0), _with(BASE, object_hue=5)]),
        ]
    )
    assert not np.any(object_mask & (wall_changes | floor_changes))
    # Wall, floor and object tile the image.
    np.testing.assert_array_equal(wall_changes | floor_changes | object_mask, True)


@pytest.mark.parametrize("orientation", [0, 7, 14])
def test_floor_hue_changes_lower_part_and_wall_hue_upper_part(orientation):
    base = _with(BASE, orientation=orientation)
    image, floor_changed, wall_changed = _render(
        [base, _with(base, floor_hue=BASE[0] + 4), _with(base, wall_hue=BASE[1] + 4)]
    )
    floor_mask, wall_mask = _changed(image, floor_changed), _changed(image, wall_changed)
    assert floor_mask.sum() > 1000 and wall_mask.sum() > 1000
    assert not floor_mask[:24].any()  # the floor line stays below row 24 at +-30 degrees
    assert not wall_mask[44:].any()  # the wall stays above row 44
    assert not np.any(floor_mask & wall_mask)


def test_orientation_tilts_the_floor_wall_boundary():
    rows = [_with(BASE, orientation=o, floor_hue=h) for o in (0, 7, 14) for h in (0, 5)]
    images = _render(rows).reshape(3, 2, 64, 64, 3)
    floor = _changed(images[:, 0], images[:, 1])  # [3 orientations, 64, 64]
    # Topmost floor row at the left and right image borders (the object is in the middle).
    left, right = floor[:, :, 2].argmax(axis=1), floor[:, :, 61].argmax(axis=1)
    tilt = right - left  # rows; positive: the boundary descends to the right
    assert tilt[0] >= 4 and tilt[2] <= -4, tilt  # -30 and +30 degrees tilt opposite ways
    assert abs(tilt[1]) <= 1, tilt  # level at 0 degrees
    assert np.abs(np.diff(floor.astype(int), axis=0)).sum() > 100


@pytest.mark.parametrize("shape", range(4))
def test_object_casts_a_shadow_on_the_floor(shape):
    base = _with(BASE, shape=shape, scale=7)
    image, recoloured = _render([base, _with(base, floor_hue=BASE[0] + 5)])
    floor = _changed(image, recoloured)
    value = image.max(axis=-1)  # HSV value: the floor's brightness
    lit = value[floor].max()
    shadow = floor & (value < 0.7 * lit)
    assert shadow.sum() >= 30, shadow.sum()
    # The light comes from the front-left, so the shadow falls right of the object's centre.
    assert np.nonzero(shadow)[1].mean() > 32


def test_object_colour_has_its_hue():
    rows = [_with(BASE, shape=2, object_hue=h) for h in range(10)]
    rows += [_with(BASE, shape=2, object_hue=(h + 5) % 10) for h in range(10)]
    images = _render(rows).reshape(2, 10, 64, 64, 3)
    for h in range(10):
        mask = _changed(images[0, h], images[1, h])
        mean_rgb = images[0, h][mask].mean(axis=0)
        hue, saturation, _ = colorsys.rgb_to_hsv(*mean_rgb)
        error = abs((hue - shapes3d.HUES[h] + 0.5) % 1.0 - 0.5)  # on the hue circle
        assert error < 0.005 and saturation > 0.99, (h, hue, saturation)


def test_supersampling_blends_only_edges():
    rows = [BASE, _with(BASE, shape=0, orientation=3)]
    sharp = _render(rows)
    smooth = np.asarray(shapes3d.render(jnp.asarray(rows), supersample=2))
    assert smooth.shape == sharp.shape and smooth.dtype == np.float32
    assert smooth.min() >= 0.0 and smooth.max() <= 1.0
    differs = _changed(sharp, smooth)
    # Edges (object outline, floor line, shadow border) differ; flat regions do not.
    assert 0.02 < differs.mean() < 0.25, differs.mean()


@pytest.mark.parametrize("shape", range(4))
def test_object_is_shaded_from_lit_to_ambient(shape):
    base = _with(BASE, shape=shape, orientation=3)
    image, recoloured = _render([base, _with(base, object_hue=(BASE[2] + 5) % 10)])
    value = image.max(axis=-1)[_changed(image, recoloured)]
    # Faces toward the light are bright, faces away from it get only the ambient 0.45.
    assert value.max() > 0.8 and value.min() < 0.5, (value.min(), value.max())
