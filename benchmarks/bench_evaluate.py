"""Batched evaluation: representations and OMES of many checkpoints at once.

  python benchmarks/bench_evaluate.py [--models 100] [--num_samples 15000]
      [--architecture paper] [--dataset procedural_shapes3d] [--pairs_per_fov 5000]
      [--chunk_size 500] [--memory_budget_gb 0] [--conv auto]

What the evaluate job does for a group of M checkpoints of one architecture, timed by
part after compilation: encode N samples with all M encoders (means, posterior draws,
the ELBO's decoder pass), encode the intervention pairs, and OMES for all M models in
one call. Models are freshly initialised (their values do not change the cost). Models
and images are split into calls as the job splits them (`encoding.plan_chunks` within
the memory budget: 0 = the default, half the device's memory or a quarter of the
host's). Prints the split, seconds per part, images encoded per second, and seconds
per model; the full metric suite's cost per model is benchmarks/bench_metrics.py's.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

from drl_jax import metrics
from drl_jax.data import registry
from drl_jax.evaluation import encoding
from drl_jax.models.architectures import make_vae


def timed(fn):
    """(result, seconds) of fn() with its outputs ready; fn runs once before, to compile."""
    jax.block_until_ready(fn())
    start = time.perf_counter()
    result = jax.block_until_ready(fn())
    return result, time.perf_counter() - start


def stacked_models(vae, models: int, channels: int) -> dict:
    """Freshly initialised variables of `models` models, stacked [M, ...]."""
    image = np.zeros((1, 64, 64, channels), np.float32)
    keys = jax.random.split(jax.random.key(0), models)
    return jax.jit(jax.vmap(lambda key: vae.init(key, image, False)))(keys)


def measure(vae, variables, data, num_samples: int, pairs_per_fov: int, chunks) -> dict:
    """Seconds (after compilation) of the evaluate job's encoding parts for M models:
    `samples_s` (encode + posterior draw + ELBO decode), `pairs_s` (the OMES
    intervention pairs), `omes_s` (OMES of all models in one call), and the images each
    encoded (`sample_images`, `pair_images`)."""
    key = jax.random.key(1)
    (encoded, _), samples_s = timed(
        lambda: encoding.encode_samples(vae, variables, data, key, num_samples, chunks)
    )
    (z1, z2, valid), pairs_s = timed(
        lambda: encoding.encode_interventions(vae, variables, data, key, pairs_per_fov, chunks)
    )
    batched = jax.vmap(metrics.omes_from_pair_codes, in_axes=(0, 0, None, 0))
    _, omes_s = timed(lambda: batched(z1, z2, valid, encoded["mean"]))
    models = jax.tree.leaves(variables)[0].shape[0]
    return {
        "samples_s": samples_s,
        "pairs_s": pairs_s,
        "omes_s": omes_s,
        "sample_images": models * num_samples,
        "pair_images": models * 2 * pairs_per_fov * data.space.num_factors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--num_samples", type=int, default=15_000)
    parser.add_argument("--architecture", default="paper")
    parser.add_argument("--dataset", default="procedural_shapes3d")
    parser.add_argument("--pairs_per_fov", type=int, default=5_000)
    parser.add_argument("--chunk_size", type=int, default=500)
    parser.add_argument("--memory_budget_gb", type=float, default=0.0)
    parser.add_argument("--conv", default="auto")
    args = parser.parse_args()
    data = registry.load(args.dataset)
    vae = make_vae(args.architecture, data.channels, 10, args.conv)
    budget = int(args.memory_budget_gb * 1e9) or encoding.memory_budget()
    chunks = encoding.plan_chunks(vae, args.models, data.channels, args.chunk_size, budget)
    variables = stacked_models(vae, args.models, data.channels)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}; jax {jax.__version__}"
    )
    print(
        f"{args.models} models ({args.architecture}), {args.dataset}, {args.num_samples} samples, "
        f"{args.pairs_per_fov} intervention pairs per FoV; conv {vae.encoder.conv}; calls of "
        f"{chunks.models} models x {chunks.images} images (budget {budget / 1e9:.1f} GB)"
    )
    result = measure(vae, variables, data, args.num_samples, args.pairs_per_fov, chunks)
    samples_s, pairs_s, omes_s = result["samples_s"], result["pairs_s"], result["omes_s"]
    sample_images, pair_images = result["sample_images"], result["pair_images"]
    total = samples_s + pairs_s + omes_s
    print(f"{'part':<44}{'seconds':>9}{'images/s':>11}")
    print(
        f"{'samples: encode + ELBO decode':<44}{samples_s:>9.2f}{sample_images / samples_s:>11.0f}"
    )
    print(f"{'intervention pairs: encode':<44}{pairs_s:>9.2f}{pair_images / pairs_s:>11.0f}")
    print(f"{'OMES, all models in one call':<44}{omes_s:>9.3f}")
    print(f"{'total':<44}{total:>9.2f}   ({total / args.models:.2f} s per model)")


if __name__ == "__main__":
    main()
