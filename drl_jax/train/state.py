"""The training state pytree and its construction, for one model or a sweep of M.

A sweep state is a `TrainState` whose every leaf has a leading model axis [M, ...]
(different seeds and hparams per model, one architecture and method); it is built
by vmapping `create_train_state`, born sharded over the mesh's `model` axis.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from drl_jax.models.methods import Method, check_hparams
from drl_jax.runtime import RUN_RARELY


@struct.dataclass
class TrainState:
    """Everything one model's training carries from step to step.

    Attributes:
      step: int32 [] optimizer steps taken.
      params: the VAE's `params` collection.
      batch_stats: the VAE's `batch_stats` collection (`{}` without BatchNorm).
      opt_state: the VAE optimizer's state.
      extra: `{"params", "opt_state"}` of FactorVAE's discriminator (empty for others).
      key: uint32 [2] raw threefry key data of this model; step t uses
        `fold_in(wrap_key_data(key), t)`, so a resumed run draws the same numbers.
        Raw data (not a typed key) so checkpoints hold plain arrays.
      hparams: float32 [] scalars by name (the method's `hparam_names`).
    """

    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: Any
    extra: Any
    key: jax.Array
    hparams: dict[str, jax.Array]


def make_optimizer(learning_rate: float, grad_clip_norm: float) -> optax.GradientTransformation:
    """Adam after clipping the gradients' global norm (lr 1e-4, clip 1.0; docs/models.md)."""
    return optax.chain(optax.clip_by_global_norm(grad_clip_norm), optax.adam(learning_rate))


def _raw_key(key: jax.Array) -> jax.Array:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def _init(vae, method, optimizer, image_shape, key, hparams) -> TrainState:
    """One model's fresh state; hparams are float32 arrays (the first four args are static)."""
    params_key, extra_key, train_key = jax.random.split(key, 3)
    variables = vae.init(params_key, jnp.zeros((1, *image_shape), jnp.float32), False)
    params = variables["params"]
    latent_dim = vae.encoder.latent_dim
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats=variables.get("batch_stats", {}),
        opt_state=optimizer.init(params),
        extra=method.init_extra(extra_key, latent_dim),
        key=_raw_key(train_key),
        hparams=dict(hparams),
    )


# Compiled once per (vae, method, optimizer, image_shape): all four are hashable.
_init_jit = jax.jit(_init, static_argnums=(0, 1, 2, 3), compiler_options=RUN_RARELY)


def create_train_state(
    key: jax.Array,
    vae: nn.Module,
    method: Method,
    optimizer: optax.GradientTransformation,
    hparams: Mapping[str, float],
    image_shape: tuple[int, int, int],
) -> TrainState:
    """A fresh state for one model.

    Args:
      key: PRNG key (typed or raw) of this model; split into init and training keys.
      vae: from `make_vae`.
      method: from METHODS; decides `extra` and which hparams are required.
      optimizer: e.g. `make_optimizer(1e-4, 1.0)`.
      hparams: the method's `hparam_names` -> float (stored as float32 scalars).
      image_shape: (64, 64, C).
    """
    check_hparams(method, hparams)
    hparams = {name: jnp.asarray(value, jnp.float32) for name, value in hparams.items()}
    return _init_jit(vae, method, optimizer, tuple(image_shape), key, hparams)


def create_sweep_state(
    keys: jax.Array,
    vae: nn.Module,
    method: Method,
    optimizer: optax.GradientTransformation,
    hparams: Mapping[str, Any],
    image_shape: tuple[int, int, int],
    mesh: Mesh | None = None,
) -> TrainState:
    """A stacked state [M, ...]: model i is `create_train_state(keys[i], ...)` with hparams[:][i].

    Args:
      keys: M PRNG keys ([M] typed or [M, 2] raw).
      hparams: name -> float32 [M] values per model.
      mesh: if given, the state is created sharded over its `model` axis (M must be
        divisible by its size) and replicated over `data`.
      Other arguments as in `create_train_state`.
    """
    init, args = _sweep_init(keys, vae, method, optimizer, hparams, image_shape, mesh)
    return init(*args)


def sweep_state_shape(*args, **kwargs) -> TrainState:
    """`create_sweep_state(*args, **kwargs)`'s jax.ShapeDtypeStruct leaves, computing nothing
    (the target a checkpoint is restored into)."""
    init, init_args = _sweep_init(*args, **kwargs)
    return init.eval_shape(*init_args)


def _sweep_init(keys, vae, method, optimizer, hparams, image_shape, mesh=None):
    """`create_sweep_state`'s jitted initialiser and its (keys, hparams), validated."""
    check_hparams(method, hparams)
    hparams = {name: jnp.asarray(value, jnp.float32) for name, value in hparams.items()}
    sizes = {name: value.shape for name, value in hparams.items()}
    if any(shape != (keys.shape[0],) for shape in sizes.values()):
        raise ValueError(f"Sweep hparams must be [M={keys.shape[0]}] each, got shapes {sizes}.")
    init = jax.vmap(functools.partial(_init, vae, method, optimizer, tuple(image_shape)))
    out_shardings = None if mesh is None else sweep_sharding(mesh)
    return jax.jit(init, out_shardings=out_shardings, compiler_options=RUN_RARELY), (keys, hparams)


def sweep_sharding(mesh: Mesh) -> NamedSharding:
    """Sharding of every leaf of a sweep state [M, ...]: M over `model`, replicated over `data`."""
    return NamedSharding(mesh, PartitionSpec("model"))
