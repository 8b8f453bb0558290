"""Fixed-FoV batches for the BetaVAE and FactorVAE scores, sampled and encoded on the device.

The sampling halves of `beta_vae.py` and `factor_vae.py` (disentanglement_lib's
`_generate_training_batch`s), without per-sample Python: one jitted program per
metric draws every point's FoV j, its batch of FoV states with j held fixed,
renders the images (`GridData.observe`) and encodes them, `chunk_points` points
(x 64 images) per `encode` call under `lax.map`, so the encoder compiles once.
Train and evaluation points come from one call and are split afterwards.

`encode(images float32 [B, 64, 64, C]) -> codes [B, d]` is a jittable function, or
`-> codes [M, B, d]` for M models at once: the images are then drawn and rendered once
and encoded by every model, and each returned array but the labels gains a leading M
axis (model m's arrays equal those of model m's encoder alone with the same key).
Pass a model as `jax.tree_util.Partial(apply_fn, params)`: its parameters are
then arguments of the program, not constants baked into it, and models of the
same architecture share one compile. Other callables are wrapped in a `Partial`
(a new function object means a new compile).

The returned dicts are keyed by the scorers' argument names:
`beta_vae.beta_vae_score(**beta_vae_samples(...))`,
`factor_vae.factor_vae_score(**factor_vae_samples(...))`.
Shapes: P points, B = batch_size images per point, d latent dims, F FoVs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.tree_util import Partial

from drl_jax.data.ground_truth import GridData

BATCH_SIZE = 64
CHUNK_POINTS = 64


def _encode_checked(encode: Partial, images: jax.Array) -> jax.Array:
    """images [B, 64, 64, C] -> float32 codes [B, d] or [M, B, d] (an encoder of M
    models); raises on any other shape."""
    codes = encode(images)
    if codes.ndim not in (2, 3) or codes.shape[-2] != images.shape[0]:
        raise ValueError(
            f"encode must map images {images.shape} to codes [B, d] or [M, B, d], got "
            f"{codes.shape}."
        )
    return codes.astype(jnp.float32)


def _map_chunks(fn: Callable, key: jax.Array, num_points: int, chunk_points: int):
    """lax.map of fn over ceil(num_points / chunk_points) keys, fn's outputs [..., P, ...]
    with the points on axis -2 (features [P, d] or [M, P, d]) or alone (labels [P]); returns them
    with the chunks' points joined, cut to num_points."""
    outputs = jax.lax.map(fn, jax.random.split(key, -(-num_points // chunk_points)))

    def join(a):  # [chunks, ..., P, d] -> [..., chunks * P, d]; [chunks, P] -> [chunks * P]
        if a.ndim == 2:
            return a.reshape(-1)[:num_points]
        a = jnp.moveaxis(a, 0, -3)
        return a.reshape(*a.shape[:-3], -1, a.shape[-1])[..., :num_points, :]

    return jax.tree.map(join, outputs)


def _fixed_fov_states(space, key: jax.Array, points: int, batch: int):
    """Labels int32 [points] (the fixed FoV of each point, uniform), random FoV states
    int32 [points, batch, F] and the mask bool [points, 1, F] of each point's fixed FoV."""
    label_key, factor_key = jax.random.split(key)
    labels = jax.random.randint(label_key, (points,), 0, space.num_factors)
    factors = space.sample(factor_key, points * batch).reshape(points, batch, space.num_factors)
    fixed = jax.nn.one_hot(labels, space.num_factors, dtype=jnp.bool_)[:, None, :]
    return labels, factors, fixed


@functools.partial(jax.jit, static_argnames=("num_points", "batch_size", "chunk_points"))
def _beta_vae_arrays(data, encode, key, num_points, batch_size, chunk_points):
    space = data.space

    def chunk(chunk_key):
        state_key, other_key, observe_key = jax.random.split(chunk_key, 3)
        labels, factors1, fixed = _fixed_fov_states(space, state_key, chunk_points, batch_size)
        factors2 = space.sample(other_key, chunk_points * batch_size).reshape(factors1.shape)
        factors2 = jnp.where(fixed, factors1, factors2)
        both = jnp.concatenate([factors1, factors2]).reshape(-1, space.num_factors)
        codes = _encode_checked(encode, data.observe(both, observe_key))
        codes = codes.reshape(*codes.shape[:-2], 2, chunk_points, batch_size, codes.shape[-1])
        differences = jnp.abs(codes[..., 0, :, :, :] - codes[..., 1, :, :, :])
        return jnp.mean(differences, axis=-2), labels

    return _map_chunks(chunk, key, num_points, chunk_points)


@functools.partial(
    jax.jit, static_argnames=("num_points", "num_variance_estimate", "batch_size", "chunk_points")
)
def _factor_vae_arrays(
    data, encode, key, num_points, num_variance_estimate, batch_size, chunk_points
):
    space = data.space
    global_key, points_key = jax.random.split(key)
    images_per_chunk = chunk_points * batch_size

    def random_codes(chunk_key):
        return _encode_checked(encode, data.sample(chunk_key, images_per_chunk)[0])

    codes = _map_chunks(random_codes, global_key, num_variance_estimate, images_per_chunk)

    def chunk(chunk_key):
        state_key, observe_key = jax.random.split(chunk_key)
        labels, factors, fixed = _fixed_fov_states(space, state_key, chunk_points, batch_size)
        factors = jnp.where(fixed, factors[:, :1, :], factors)  # FoV j of the first image
        images = data.observe(factors.reshape(-1, space.num_factors), observe_key)
        codes = _encode_checked(encode, images)
        codes = codes.reshape(*codes.shape[:-2], chunk_points, batch_size, codes.shape[-1])
        return jnp.var(codes, axis=-2, ddof=1), labels

    variances, labels = _map_chunks(chunk, points_key, num_points, chunk_points)
    return variances, labels, jnp.var(codes, axis=-2, ddof=1)


def _as_partial(encode: Callable) -> Partial:
    return encode if isinstance(encode, Partial) else Partial(encode)


def _check(data, **counts: int) -> None:
    if not isinstance(data, GridData):
        raise ValueError(
            f"Intervention sampling needs a full FoV grid (GridData), got {type(data).__name__} "
            f"{getattr(data, 'name', '')!r}."
        )
    if any(not isinstance(v, int) or v < 1 for v in counts.values()):
        raise ValueError(f"Counts must be positive integers, got {counts}.")
    if counts["batch_size"] < 2:
        raise ValueError(f"batch_size must be >= 2 (variances and pairs), got {counts}.")


def beta_vae_samples(
    data: GridData,
    encode: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    *,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    batch_size: int = BATCH_SIZE,
    chunk_points: int = CHUNK_POINTS,
) -> dict[str, jax.Array]:
    """BetaVAE points: for each, mean over batch_size pairs sharing FoV j of |z1 - z2|.

    Returns:
      `features_train` float [num_train, d], `labels_train` int32 [num_train] (the fixed
      FoV j, uniform over the F FoVs), `features_eval` [num_eval, d], `labels_eval`;
      features [M, ..., d] for an encoder of M models.
    """
    _check(
        data,
        num_train=num_train,
        num_eval=num_eval,
        batch_size=batch_size,
        chunk_points=chunk_points,
    )
    features, labels = _beta_vae_arrays(
        data,
        _as_partial(encode),
        key,
        num_train + num_eval,
        batch_size,
        chunk_points,
    )
    return {
        "features_train": features[..., :num_train, :],
        "labels_train": labels[:num_train],
        "features_eval": features[..., num_train:, :],
        "labels_eval": labels[num_train:],
    }


def factor_vae_samples(
    data: GridData,
    encode: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    *,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    batch_size: int = BATCH_SIZE,
    chunk_points: int = CHUNK_POINTS,
) -> dict[str, jax.Array]:
    """FactorVAE points: code variances (ddof=1) within batch_size images sharing FoV j.

    Returns:
      `variances_train` float [num_train, d], `labels_train` int32 [num_train],
      `variances_eval` [num_eval, d], `labels_eval` [num_eval], and `global_variances`
      [d]: variances (ddof=1) of the codes of num_variance_estimate random images;
      variances [M, ..., d] for an encoder of M models.
    """
    _check(
        data,
        num_train=num_train,
        num_eval=num_eval,
        num_variance_estimate=num_variance_estimate,
        batch_size=batch_size,
        chunk_points=chunk_points,
    )
    variances, labels, global_variances = _factor_vae_arrays(
        data,
        _as_partial(encode),
        key,
        num_train + num_eval,
        num_variance_estimate,
        batch_size,
        chunk_points,
    )
    return {
        "variances_train": variances[..., :num_train, :],
        "labels_train": labels[:num_train],
        "variances_eval": variances[..., num_train:, :],
        "labels_eval": labels[num_train:],
        "global_variances": global_variances,
    }
