"""Wall time of each standard metric on a Shapes3D-sized evaluation (docs/method.md),
and the classifier backends against the exact sklearn ones.

    python benchmarks/bench_metrics.py [--n_jobs 2] [--skip_mlp] [--grids shapes3d dsprites]

15,000 samples (10,000 train / 5,000 test) of the Shapes3D FoV grid (sizes 10, 10,
10, 8, 4, 15); codes [N, 10] = a fixed random linear mixture of the normalised FoVs
plus N(0, 0.1^2) noise. The BetaVAE/FactorVAE rows time the jitted samplers
(`interventions.py`, default 10,000 + 5,000 points of 64 images, on whatever device
JAX has) on a grid whose images carry the FoVs and the noise in their first pixels,
with the same mixture as encoder, plus the sklearn scorers. Prints one table (wall
and CPU seconds, CPU including joblib's workers, and each metric's share of the wall
time), all with the exact backends.

Then, per grid (the Shapes3D one above, and the dSprites sizes 3, 6, 40, 32, 32 with
2,000 / 1,000 samples and the same kind of codes), the seconds of every backend of
DCI's GBTs (exact, lightgbm), the downstream GBTs (exact, lightgbm) and the
downstream MLP (sklearn, jax; the jax time includes its compile) and their
differences from the exact backends: DCI disentanglement, completeness and test
informativeness, and per-FoV test accuracy on the full and pruned codes.
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
from drl_jax.metrics import _beta_vae as beta_vae
from drl_jax.metrics import _dci as dci
from drl_jax.metrics import _downstream as downstream
from drl_jax.metrics import _factor_vae as factor_vae
from drl_jax.metrics import _mig as mig
from drl_jax.metrics import _modularity as modularity
from drl_jax.metrics import _sap as sap
from drl_jax.metrics import interventions

SIZES = (10, 10, 10, 8, 4, 15)
NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
NUM_CODES, NOISE = 10, 0.1
GRIDS = {  # name: (FoV sizes, train samples, test samples)
    "shapes3d": (SIZES, 10_000, 5_000),
    "dsprites": ((3, 6, 40, 32, 32), 2_000, 1_000),
}


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


def mixture_split(sizes: tuple[int, ...], num_train: int, num_test: int, seed: int = 0):
    """(codes_train, factors_train, codes_test, factors_test) and the mixture weights [F, d]."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, num_train + num_test) for s in sizes], axis=1)
    weights = rng.normal(size=(len(sizes), NUM_CODES)).astype(np.float32)
    codes = (factors / (np.asarray(sizes) - 1.0)) @ weights
    codes = codes + NOISE * rng.normal(size=codes.shape)
    split = (codes[:num_train], factors[:num_train], codes[num_train:], factors[num_train:])
    return split, weights


def run_backends(rows: dict, split: tuple, dims_per_fov: dict, jobs: dict, skip_mlp: bool):
    """Times every classifier backend on one split; returns the results by backend name."""
    results = {}
    for backend in dci.GBT_BACKENDS:
        gbts = timed(
            rows, f"dci {backend} (fit GBTs)", dci.fit_gbts, *split[:2], backend=backend, **jobs
        )
        results[f"dci {backend}"] = timed(
            rows, f"dci {backend} (scores)", dci.dci, *split, gbts=gbts
        )
        results[f"gbt {backend}"] = timed(
            rows,
            f"downstream gbt {backend} (pruned; full reused)",
            downstream.downstream,
            *split,
            dims_per_fov=dims_per_fov,
            classifiers=("gbt",),
            gbt_backend=backend,
            gbts=gbts,
            **jobs,
        )
    for backend in () if skip_mlp else downstream.MLP_BACKENDS:
        results[f"mlp {backend}"] = timed(
            rows,
            f"downstream mlp {backend} (full + pruned)",
            downstream.downstream,
            *split,
            dims_per_fov=dims_per_fov,
            classifiers=("mlp",),
            mlp_backend=backend,
            **jobs,
        )
    return results


