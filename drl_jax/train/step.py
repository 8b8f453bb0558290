"""The jitted, sharded training step: K optimizer steps per call, one or M models.

`make_train_steps(...)` returns `train_steps(state, data) -> (state, metrics)` that
runs K = `steps_per_call` steps in one `lax.scan`; each step samples its own batch
on the device from `data` (a GridData / LabelledData pytree, passed as an argument),
runs forward and backward and updates the VAE (and FactorVAE's discriminator).
`make_sweep_train_steps` is the same step over a stacked state [M, ...]
(`create_sweep_state`; vmapped, or models in sequence where the convolution formulation
asks for it: `architectures.over_models`), all models reading the same `data` with their
own keys. `flops_per_step` counts one step's FLOPs.

Sharding: with a `Mesh` of axes ("model", "data") (`make_mesh`), every step's batch
is constrained to be split over `data`, a sweep state over `model` (replicated over
`data`); the single-model state is replicated. The state argument is donated.
Random numbers do not depend on the device count: JAX's partitionable threefry
(`jax_threefry_partitionable`, on by default since JAX 0.5) draws the same values
however an array is sharded; `make_mesh` refuses to build a mesh when it is off.

Metrics of one call (float32; means over the K steps unless stated):
  loss, reconstruction, kl, and the method's terms (see drl_jax.models.methods);
  kl_per_dim [d] (nats, mean over batch and steps);
  active_dims: number of dims whose kl_per_dim exceeds ACTIVE_KL_NATS (from the
    K-step mean, so an integer value);
  grad_norm, param_norm, update_norm: global L2 norms of the VAE's gradients, of its
    parameters after the step, and of the step's updates;
  loss_per_step [K]: the VAE objective of each step (to find the first non-finite one).
A sweep adds the leading model axis [M, ...] to every metric.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from drl_jax.models.architectures import VAE, over_models
from drl_jax.models.methods import Method, check_hparams
from drl_jax.train.state import TrainState, sweep_sharding

ACTIVE_KL_NATS = 0.01  # A latent dim is active when its mean KL to the prior exceeds this.


def make_mesh(num_model_shards: int = 1) -> Mesh:
    """A ("model", "data") mesh over all devices: num_model_shards x (devices / that)."""
    if not jax.config.jax_threefry_partitionable:
        raise ValueError(
            "jax_threefry_partitionable is off: random draws would depend on the sharding. "
            "Enable it with jax.config.update('jax_threefry_partitionable', True)."
        )
    count = jax.device_count()
    if num_model_shards < 1 or count % num_model_shards:
        raise ValueError(
            f"num_model_shards={num_model_shards} must divide the device count {count}."
        )
    shape = (num_model_shards, count // num_model_shards)
    return jax.make_mesh(shape, ("model", "data"), axis_types=(AxisType.Auto,) * 2)


def _sample_batch(method: Method, data, key, batch_size: int, pair_k: int) -> dict:
    if method.needs_pairs:
        return data.sample_pairs(key, batch_size, pair_k)
    images, factors = data.sample(key, batch_size)
    return {"x": images, "factors": factors}


def _one_step(vae, method, optimizer, batch_size, pair_k, batch_sharding, data, state):
    check_hparams(method, state.hparams)
    key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
    data_key, loss_key = jax.random.split(key)
    batch = _sample_batch(method, data, data_key, batch_size, pair_k)
    if batch_sharding is not None:
        batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
    objective = jax.value_and_grad(method.objective(vae), argnums=(0, 2), has_aux=True)
    (_, (metrics, batch_stats)), (grads, extra_grads) = objective(
        state.params,
        state.batch_stats,
        state.extra["params"],
        batch,
        loss_key,
        state.hparams,
        state.step,
    )
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {
        **metrics,
        "grad_norm": optax.tree.norm(grads),
        "param_norm": optax.tree.norm(params),
        "update_norm": optax.tree.norm(updates),
    }
    state = state.replace(
        step=state.step + 1,
        params=params,
        batch_stats=batch_stats,
        opt_state=opt_state,
        extra=method.update_extra(state.extra, extra_grads),
    )
    return state, metrics


def _k_steps(one_step, steps_per_call: int, state: TrainState, data):
    state, per_step = jax.lax.scan(
        lambda carry, _: one_step(data, carry), state, length=steps_per_call
    )
    metrics = jax.tree.map(lambda values: jnp.mean(values, axis=0), per_step)
    metrics["active_dims"] = jnp.sum(metrics["kl_per_dim"] > ACTIVE_KL_NATS, dtype=jnp.float32)
    metrics["loss_per_step"] = per_step["loss"]
    return state, metrics


def _build(vae, method, optimizer, batch_size, steps_per_call, pair_k, mesh, sweep):
    if steps_per_call < 1 or batch_size < 1:
        raise ValueError(
            f"steps_per_call and batch_size must be >= 1, got {steps_per_call}, {batch_size}."
        )
    batch_sharding = None
    if mesh is not None:
        if tuple(mesh.axis_names) != ("model", "data"):
            raise ValueError(f"Expected mesh axes ('model', 'data'), got {mesh.axis_names}.")
        if batch_size % mesh.shape["data"]:
            raise ValueError(
                f"batch_size {batch_size} must be divisible by the mesh's data axis "
                f"({mesh.shape['data']} devices)."
            )
        if not sweep and mesh.shape["model"] != 1:
            raise ValueError(
                f"A single model needs a mesh with model axis 1, got {dict(mesh.shape)}; "
                "use make_sweep_train_steps to shard models."
            )
        batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
    one_step = functools.partial(
        _one_step, vae, method, optimizer, batch_size, pair_k, batch_sharding
    )
    train_steps = functools.partial(_k_steps, one_step, steps_per_call)
    if sweep:
        spmd_axis = None if mesh is None else "model"
        train_steps = over_models(vae, train_steps, spmd_axis)
    if mesh is None:
        return jax.jit(train_steps, donate_argnums=0)
    state_sharding = sweep_sharding(mesh) if sweep else NamedSharding(mesh, PartitionSpec())
    return jax.jit(
        train_steps,
        in_shardings=(state_sharding, NamedSharding(mesh, PartitionSpec())),
        out_shardings=(state_sharding, state_sharding),
        donate_argnums=0,
    )


def make_train_steps(
    vae: VAE,
    method: Method,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    steps_per_call: int,
    pair_k: int = 1,
    mesh: Mesh | None = None,
):
    """Jitted `(state, data) -> (state, metrics)` running `steps_per_call` steps of one model.

    Args:
      vae, method, optimizer: as given to `create_train_state`; the method may differ
        from the one the state was trained with (fine-tuning) if it reads the same hparams.
      batch_size: images per step (pairs per step for pair methods).
      steps_per_call: K, optimizer steps per call (one `lax.scan`).
      pair_k: FoVs changed within a weak pair (pair methods only).
      mesh: optional ("model", "data") mesh with model axis 1; the batch is split over
        "data" (batch_size must divide evenly), the state replicated.
    """
    return _build(vae, method, optimizer, batch_size, steps_per_call, pair_k, mesh, False)


def make_sweep_train_steps(
    vae: VAE,
    method: Method,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    steps_per_call: int,
    pair_k: int = 1,
    mesh: Mesh | None = None,
):
    """As `make_train_steps` for a stacked state [M, ...]; metrics gain the leading M axis.

    With a mesh, models are split over "model" (M divisible by its size) and each
    model's batch over "data".
    """
    return _build(vae, method, optimizer, batch_size, steps_per_call, pair_k, mesh, True)


def flops_per_step(
    vae: VAE,
    method: Method,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    state: TrainState,
    data,
    pair_k: int = 1,
) -> float:
    """FLOPs of one optimizer step of one model (batch sampling, forward, backward, update),
    as XLA's cost analysis counts them in a program of that one step.

    The K-step program's own count does not serve: XLA counts a loop body once, whatever
    the trip count. `state` is one model's (unstacked) state.
    """
    one_step = functools.partial(_one_step, vae, method, optimizer, batch_size, pair_k, None)
    compiled = jax.jit(lambda s, d: one_step(d, s)).lower(state, data).compile()
    return float((compiled.cost_analysis() or {}).get("flops", float("nan")))
