"""A real many-class target: COIL-20's 1,440 photographs prepared by the `coil20` builder,
and GBTs of both backends reading the 20 objects off a fixed code at poses they never saw."""

import numpy as np
import pytest

from drl_jax import metrics
from drl_jax.data import registry
from drl_jax.data.ground_truth import GridData
from drl_jax.data.tfds import prepare

GRID = 4  # the code: mean intensity of each of GRID x GRID image blocks


@pytest.fixture(scope="module")
def coil20(shared_data, tmp_path_factory) -> GridData:
    """COIL-20 prepared from the real photographs into a fresh data dir, then loaded."""
    folder = shared_data / "coil-20-proc"
    if not folder.is_dir():
        pytest.skip(f"COIL-20 photos not at {folder}")
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    prepare.main(["coil20", "--data_dir", data_dir, "--manual_dir", str(folder)])
    return registry.load("coil20", data_dir=data_dir)


def block_means(images: np.ndarray) -> np.ndarray:
    """float [N, S, S, 1] -> float [N, GRID * GRID]: each block's mean intensity."""
    block = images.shape[1] // GRID
    blocks = images.reshape(len(images), GRID, block, GRID, block).mean(axis=(2, 4))
    return blocks.reshape(len(images), GRID * GRID)


def test_real_photographs_load_as_the_full_grid(coil20):
    assert isinstance(coil20, GridData)
    assert coil20.factor_names == ("object", "pose") and coil20.factor_sizes == (20, 72)
    images = np.asarray(coil20.arrays["images"])
    assert images.shape == (1440, 64, 64, 1)
    # Photographs on black: dark corners, and objects that differ from one another.
    assert images[:, :4, :4].mean() < 2  # measured: 0.6 (of 255)
    per_object = images.reshape(20, 72, -1).mean(axis=(1, 2))
    assert per_object.std() > 10  # measured: 23 (means 42 to 125)


def test_object_gbt_accuracy_far_above_chance_at_unseen_poses(coil20):
    factors = np.asarray(coil20.space.factors(np.arange(coil20.space.num_states)))
    codes = block_means(np.asarray(coil20.observe(factors, None)))
    train = factors[:, 1] % 2 == 0  # even poses train; each odd pose is 5 degrees from one
    objects = factors[:, :1]
    accuracy = {}
    for backend in ("exact", "lightgbm"):
        result = metrics.downstream(
            codes[train],
            objects[train],
            codes[~train],
            objects[~train],
            classifiers=("gbt",),
            gbt_backend=backend,
            n_jobs=1,
        )
        (accuracy[backend],) = result["gbt_full_per_fov"]
    # Measured: exact 0.9625, lightgbm 0.9819; chance is 1/20.
    assert min(accuracy.values()) > 0.9
    # README, "The metric suite": LightGBM within 0.035 per FoV of the exact GBT.
    assert abs(accuracy["lightgbm"] - accuracy["exact"]) <= 0.035
