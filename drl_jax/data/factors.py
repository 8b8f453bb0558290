"""Factor spaces: the full factorial grid of a ground-truth dataset's FoVs.

A `FactorSpace` maps between a flat integer index (row-major, the last FoV
varies fastest, as in dSprites' and Shapes3D's files) and a tuple of FoV
classes, and samples from the grid: uniform states, single-FoV interventions
and weak pairs. Everything is integer arithmetic (the reference code's float
division covered a third of dSprites; docs/transfer.md#differences-from-the-reference-code),
jittable and batched. Shapes: B batch, F FoVs.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

_INT32_MAX = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class FactorSpace:
    """A mixed-radix grid of FoVs.

    Attributes:
      names: FoV names, in dataset order.
      sizes: number of classes of each FoV, in the same order.
    """

    names: tuple[str, ...]
    sizes: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if len(self.names) != len(self.sizes):
            raise ValueError(
                f"FactorSpace needs one size per name, got {len(self.names)} names "
                f"{self.names} and {len(self.sizes)} sizes {self.sizes}."
            )
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"FactorSpace names must be unique, got {self.names}.")
        if any(s < 1 for s in self.sizes):
            raise ValueError(f"FactorSpace sizes must be >= 1, got {self.sizes}.")
        if self.num_states > _INT32_MAX:
            raise ValueError(f"FactorSpace of {self.num_states} states does not fit int32 indices.")

    @property
    def num_factors(self) -> int:
        return len(self.sizes)

    @property
    def num_states(self) -> int:
        return math.prod(self.sizes)

    @property
    def strides(self) -> tuple[int, ...]:
        """Index stride of each FoV (row-major: the last FoV has stride 1)."""
        strides, stride = [], 1
        for size in reversed(self.sizes):
            strides.append(stride)
            stride *= size
        return tuple(reversed(strides))

    def index(self, factors: jax.typing.ArrayLike) -> jax.Array:
        """FoV classes int [..., F] -> flat index int32 [...]."""
        factors = jnp.asarray(factors, jnp.int32)
        self._check_last_axis(factors)
        return jnp.sum(factors * jnp.asarray(self.strides, jnp.int32), axis=-1)

    def factors(self, index: jax.typing.ArrayLike) -> jax.Array:
        """Flat index int [...] -> FoV classes int32 [..., F]."""
        index = jnp.asarray(index, jnp.int32)
        strides = jnp.asarray(self.strides, jnp.int32)
        sizes = jnp.asarray(self.sizes, jnp.int32)
        return (index[..., None] // strides) % sizes

    def sample(self, key: jax.Array, batch: int) -> jax.Array:
        """Uniform FoV states: int32 [batch, F]."""
        keys = jax.random.split(key, self.num_factors)
        columns = [
            jax.random.randint(k, (batch,), 0, size, jnp.int32)
            for k, size in zip(keys, self.sizes, strict=True)
        ]
        return jnp.stack(columns, axis=-1)

    def intervene(
        self, key: jax.Array, factors: jax.typing.ArrayLike, fov: jax.typing.ArrayLike
    ) -> jax.Array:
        """Sets FoV `fov` of each state to a different class, uniformly.

        Args:
          key: PRNG key.
          factors: int [B, F] FoV classes.
          fov: int scalar or [B]: the FoV to change per row. Its size must be > 1.

        Returns:
          int32 [B, F]: equal to `factors` except in column `fov`.
        """
        factors = jnp.asarray(factors, jnp.int32)
        self._check_last_axis(factors)
        batch = factors.shape[0]
        fov = jnp.broadcast_to(jnp.asarray(fov, jnp.int32), (batch,))
        changed = jax.nn.one_hot(fov, self.num_factors, dtype=jnp.bool_)
        return self._resample(key, factors, changed)

    def weak_pair(
        self, key: jax.Array, factors: jax.typing.ArrayLike, k: int = 1
    ) -> tuple[jax.Array, jax.Array]:
        """Changes k FoVs of each state, each to a different class (Ada-GVAE pairs).

        The k FoVs are drawn uniformly without replacement among the FoVs with more
        than one class.

        Args:
          key: PRNG key.
          factors: int [B, F] FoV classes.
          k: number of FoVs to change per row, 1 <= k <= number of variable FoVs.

        Returns:
          (int32 [B, F] the second states, bool [B, F] which FoVs changed).
        """
        factors = jnp.asarray(factors, jnp.int32)
        self._check_last_axis(factors)
        variable = np.asarray(self.sizes) > 1
        if not 1 <= k <= int(variable.sum()):
            raise ValueError(
                f"weak_pair needs 1 <= k <= {int(variable.sum())} (FoVs with more "
                f"than one class in {dict(zip(self.names, self.sizes, strict=True))}), got k={k}."
            )
        choose_key, resample_key = jax.random.split(key)
        # k smallest random scores among the variable FoVs: uniform k-subsets.
        scores = jax.random.uniform(choose_key, factors.shape)
        scores = jnp.where(jnp.asarray(variable), scores, jnp.inf)
        kth = jnp.sort(scores, axis=-1)[:, k - 1 : k]
        changed = scores <= kth
        return self._resample(resample_key, factors, changed), changed

    def _resample(self, key: jax.Array, factors: jax.Array, changed: jax.Array) -> jax.Array:
        """Moves each `changed` entry to a uniformly drawn different class."""
        sizes = jnp.asarray(self.sizes, jnp.int32)
        # An offset in [1, size) added modulo size never lands on the old class.
        offsets = jax.random.randint(key, factors.shape, 1, jnp.maximum(sizes, 2), jnp.int32)
        moved = (factors + offsets) % sizes
        return jnp.where(changed, moved, factors)

    def _check_last_axis(self, factors: jax.Array):
        if factors.shape[-1:] != (self.num_factors,):
            raise ValueError(
                f"Expected FoV classes with last axis {self.num_factors} "
                f"({', '.join(self.names)}), got shape {factors.shape}."
            )
