"""Pairs of samples that differ in exactly one FoV: OMES's interventions, weak pairs of
labelled datasets.

Two sources (docs/method.md#pairs):

* `mine_pairs`: from a stored labelled sample (representations.npz +
  classes.csv). Samples are grouped by a key of the other FoVs with one sort,
  O(N log N); each group's distinct FoV tuples are matched at random, so every
  pair is yielded once and no pair repeats a tuple. The reference code's miner
  rescans all samples per tuple (quadratic) and yields each pair many times.
* `intervention_pairs`: for a full factorial grid (`FactorSpace`): draw states,
  change FoV j to a different class, render or look both up.

Shapes: N samples, F FoVs, P pairs.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from drl_jax.data.factors import FactorSpace

MAX_PAIRS_PER_FOV = 100_000


def mine_pairs(
    labels: np.ndarray, *, max_pairs_per_fov: int = MAX_PAIRS_PER_FOV, seed: int = 0
) -> list[np.ndarray]:
    """Mines pairs of rows that differ in exactly one FoV.

    For FoV j, rows are grouped by their classes on all other FoVs. Within a group,
    rows with identical FoV tuples are reduced to one random representative; the
    distinct tuples are shuffled and matched two by two (an odd one out is left
    unpaired, as in the reference code). At most `max_pairs_per_fov` pairs, drawn
    uniformly without replacement, are kept per FoV.

    Args:
      labels: int [N, F] FoV classes.
      max_pairs_per_fov: cap on pairs per FoV.
      seed: seed of the random representatives, matching and cap.

    Returns:
      One int64 array [P_j, 2] of row indices per FoV; rows i, k of a pair differ in
      FoV j and agree on every other FoV. Pairs are sorted by their first row.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be [N, F], got shape {labels.shape}.")
    rng = np.random.default_rng(seed)
    num_rows, num_factors = labels.shape
    return [
        _mine_one_fov(labels, j, max_pairs_per_fov, rng) if num_rows else np.zeros((0, 2), np.int64)
        for j in range(num_factors)
    ]


def _mine_one_fov(
    labels: np.ndarray, fov: int, max_pairs: int, rng: np.random.Generator
) -> np.ndarray:
    group = _row_keys(np.delete(labels, fov, axis=1))
    value = labels[:, fov] - labels[:, fov].min()
    # Sort by (group, value, random): the first row of each (group, value) run is a
    # uniformly random representative of that FoV tuple.
    order = _random_order_within(group * (int(value.max()) + 1) + value, rng)
    first = np.ones(len(order), bool)
    first[1:] = (group[order][1:] != group[order][:-1]) | (value[order][1:] != value[order][:-1])
    representatives = order[first]
    # Shuffle the distinct tuples within each group, then match neighbours.
    shuffled = representatives[_random_order_within(group[representatives], rng)]
    shuffled_group = group[shuffled]
    starts = np.flatnonzero(np.r_[True, shuffled_group[1:] != shuffled_group[:-1]])
    rank = np.arange(len(shuffled)) - np.repeat(starts, np.diff(np.r_[starts, len(shuffled)]))
    has_partner = np.r_[shuffled_group[1:] == shuffled_group[:-1], False]
    lead = np.flatnonzero((rank % 2 == 0) & has_partner)
    pairs = np.stack([shuffled[lead], shuffled[lead + 1]], axis=1).astype(np.int64)
    if len(pairs) > max_pairs:
        pairs = pairs[rng.choice(len(pairs), max_pairs, replace=False)]
    return pairs[np.argsort(pairs[:, 0], kind="stable")]


_RANDOM_BITS = 21


def _random_order_within(key: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices sorting non-negative int64 keys [N], ties in a random order."""
    if int(key.max(initial=0)).bit_length() + _RANDOM_BITS < 63:  # one int64 sort
        return np.argsort((key << _RANDOM_BITS) | rng.integers(0, 1 << _RANDOM_BITS, len(key)))
    return np.lexsort((rng.random(len(key)), key))


def _row_keys(columns: np.ndarray) -> np.ndarray:
    """int64 [N]: equal exactly for equal rows of int columns [N, K] (a mixed-radix code)."""
    columns = columns - columns.min(axis=0, initial=0)
    radices = columns.max(axis=0, initial=0).astype(np.int64) + 1
    if np.prod(radices.astype(float)) >= 2.0**62:  # code would overflow: fall back to a row sort
        return np.unique(columns, axis=0, return_inverse=True)[1].ravel()
    strides = np.cumprod(np.r_[radices[1:], 1][::-1])[::-1]
    return columns.astype(np.int64) @ strides


def pad_pairs(mined: list[np.ndarray], multiple: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Stacks per-FoV pairs into fixed-size arrays for a jitted computation.

    The pair axis is padded to a power of two (at least `multiple`) so that repeated
    calls with similar pair counts share one compiled program.

    Returns:
      (int32 [F, P, 2] row indices (0 where padded), bool [F, P] valid mask).
    """
    longest = max([len(m) for m in mined] + [1])
    size = max(multiple, 1 << (longest - 1).bit_length())
    index = np.zeros((len(mined), size, 2), np.int32)
    mask = np.zeros((len(mined), size), bool)
    for j, pairs in enumerate(mined):
        index[j, : len(pairs)] = pairs
        mask[j, : len(pairs)] = True
    return index, mask


@functools.partial(jax.jit, static_argnums=(0, 2))
def intervention_pairs(
    space: FactorSpace, key: jax.Array, num_pairs: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Draws `num_pairs` intervention pairs for every FoV of a full grid.

    Args:
      space: the dataset's FoV grid.
      key: PRNG key.
      num_pairs: P, pairs per FoV.

    Returns:
      (factors1 int32 [F, P, F], factors2 int32 [F, P, F] equal to factors1 but in
      FoV j for row j, valid bool [F, P]: False for a FoV with a single class, which
      cannot be intervened on).
    """
    num_factors = space.num_factors
    sample_key, intervene_key = jax.random.split(key)
    factors1 = space.sample(sample_key, num_factors * num_pairs)
    fov = jnp.repeat(jnp.arange(num_factors), num_pairs)
    factors2 = space.intervene(intervene_key, factors1, fov)
    shape = (num_factors, num_pairs, num_factors)
    variable = jnp.asarray(space.sizes) > 1
    valid = jnp.broadcast_to(variable[:, None], (num_factors, num_pairs))
    return factors1.reshape(shape), factors2.reshape(shape), valid