def print_differences(rows: dict, results: dict) -> None:
    """Seconds of each backend and its differences from the exact one."""
    print(f"{'backend':48s} {'wall s':>9s} {'CPU s':>9s}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:48s} {wall:9.2f} {cpu:9.2f}")
    exact, fast = results["dci exact"], results["dci lightgbm"]
    for key in ("dci_disentanglement", "dci_completeness", "dci_informativeness_test"):
        a, b = exact[key], fast[key]
        print(f"{key}: exact {a:.4f}, lightgbm {b:.4f} ({b - a:+.4f})")
    per_fov = zip(exact["dci_completeness_per_fov"], fast["dci_completeness_per_fov"], strict=True)
    print(
        "dci_completeness per FoV lightgbm - exact:", ", ".join(f"{b - a:+.3f}" for a, b in per_fov)
    )
    comparisons = [("gbt", "exact", "lightgbm")]
    comparisons += [("mlp", "sklearn", "jax")] if "mlp jax" in results else []
    for kind, reference, other in comparisons:
        for variant in ("full", "pruned"):
            a, b = results[f"{kind} {reference}"], results[f"{kind} {other}"]
            per_fov = zip(
                a[f"{kind}_{variant}_per_fov"], b[f"{kind}_{variant}_per_fov"], strict=True
            )
            diffs = ", ".join("null" if x is None else f"{y - x:+.3f}" for x, y in per_fov)
            print(
                f"{kind} {variant:6s} {reference} {a[f'{kind}_{variant}']:.4f}, {other} "
                f"{b[f'{kind}_{variant}']:.4f}; per FoV {other} - {reference}: {diffs}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n_jobs", type=int, default=2)
    parser.add_argument("--skip_mlp", action="store_true")
    parser.add_argument("--grids", nargs="+", choices=tuple(GRIDS), default=tuple(GRIDS))
    args = parser.parse_args()
    jobs = {"n_jobs": args.n_jobs}
    print(
        f"d={NUM_CODES}, n_jobs={args.n_jobs} (joblib loky), {os.cpu_count()} CPUs, "
        f"JAX on {jax.devices()[0].platform}"
    )
    for grid in args.grids:
        sizes, num_train, num_test = GRIDS[grid]
        split, weights = mixture_split(sizes, num_train, num_test)
        rows: dict[str, tuple[float, float]] = {}
        result = timed(rows, "mig", mig.mig, *split[:2])
        best = np.argmax(np.asarray(result["mutual_info"]), axis=0)  # stands in for OMES
        dims_per_fov = {j: [int(h)] for j, h in enumerate(best)}
        if grid == "shapes3d":
            timed(rows, "sap (discrete)", sap.sap, *split)
            timed(rows, "modularity + explicitness", modularity.modularity, *split)
            data, encode = mixture_data(weights)
            key0, key1 = jax.random.key(0), jax.random.key(1)
            sampler = interventions.beta_vae_samples
            samples = timed(rows, "beta_vae (sampling)", sampler, data, encode, key0)
            timed(rows, "beta_vae (score)", beta_vae.beta_vae_score, **samples)
            sampler = interventions.factor_vae_samples
            samples = timed(rows, "factor_vae (sampling)", sampler, data, encode, key1)
            timed(rows, "factor_vae (score)", factor_vae.factor_vae_score, **samples)
        backend_rows: dict[str, tuple[float, float]] = {}
        results = run_backends(backend_rows, split, dims_per_fov, jobs, args.skip_mlp)
        exact_names = [n for n in backend_rows if "lightgbm" not in n and "jax" not in n]
        rows |= {n: backend_rows[n] for n in exact_names}
        total = sum(wall for wall, _ in rows.values())
        print(f"\n== {grid}: FoV sizes {sizes}, {num_train:,} / {num_test:,} samples ==")
        print(f"{'metric (exact backends)':48s} {'wall s':>9s} {'CPU s':>9s} {'share':>7s}")
        for name, (wall, cpu) in rows.items():
            print(f"{name:48s} {wall:9.2f} {cpu:9.2f} {100 * wall / total:6.1f}%")
        print(f"{'total':48s} {total:9.2f} {sum(cpu for _, cpu in rows.values()):9.2f}\n")
        print_differences(backend_rows, results)


if __name__ == "__main__":
    main()
