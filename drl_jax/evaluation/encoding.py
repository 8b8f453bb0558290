"""Encoding ground-truth samples with M stacked models at once, on the device.

Every model sees the same samples and interventions; images are rendered or
looked up and encoded chunk by chunk in one jitted program per shape, so nothing
is per-sample Python and no image set is held on the host. Device memory is bounded
by a budget: `plan_chunks` splits models and images into calls whose buffers fit
(XLA's own count of a probe program), with results equal to encoding in one piece.
Shapes: M models, N samples, d latent dims, F FoVs, P pairs per FoV.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from tqdm import tqdm

from drl_jax.data import pairs
from drl_jax.data.ground_truth import IMAGE_SIZE, GridData, GroundTruthData
from drl_jax.metrics import interventions
from drl_jax.metrics.registry import MetricOptions, intervention_points
from drl_jax.models import losses
from drl_jax.models.architectures import (
    INFERENCE_BLOCK,
    VAE,
    in_blocks,
    models_in_sequence,
    over_models,
)


@functools.partial(jax.jit, static_argnums=0)
def encode_images(vae: VAE, variables: dict, images: jax.Array, keys: jax.Array) -> dict:
    """Encodes images [B, 64, 64, C] with M stacked models (variables [M, ...], keys [M]).

    Returns:
      `mean`, `sampled` (a posterior draw with the model's key) float32 [M, B, d];
      `reconstruction` float32 [M, B]: the negative ELBO's reconstruction term (nats;
      Bernoulli, summed over pixels) of the posterior draw; `kl_per_dim` float32
      [M, B, d]: each dimension's KL to the prior (nats; their sum is the ELBO's KL).
    """

    def one(model):
        model_variables, model_key = model
        mean, logvar = encode_in_blocks(vae, model_variables, images)
        z = losses.sample_gaussian(model_key, mean, logvar)

        def reconstruction(codes, targets):
            logits = vae.apply(model_variables, codes, False, method="decode")
            return losses.bernoulli_reconstruction(logits, targets)

        return {
            "mean": mean,
            "sampled": z,
            "reconstruction": in_blocks(reconstruction, z, images),
            "kl_per_dim": losses.gaussian_kl(mean, logvar),
        }

    return over_models(vae, one)((variables, keys))


@functools.partial(jax.jit, static_argnums=0)
def encode_means(vae: VAE, variables: dict, images: jax.Array) -> jax.Array:
    """Encoder means float32 [M, B, d] of images [B, 64, 64, C] under M stacked models."""
    return over_models(vae, lambda v: encode_in_blocks(vae, v, images)[0])(variables)


def encoder_means(vae: VAE, variables: dict, images: jax.Array) -> jax.Array:
    """One model's encoder means float32 [B, d] of images [B, 64, 64, C] (evaluation mode,
    in inference blocks): the encoder BetaVAE and FactorVAE call, under their jit."""
    return encode_in_blocks(vae, variables, images)[0]


def encode_in_blocks(vae: VAE, variables: dict, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One model's (mean, log-variance) float32 [B, d] of images [B, 64, 64, C], evaluation
    mode, in the backend's inference blocks (architectures.in_blocks)."""
    return in_blocks(lambda x: vae.apply(variables, x, False, method="encode"), images)


@dataclasses.dataclass(frozen=True)
class Chunks:
    """How many models and images go into one device call."""

    models: int
    images: int


def memory_budget() -> int:
    """Bytes an encoding call may use: half the device's memory where JAX reports it, a
    quarter of the host's memory on CPU (which reports none)."""
    stats = jax.local_devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return stats["bytes_limit"] // 2
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4


def _variable_shapes(vae: VAE, channels: int) -> dict:
    image = jax.ShapeDtypeStruct((1, IMAGE_SIZE, IMAGE_SIZE, channels), jnp.float32)
    return jax.eval_shape(lambda x: vae.init(jax.random.key(0), x, False), image)


