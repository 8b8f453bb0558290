"""The pair miner against brute force, and intervention pairs on a grid."""

import itertools

import jax
import numpy as np
import pytest

from drl_jax.data import pairs
from drl_jax.data.factors import FactorSpace


def brute_force_groups(labels, fov):
    """Groups (tuple of the other FoVs) with at least two distinct classes of FoV `fov`."""
    groups = {}
    for row in labels:
        key = tuple(np.delete(row, fov))
        groups.setdefault(key, set()).add(row[fov])
    return {key: len(values) for key, values in groups.items() if len(values) >= 2}


@pytest.mark.parametrize("seed", range(5))
def test_miner_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, size=rng.integers(2, 5))
    labels = np.stack([rng.integers(0, k, 300) for k in sizes], axis=1)
    mined = pairs.mine_pairs(labels, seed=seed)
    assert len(mined) == len(sizes)
    for fov, fov_pairs in enumerate(mined):
        expected = brute_force_groups(labels, fov)
        first, second = labels[fov_pairs[:, 0]], labels[fov_pairs[:, 1]]
        differs = first != second
        # Every pair differs in exactly FoV `fov`.
        assert np.all(differs[:, fov]) and not np.any(np.delete(differs, fov, axis=1))
        # Each row is used at most once and each pair of FoV tuples appears once.
        assert len(np.unique(fov_pairs)) == 2 * len(fov_pairs)
        tuples = {tuple(sorted((tuple(a), tuple(b)))) for a, b in zip(first, second, strict=True)}
        assert len(tuples) == len(fov_pairs)
        # Same groups as brute force, each matched into floor(distinct / 2) pairs.
        counts = {}
        for row in first:
            key = tuple(np.delete(row, fov))
            counts[key] = counts.get(key, 0) + 1
        assert counts == {key: n // 2 for key, n in expected.items() if n // 2}


def test_miner_is_seeded_and_capped():
    rng = np.random.default_rng(0)
    labels = np.stack([rng.integers(0, 6, 5000), rng.integers(0, 3, 5000)], axis=1)
    a, b = pairs.mine_pairs(labels, seed=1), pairs.mine_pairs(labels, seed=1)
    c = pairs.mine_pairs(labels, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    capped = pairs.mine_pairs(labels, max_pairs_per_fov=2, seed=1)
    assert [len(p) for p in capped] == [2, 2]


def test_full_grid_pairs_every_group():
    grid = np.array(list(itertools.product(range(4), range(3), range(2))))
    mined = pairs.mine_pairs(grid)
    # FoV 0: 6 groups of 4 distinct classes -> 2 pairs each; FoV 1: 8 groups of 3 -> 1;
    # FoV 2: 12 groups of 2 -> 1.
    assert [len(p) for p in mined] == [12, 8, 12]


def test_pad_pairs_power_of_two():
    index, mask = pairs.pad_pairs([np.ones((3, 2), int), np.zeros((300, 2), int)], multiple=8)
    assert index.shape == (2, 512, 2) and mask.sum(axis=1).tolist() == [3, 300]


def test_intervention_pairs_change_exactly_one_fov():
    space = FactorSpace(("a", "b", "c"), (5, 1, 7))
    f1, f2, valid = pairs.intervention_pairs(space, jax.random.key(0), 500)
    f1, f2, valid = map(np.asarray, (f1, f2, valid))
    assert f1.shape == (3, 500, 3)
    for j, size in enumerate(space.sizes):
        differs = f1[j] != f2[j]
        if size > 1:
            assert np.all(differs[:, j]) and differs.sum() == 500
        else:
            assert not differs.any()
    assert valid.all(axis=1).tolist() == [True, False, True]
