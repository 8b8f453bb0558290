"""FactorSpace: exact index round trips, and uniform interventions and weak pairs."""

import jax
import numpy as np
import pytest
from scipy import stats

from drl_jax.data.factors import FactorSpace

DSPRITES_COLOR = FactorSpace(
    ("color", "shape", "scale", "orientation", "pos_x", "pos_y"), (7, 3, 6, 40, 32, 32)
)
MPI3D = FactorSpace(
    ("color", "shape", "size", "height", "background", "horizontal", "vertical"),
    (6, 6, 2, 3, 3, 40, 40),
)


def test_every_index_of_a_small_grid_round_trips():
    space = FactorSpace(("a", "b", "c"), (2, 3, 4))
    factors = np.asarray(space.factors(np.arange(space.num_states)))
    # Row-major: the last FoV varies fastest, like dSprites' and Shapes3D's files.
    expected = np.stack(np.meshgrid(range(2), range(3), range(4), indexing="ij"), -1).reshape(-1, 3)
    np.testing.assert_array_equal(factors, expected)
    np.testing.assert_array_equal(space.index(factors), np.arange(24))


@pytest.mark.parametrize("space", [DSPRITES_COLOR, MPI3D], ids=["color_dsprites", "mpi3d"])
def test_large_grids_round_trip_exactly(space):
    assert space.num_states in (5_160_960, 1_036_800)
    index = np.concatenate(
        [np.random.default_rng(0).integers(0, space.num_states, 20_000), [0, space.num_states - 1]]
    )
    factors = np.asarray(space.factors(index))
    assert np.all(factors < np.array(space.sizes)) and np.all(factors >= 0)
    np.testing.assert_array_equal(space.index(factors), index)
    np.testing.assert_array_equal(factors[-1], np.array(space.sizes) - 1)


def test_sample_is_uniform_per_fov():
    factors = np.asarray(DSPRITES_COLOR.sample(jax.random.key(0), 60_000))
    for j, size in enumerate(DSPRITES_COLOR.sizes):
        counts = np.bincount(factors[:, j], minlength=size)
        assert stats.chisquare(counts).pvalue > 1e-3


def test_intervene_changes_one_fov_to_a_uniform_different_class():
    space = FactorSpace(("a", "b"), (5, 4))
    base = np.tile([[2, 1]], (50_000, 1))
    moved = np.asarray(space.intervene(jax.random.key(1), base, 0))
    np.testing.assert_array_equal(moved[:, 1], 1)
    assert not np.any(moved[:, 0] == 2)
    counts = np.bincount(moved[:, 0], minlength=5)[[0, 1, 3, 4]]
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("k", [1, 2, 3])
def test_weak_pair_changes_exactly_k_fovs_uniformly(k):
    space = FactorSpace(("a", "b", "c", "single", "d"), (3, 4, 5, 1, 6))
    first = np.asarray(space.sample(jax.random.key(2), 40_000))
    second, changed = map(np.asarray, space.weak_pair(jax.random.key(3), first, k))
    np.testing.assert_array_equal(changed, first != second)
    assert np.all(changed.sum(axis=1) == k)
    assert not changed[:, 3].any()  # a single-class FoV can never change
    # Which FoVs change is uniform over the variable ones.
    counts = changed[:, [0, 1, 2, 4]].sum(axis=0)
    assert stats.chisquare(counts).pvalue > 1e-3
    # New classes are uniform over the other classes (FoV d, starting from class 0).
    start = first[:, 4] == 0
    moved = second[start & changed[:, 4], 4]
    assert stats.chisquare(np.bincount(moved, minlength=6)[1:]).pvalue > 1e-3


def test_invalid_spaces_and_k_are_named():
    with pytest.raises(ValueError, match="one size per name"):
        FactorSpace(("a",), (2, 3))
    with pytest.raises(ValueError, match="k <= 2"):
        FactorSpace(("a", "b", "c"), (2, 1, 3)).weak_pair(jax.random.key(0), np.zeros((1, 3)), 3)
    with pytest.raises(ValueError, match="last axis 2"):
        FactorSpace(("a", "b"), (2, 3)).index(np.zeros((4, 3), int))