def call_bytes(vae: VAE, models: int, images: int, channels: int) -> int:
    """Device bytes of one `encode_images` call on `models` x `images` (XLA's count of the
    compiled program: arguments, outputs and temporaries)."""
    one = _variable_shapes(vae, channels)
    stacked = jax.tree.map(lambda x: jax.ShapeDtypeStruct((models, *x.shape), x.dtype), one)
    batch = jax.ShapeDtypeStruct((images, IMAGE_SIZE, IMAGE_SIZE, channels), jnp.float32)
    keys = jax.ShapeDtypeStruct((models,), jax.random.key(0).dtype)
    stats = encode_images.lower(vae, stacked, batch, keys).compile().memory_analysis()
    return stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes


@functools.lru_cache(maxsize=64)
def plan_chunks(vae: VAE, num_models: int, channels: int, chunk_size: int, budget: int) -> Chunks:
    """The largest calls within `budget` bytes: up to chunk_size images, as many models as fit.

    Bytes grow linearly in the models of a call (vmapped models hold their buffers side by
    side, models in sequence share theirs): measured on calls of 2 models (XLA's count),
    with fewer images where 2 models do not fit (whole inference blocks where the backend
    has them), and of 4 models where the bound below does not already admit all. Planned
    once per shape in a process.
    """
    block = INFERENCE_BLOCK.get(jax.default_backend())
    images = chunk_size
    two = call_bytes(vae, 2, images, channels)
    while two > budget and images > 1:  # part of the bytes does not shrink with the images
        images = max(1, int(0.9 * images * budget / two))
        if block and images > block:  # whole inference blocks: no padded copy of the batch
            images -= images % block
        two = call_bytes(vae, 2, images, channels)
    # bytes(m) = fixed + m * per_model, both >= 0: bytes(1) <= bytes(2), and bytes(m) <=
    # m / 2 * bytes(2) for m >= 2. Where that admits every model, one probe is enough.
    if two <= budget and num_models * two <= 2 * budget:
        return Chunks(models=num_models, images=images)
    four = call_bytes(vae, 4, images, channels)
    per_model = max((four - two) / 2, 1.0)
    models = int((budget - (two - 2 * per_model)) // per_model)
    return Chunks(models=max(1, min(num_models, models)), images=images)


@functools.partial(jax.jit, static_argnums=2)
def _sample(data: GroundTruthData, key: jax.Array, batch: int):
    return data.sample(key, batch)


@jax.jit
def _observe(data: GridData, factors: jax.Array, key: jax.Array) -> jax.Array:
    return data.observe(factors, key)


def _model_chunks(variables: dict, size: int) -> list[tuple[dict, np.ndarray, int]]:
    """Per call: (the variables of `size` models on the device, their indices, how many of
    them are new). The last call repeats model M - 1 so that every call has one shape (one
    compile). Placed once, reused for every image chunk."""
    num_models = jax.tree.leaves(variables)[0].shape[0]
    chunks = []
    for start in range(0, num_models, size):
        models = np.minimum(np.arange(start, start + size), num_models - 1)
        placed = jax.device_put(jax.tree.map(lambda x, models=models: x[models], variables))
        chunks.append((placed, models, min(size, num_models - start)))
    return chunks


def encode_samples(
    vae: VAE,
    variables: dict,
    data: GroundTruthData,
    key: jax.Array,
    num_samples: int,
    chunks: Chunks,
    model_keys: jax.Array | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draws num_samples (images, FoVs) from data and encodes them with every model.

    Every model sees the same images (drawn with `key`) and draws its posterior sample
    with its own key, however the models and images are split into calls (`chunks`).

    Args:
      model_keys: [M] PRNG keys of the models' posterior draws; give each model a key
        of its own (e.g. from its checkpoint) to make its numbers independent of the
        models it is encoded with. Default: M keys split from `key`.

    Returns:
      (`encode_images`' dict as numpy [M, N, ...], FoV classes int32 [N, F]).
    """
    num_models = jax.tree.leaves(variables)[0].shape[0]
    if model_keys is None:
        model_keys = jax.random.split(jax.random.fold_in(key, 1), num_models)
    model_chunks = _model_chunks(variables, chunks.models)
    outputs, factors = [], []
    bar = _bar(-(-num_samples // chunks.images) * len(model_chunks), "samples", num_models, chunks)
    for i in range(-(-num_samples // chunks.images)):
        sample_key, _ = jax.random.split(jax.random.fold_in(key, i))
        images, chunk_factors = _sample(data, sample_key, chunks.images)
        keys = _fold_in(model_keys, i)
        parts = []
        for placed, models, count in model_chunks:
            encoded = encode_images(vae, placed, images, keys[models])
            parts.append(jax.tree.map(lambda x, count=count: np.asarray(x[:count]), encoded))
            bar.update()
        outputs.append({name: np.concatenate([p[name] for p in parts]) for name in parts[0]})
        factors.append(np.asarray(chunk_factors))
    bar.close()
    encoded = {
        name: np.concatenate([o[name] for o in outputs], axis=1)[:, :num_samples]
        for name in outputs[0]
    }
    return encoded, np.concatenate(factors)[:num_samples]


@jax.jit
def _fold_in(keys: jax.Array, i: int) -> jax.Array:
    return jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, i)


def _bar(calls: int, what: str, num_models: int, chunks: Chunks) -> tqdm:
    return tqdm(
        total=calls,
        desc=f"  encode {what}: {num_models} models, {chunks.models} x {chunks.images} a call",
        unit="call",
        leave=False,
        disable=calls < 2,
    )


def encode_interventions(
    vae: VAE, variables: dict, data: GridData, key: jax.Array, per_fov: int, chunks: Chunks
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoder means of `per_fov` intervention pairs per FoV of a full grid.

    Returns:
      (z1, z2 float32 [M, F, P, d], valid bool [F, P]).
    """
    factors1, factors2, valid = pairs.intervention_pairs(data.space, key, per_fov)
    num_factors = data.space.num_factors
    num_models = jax.tree.leaves(variables)[0].shape[0]
    model_chunks = _model_chunks(variables, chunks.models)
    chunk = chunks.images
    total = factors1.shape[0] * factors1.shape[1]
    bar = _bar(2 * -(-total // chunk) * len(model_chunks), "pairs", num_models, chunks)
    codes = []
    for member, factors in enumerate((factors1, factors2)):
        flat = factors.reshape(-1, num_factors)
        parts = []
        for start in range(0, flat.shape[0], chunk):
            part_key = jax.random.fold_in(jax.random.fold_in(key, member), start)
            rows = flat[start : start + chunk]
            images = _observe(data, jnp.pad(rows, ((0, chunk - len(rows)), (0, 0))), part_key)
            per_models = []
            for placed, _, count in model_chunks:
                codes_part = encode_means(vae, placed, images)
                per_models.append(np.asarray(codes_part[:count, : len(rows)]))
                bar.update()
            parts.append(np.concatenate(per_models))
        merged = np.concatenate(parts, axis=1)
        codes.append(merged.reshape(merged.shape[0], num_factors, per_fov, -1))
    bar.close()
    return codes[0], codes[1], np.asarray(valid)


def encode_intervention_points(
    vae: VAE,
    variables: dict,
    data: GridData,
    key: jax.Array,
    options: MetricOptions,
    names: tuple[str, ...],
    budget: int,
) -> list[dict[str, dict[str, np.ndarray]]]:
    """BetaVAE's and FactorVAE's points (`names`, metrics.registry.intervention_points)
    of M stacked models: each call's images drawn and rendered once and encoded by all
    the models of the call: all M where the models run in sequence (CPU), else as many
    as fit `budget` bytes at the largest call's images. The evaluation draws them so on
    GPU and TPU (on CPU each scoring worker draws its model's).

    Returns:
      per model, name -> its points (labels shared), equal to those its encoder alone
      draws with the same key.
    """
    num_models = jax.tree.leaves(variables)[0].shape[0]
    size = num_models
    if not models_in_sequence(vae):
        images = 2 * interventions.CHUNK_POINTS * interventions.BATCH_SIZE  # BetaVAE's call
        planned = plan_chunks(vae, num_models, data.channels, images, budget)
        size = planned.models if planned.images == images else 1
    stacked = functools.partial(encode_means, vae)
    points: list[dict] = [{} for _ in range(num_models)]
    for placed, models, count in _model_chunks(variables, size):
        for name in names:
            arrays = jax.device_get(
                intervention_points(name, data, Partial(stacked, placed), key, options)
            )
            for m in range(count):
                points[models[m]][name] = {
                    k: v if k.startswith("labels") else v[m] for k, v in arrays.items()
                }
    return points
