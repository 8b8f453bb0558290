"""Batched evaluation: representations and OMES of many checkpoints at once.

  python benchmarks/bench_evaluate.py [--models 100] [--num_samples 15000]
      [--architecture paper] [--dataset procedural_shapes3d] [--pairs_per_fov 5000]

What the evaluate job does for a group of M checkpoints of one architecture, timed by
part after compilation: encode N samples with all M encoders (means, posterior draws,
the ELBO's decoder pass), encode the intervention pairs, and OMES for all M models in
one call. Models are freshly initialised (their values do not change the cost).
Prints seconds per part, images encoded per second, and seconds per model; the full
metric suite's cost per model is benchmarks/bench_metrics.py's.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--num_samples", type=int, default=15_000)
    parser.add_argument("--architecture", default="paper")
    parser.add_argument("--dataset", default="procedural_shapes3d")
    parser.add_argument("--pairs_per_fov", type=int, default=5_000)
    parser.add_argument("--chunk_size", type=int, default=500)
    args = parser.parse_args()
    data = registry.load(args.dataset)
    vae = make_vae(args.architecture, data.channels, 10)
    image = np.zeros((1, 64, 64, data.channels), np.float32)
    variables = jax.vmap(lambda key: vae.init(key, image, False))(
        jax.random.split(jax.random.key(0), args.models)
    )
    key = jax.random.key(1)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}; jax {jax.__version__}"
    )
    print(
        f"{args.models} models ({args.architecture}), {args.dataset}, {args.num_samples} samples, "
        f"{args.pairs_per_fov} intervention pairs per FoV"
    )
    (encoded, factors), samples_s = timed(
        lambda: encoding.encode_samples(
            vae, variables, data, key, args.num_samples, args.chunk_size
        )
    )
    (z1, z2, valid), pairs_s = timed(
        lambda: encoding.encode_interventions(
            vae, variables, data, key, args.pairs_per_fov, args.chunk_size
        )
    )
    batched = jax.vmap(metrics.omes_from_pair_codes, in_axes=(0, 0, None, 0))
    _, omes_s = timed(lambda: batched(z1, z2, valid, encoded["mean"]))
    sample_images = args.models * args.num_samples
    pair_images = args.models * 2 * args.pairs_per_fov * data.space.num_factors
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
