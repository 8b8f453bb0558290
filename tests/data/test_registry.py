"""The dataset registry: names, FoVs without loading, and clear messages."""

import jax
import numpy as np
import pytest

from drl_jax.data import registry
from drl_jax.errors import UsageError

DSPRITES_FOVS = ("shape", "scale", "orientation", "pos_x", "pos_y")


@pytest.mark.parametrize(
    "name, names, channels",
    [
        ("procedural_dsprites", DSPRITES_FOVS, 1),
        ("procedural_color_dsprites", ("color",) + DSPRITES_FOVS, 3),
        ("procedural_noisy_dsprites", DSPRITES_FOVS, 3),
        ("procedural_noisy_color_dsprites", ("color",) + DSPRITES_FOVS, 3),
        ("procedural_scream_dsprites", DSPRITES_FOVS, 3),
        (
            "procedural_shapes3d",
            ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"),
            3,
        ),
    ],
)
def test_procedural_datasets_describe_and_load_alike(name, names, channels):
    description = registry.describe(name)
    assert description.factor_names == names and description.channels == channels
    assert description.is_grid
    data = registry.load(name)
    assert data.name == name and data.factor_names == names and data.channels == channels
    images, factors = jax.jit(lambda d, k: d.sample(k, 4))(data, jax.random.key(0))
    assert images.shape == (4, 64, 64, channels) and factors.shape == (4, len(names))
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0


def test_every_issue_dataset_is_registered():
    required = {
        "dsprites", "color_dsprites", "noisy_dsprites", "noisy_color_dsprites",
        "scream_dsprites", "shapes3d", "mpi3d_toy", "mpi3d_realistic", "mpi3d_real",
        "isaac3d", "coil100", "coil100_augmented", "coil100_augmented_binary",
        "rgbd_objects", "rgbd_objects_depth", "smallnorb", "coil20",
    }  # fmt: skip
    assert required <= set(registry.DATASETS)
    assert {f"procedural_{n}" for n in required if "dsprites" in n} <= set(registry.DATASETS)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UsageError, match="Unknown dataset 'dsprite'.*procedural_dsprites"):
        registry.describe("dsprite")


@pytest.mark.parametrize("name", ["color_dsprites", "isaac3d", "rgbd_objects_depth"])
def test_unprepared_dataset_says_how_to_prepare_it(name, tmp_path):
    with pytest.raises(UsageError) as error:
        registry.describe(name, str(tmp_path))
    message = str(error.value)
    assert "not prepared" in message and str(tmp_path) in message
    assert "python -m drl_jax.data.tfds.prepare" in message


def test_scream_background_from_a_user_image(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((100, 100, 3), 255, np.uint8)).save(tmp_path / "white.png")
    data = registry.load("procedural_scream_dsprites", background=str(tmp_path / "white.png"))
    np.testing.assert_allclose(np.asarray(data.arrays["scream_background"]), 1.0)
