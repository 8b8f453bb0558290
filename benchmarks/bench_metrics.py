"""Wall time of each standard metric on a Shapes3D-sized evaluation (SPEC sections 2 and 4).

    python benchmarks/bench_metrics.py [--n_jobs 2] [--skip_mlp]

15,000 samples (10,000 train / 5,000 test) of the Shapes3D FoV grid (sizes 10, 10,
10, 8, 4, 15); codes [N, 10] = a fixed random linear mixture of the normalised FoVs
plus N(0, 0.1^2) noise. The BetaVAE/FactorVAE rows time the jitted samplers
(`interventions.py`, default 10,000 + 5,000 points of 64 images, on whatever device
JAX has) on a grid whose images carry the FoVs and the noise in their first pixels,
with the same mixture as encoder, plus the sklearn scorers. Prints one table (wall
and CPU seconds, CPU including joblib's workers, and each metric's share of the wall
time) and the accuracy difference between `downstream`'s exact and histogram GBTs.
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from joblib.externals.loky import get_reusable_executor

from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData
from drl_jax.metrics import (
    beta_vae,
    dci,
    downstream,
    factor_vae,
    interventions,
    mig,
    modularity,
    sap,
)

SIZES = (10, 10, 10, 8, 4, 15)
NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
NUM_CODES, NOISE = 10, 0.1


def mixture_data(weights: np.ndarray) -> tuple[GridData, callable]:
    """A grid whose images hold FoV / (size - 1) in row 0 and code noise in row 1."""
    space = FactorSpace(NAMES, SIZES)
    scale = jnp.asarray(SIZES, jnp.float32) - 1.0

    def render(arrays, factors, key):
        del arrays
        images = jnp.zeros((factors.shape[0], 64, 64, 1), jnp.float32)
        noise = jax.random.normal(key, (factors.shape[0], NUM_CODES))
        images = images.at[:, 0, : len(SIZES), 0].set(factors / scale)
        return images.at[:, 1, :NUM_CODES, 0].set(noise)

    def encode(images):
        return (
            images[:, 0, : len(SIZES), 0] @ jnp.asarray(weights)
            + NOISE * images[:, 1, :NUM_CODES, 0]
        )

    return GridData({}, "mixture", space, 1, render), encode


def timed(rows: dict, name: str, fn, *args, **kwargs):
    """Runs fn, adding (wall seconds, CPU seconds of this process and its workers) to rows."""
    start_wall, start_cpu = time.perf_counter(), sum(os.times()[:4])
    result = jax.block_until_ready(fn(*args, **kwargs))
    get_reusable_executor().shutdown(wait=True)  # joined workers' CPU time shows in os.times
    wall, cpu = time.perf_counter() - start_wall, sum(os.times()[:4]) - start_cpu
    rows[name] = (wall, cpu)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n_jobs", type=int, default=2)
    parser.add_argument("--skip_mlp", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, s, 15_000) for s in SIZES], axis=1)
    weights = rng.normal(size=(len(SIZES), NUM_CODES)).astype(np.float32)
    codes = (factors / (np.asarray(SIZES) - 1.0)) @ weights
    codes = codes + NOISE * rng.normal(size=codes.shape)
    train, test = (codes[:10_000], factors[:10_000]), (codes[10_000:], factors[10_000:])
    rows: dict[str, tuple[float, float]] = {}
    jobs = {"n_jobs": args.n_jobs}

    result = timed(rows, "mig", mig.mig, *train)
    best = np.argmax(np.asarray(result["mutual_info"]), axis=0)  # stands in for OMES
    gbts = timed(rows, "dci (fit GBTs)", dci.fit_gbts, *train, **jobs)
    timed(rows, "dci (scores)", dci.dci, *train, *test, gbts=gbts, **jobs)
    timed(rows, "sap (discrete)", sap.sap, *train, *test)
    timed(rows, "modularity + explicitness", modularity.modularity, *train, *test)
    data, encode = mixture_data(weights)
    key0, key1 = jax.random.key(0), jax.random.key(1)
    samples = timed(rows, "beta_vae (sampling)", interventions.beta_vae_samples, data, encode, key0)
    timed(rows, "beta_vae (score)", beta_vae.beta_vae_score, **samples)
    sampler = interventions.factor_vae_samples
    samples = timed(rows, "factor_vae (sampling)", sampler, data, encode, key1)
    timed(rows, "factor_vae (score)", factor_vae.factor_vae_score, **samples)
    split = (*train, *test)
    options = {"dims_per_fov": {j: [int(h)] for j, h in enumerate(best)}, **jobs}
    gbt_name = "downstream gbt (pruned; full reused)"
    exact = timed(
        rows, gbt_name, downstream.downstream, *split, classifiers=("gbt",), gbts=gbts, **options
    )
    if not args.skip_mlp:
        mlp_name = "downstream mlp (full + pruned)"
        timed(rows, mlp_name, downstream.downstream, *split, classifiers=("mlp",), **options)
    hist_rows: dict[str, tuple[float, float]] = {}
    hist = timed(
        hist_rows,
        "hist",
        downstream.downstream,
        *split,
        classifiers=("gbt",),
        gbt_backend="hist",
        **options,
    )

    total = sum(wall for wall, _ in rows.values())
    print(
        f"{len(factors)} samples, d={NUM_CODES}, FoV sizes {SIZES}, n_jobs={args.n_jobs} "
        f"(joblib loky), {os.cpu_count()} CPUs, JAX on {jax.devices()[0].platform}"
    )
    print(f"{'metric':40s} {'wall s':>9s} {'CPU s':>9s} {'share':>7s}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:40s} {wall:9.2f} {cpu:9.2f} {100 * wall / total:6.1f}%")
    print(f"{'total':40s} {total:9.2f} {sum(cpu for _, cpu in rows.values()):9.2f}")
    exact_wall = rows["dci (fit GBTs)"][0] + rows[gbt_name][0]
    print(
        f"\ndownstream GBT full + pruned, wall s: exact (incl. DCI's fit) {exact_wall:.2f}, "
        f"hist backend {hist_rows['hist'][0]:.2f}"
    )
    for variant in ("full", "pruned"):
        e, h = exact[f"gbt_{variant}_per_fov"], hist[f"gbt_{variant}_per_fov"]
        diffs = ", ".join(f"{b - a:+.3f}" for a, b in zip(e, h, strict=True))
        print(
            f"  {variant:6s} accuracy exact {exact[f'gbt_{variant}']:.4f}, hist "
            f"{hist[f'gbt_{variant}']:.4f}; per FoV hist - exact: {diffs}"
        )


if __name__ == "__main__":
    main()
