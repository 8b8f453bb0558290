"""Ground-truth datasets: images with known FoVs, sampled inside jitted code.

Two kinds share one sampling protocol (`sample`, `sample_pairs`, `factor_names`,
`factor_sizes`, `channels`), so training and evaluation never ask which they
hold:

* `GridData`: a full factorial FoV grid (`FactorSpace`) plus a pure
  `render(arrays, factors, key)` that returns images. Backed by a
  device-resident uint8 table indexed by `FactorSpace.index` or by a
  procedural renderer. Variants (`color`, `noisy`, `scream`, `binary`,
  `to_channels`) are pure functions from a `GridData` to a new one.
* `LabelledData`: a finite set of labelled images that is not a full grid
  (RGBD-Objects, COIL); weak pairs come from pairs mined in its labels.

Both are pytrees: the arrays are leaves and are passed into `jax.jit` as
arguments (never baked into the program as constants); everything else is
static. Images are float32 [B, 64, 64, C] in [0, 1]; FoV classes int32 [B, F].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from drl_jax.data import pairs
from drl_jax.data.factors import FactorSpace

Arrays = Mapping[str, jax.Array]
# render(arrays, factors int32 [B, F], key) -> float32 [B, H, W, C] in [0, 1].
Render = Callable[[Arrays, jax.Array, jax.Array], jax.Array]

IMAGE_SIZE = 64


@struct.dataclass
class GridData:
    """A ground-truth dataset over a full factorial grid of FoVs."""

    arrays: Arrays
    name: str = struct.field(pytree_node=False)
    space: FactorSpace = struct.field(pytree_node=False)
    channels: int = struct.field(pytree_node=False)
    render: Render = struct.field(pytree_node=False)

    @property
    def factor_names(self) -> tuple[str, ...]:
        return self.space.names

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return self.space.sizes

    def observe(self, factors: jax.Array, key: jax.Array) -> jax.Array:
        """FoV classes int [B, F] -> images float32 [B, 64, 64, C] in [0, 1]."""
        return self.render(self.arrays, jnp.asarray(factors, jnp.int32), key)

    def sample(self, key: jax.Array, batch: int) -> tuple[jax.Array, jax.Array]:
        """Uniform states: (images [batch, 64, 64, C], FoV classes int32 [batch, F])."""
        factor_key, observe_key = jax.random.split(key)
        factors = self.space.sample(factor_key, batch)
        return self.observe(factors, observe_key), factors

    def sample_pairs(self, key: jax.Array, batch: int, k: int = 1) -> dict[str, jax.Array]:
        """Weak pairs differing in k FoVs (Ada-GVAE's supervision).

        Returns a dict with `x1`, `x2` float32 [batch, 64, 64, C], `factors1`,
        `factors2` int32 [batch, F] and `changed` bool [batch, F].
        """
        factor_key, pair_key, key1, key2 = jax.random.split(key, 4)
        factors1 = self.space.sample(factor_key, batch)
        factors2, changed = self.space.weak_pair(pair_key, factors1, k)
        return {
            "x1": self.observe(factors1, key1),
            "x2": self.observe(factors2, key2),
            "factors1": factors1,
            "factors2": factors2,
            "changed": changed,
        }


@struct.dataclass
class LabelledData:
    """A finite labelled image set that is not a full FoV grid.

    Attributes:
      images: uint8 [N, 64, 64, C].
      labels: int32 [N, F] FoV classes.
      pairs: int32 [P, 2] row indices of mined pairs that differ in one FoV.
      pair_changed: bool [P, F] which FoV each pair changes.
    """

    images: jax.Array
    labels: jax.Array
    pairs: jax.Array
    pair_changed: jax.Array
    name: str = struct.field(pytree_node=False)
    factor_names: tuple[str, ...] = struct.field(pytree_node=False)
    factor_sizes: tuple[int, ...] = struct.field(pytree_node=False)

    @property
    def channels(self) -> int:
        return self.images.shape[-1]

    def sample(self, key: jax.Array, batch: int) -> tuple[jax.Array, jax.Array]:
        """Uniform rows: (images [batch, 64, 64, C], FoV classes int32 [batch, F])."""
        rows = jax.random.randint(key, (batch,), 0, self.images.shape[0])
        return to_float(self.images[rows]), self.labels[rows]

    def sample_pairs(self, key: jax.Array, batch: int, k: int = 1) -> dict[str, jax.Array]:
        """Mined pairs differing in exactly one FoV; same layout as `GridData.sample_pairs`."""
        if k != 1:
            raise ValueError(
                f"{self.name} is not a full FoV grid: its pairs are mined and differ in "
                f"exactly one FoV, so k must be 1, got k={k}."
            )
        if self.pairs.shape[0] == 0:
            raise ValueError(f"{self.name} has no pairs of images that differ in one FoV.")
        chosen = jax.random.randint(key, (batch,), 0, self.pairs.shape[0])
        rows1, rows2 = self.pairs[chosen, 0], self.pairs[chosen, 1]
        return {
            "x1": to_float(self.images[rows1]),
            "x2": to_float(self.images[rows2]),
            "factors1": self.labels[rows1],
            "factors2": self.labels[rows2],
            "changed": self.pair_changed[chosen],
        }


GroundTruthData = GridData | LabelledData


def to_float(images: jax.Array) -> jax.Array:
    """uint8 images -> float32 in [0, 1]."""
    return images.astype(jnp.float32) / 255.0


def from_table(name: str, space: FactorSpace, images: Any) -> GridData:
    """A grid dataset backed by a uint8 table [space.num_states, 64, 64, C] on the device.

    Row i of the table is the image of the FoV state `space.factors(i)`.
    """
    images = jnp.asarray(images)
    if images.dtype != jnp.uint8 or images.ndim != 4 or images.shape[0] != space.num_states:
        raise ValueError(
            f"{name}: expected a uint8 table [{space.num_states}, H, W, C] (one image per "
            f"state of {dict(zip(space.names, space.sizes, strict=True))}), got "
            f"{images.dtype} {images.shape}."
        )

    def render(arrays, factors, key):
        del key
        return to_float(arrays["images"][space.index(factors)])

    return GridData({"images": images}, name, space, images.shape[-1], render)


def from_renderer(
    name: str,
    space: FactorSpace,
    channels: int,
    draw: Callable[[jax.Array], jax.Array],
) -> GridData:
    """A grid dataset drawn by a deterministic procedural renderer `draw(factors)`."""

    def render(arrays, factors, key):
        del arrays, key
        return draw(factors)

    return GridData({}, name, space, channels, render)


def from_labels(
    name: str,
    images: Any,
    labels: Any,
    factor_names: tuple[str, ...],
    factor_sizes: tuple[int, ...],
    *,
    max_pairs_per_fov: int = pairs.MAX_PAIRS_PER_FOV,
    seed: int = 0,
) -> LabelledData:
    """A labelled dataset; its weak pairs are mined once from the labels on the host."""
    images, labels = np.asarray(images), np.asarray(labels, np.int64)
    if labels.shape != (images.shape[0], len(factor_names)):
        raise ValueError(
            f"{name}: labels must be [{images.shape[0]}, {len(factor_names)}] "
            f"({', '.join(factor_names)}), got {labels.shape}."
        )
    mined = pairs.mine_pairs(labels, max_pairs_per_fov=max_pairs_per_fov, seed=seed)
    rows = np.concatenate([m.reshape(-1, 2) for m in mined], axis=0).astype(np.int32)
    changed = np.concatenate(
        [
            np.tile(np.eye(len(factor_names), dtype=bool)[j], (len(m), 1))
            for j, m in enumerate(mined)
        ],
        axis=0,
    )
    return LabelledData(
        jnp.asarray(images, jnp.uint8),
        jnp.asarray(labels, jnp.int32),
        jnp.asarray(rows),
        jnp.asarray(changed),
        name,
        tuple(factor_names),
        tuple(int(s) for s in factor_sizes),
    )
