"""Wall time of each metric on a Shapes3D-sized evaluation (docs/method.md), the
classifier backends against the exact sklearn ones, and UDR across models against
disentanglement_lib's pair-by-pair loop.

    python benchmarks/bench_metrics.py [--sections standard backends other udr] [--n_jobs 2]
        [--skip_mlp] [--grids shapes3d dsprites cars3d] [--udr_models 10 100 300]
        [--udr_correlations spearman lasso] [--udr_reference_models 10] [--udr_repeats 2]

15,000 samples (10,000 train / 5,000 test) of the Shapes3D FoV grid (sizes 10, 10,
10, 8, 4, 15); codes [N, 10] = a fixed random linear mixture of the normalised FoVs
plus N(0, 0.1^2) noise. Sections (all by default):

* standard: MIG, SAP, modularity + explicitness, and BetaVAE/FactorVAE: the jitted
  samplers (`interventions.py`, default 10,000 + 5,000 points of 64 images, on
  whatever device JAX has) on a grid whose images carry the FoVs and the noise in
  their first pixels, with the same mixture as encoder, plus the sklearn scorers;
* backends: DCI's GBTs (exact, lightgbm), the downstream GBTs (exact, lightgbm) and
  the downstream MLP (sklearn, jax; the jax time includes its compile), and their
  differences from the exact backends: DCI disentanglement, completeness and test
  informativeness, and per-FoV test accuracy on the full and pruned codes;
* other: IRS, the unsupervised scores, the MI family (DCIMIG, JEMMIG, MIG-sup) and
  InfoMEC, each called as the registry calls it (the 10,000-sample training split),
  and InfoMEC's two halves (k-NN mutual information; InfoE's logistic regressions).
The first three print one table per grid of `--grids` (the Shapes3D one above, and
the dSprites sizes 3, 6, 40, 32, 32 with 2,000 / 1,000 samples, or on request the
Cars3D sizes 4, 24, 183 with 10,000 / 5,000, and the same kind of codes; of the
standard section only MIG on these two): wall and CPU seconds (CPU
including joblib's workers) and each row's share of the wall time, with the exact
backends.

* udr: M models' codes of the same 15,000 Shapes3D-grid samples, d = 10 (model m
  its own random mixture, as above; every dimension's KL 1, so all are kept), scored
  by `drl_jax.metrics.udr` (Spearman and Lasso): the compile of its jitted
  computation and the fastest of `--udr_repeats` calls after it. Against it,
  disentanglement_lib's `compute_udr_sklearn` after encoding, pair by pair as its
  udr.py runs it (`reference_udr`), timed in the same run for M in
  `--udr_reference_models`; for larger M its time is extrapolated from the measured
  seconds per pair (marked so), and the largest difference between its model scores
  and drl_jax's is printed where both ran.

The header gives the machine, the date and the load average: other work on the
same cores lengthens every time.
"""

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats
from joblib.externals.loky import get_reusable_executor
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData
from drl_jax.metrics import _beta_vae as beta_vae
from drl_jax.metrics import _dci as dci
from drl_jax.metrics import _downstream as downstream
from drl_jax.metrics import _factor_vae as factor_vae
from drl_jax.metrics import _infomec as infomec
from drl_jax.metrics import _mig as mig
from drl_jax.metrics import _modularity as modularity
from drl_jax.metrics import _sap as sap
from drl_jax.metrics import _udr, info, interventions, registry, udr

SIZES = (10, 10, 10, 8, 4, 15)
NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
NUM_CODES, NOISE = 10, 0.1
GRIDS = {  # name: (FoV sizes, train samples, test samples)
    "shapes3d": (SIZES, 10_000, 5_000),
    "dsprites": ((3, 6, 40, 32, 32), 2_000, 1_000),
    "cars3d": ((4, 24, 183), 10_000, 5_000),  # not by default: many classes, slow GBTs
}
SECTIONS = ("standard", "backends", "other", "udr")
OTHER = ("irs", "unsupervised", "mi_family", "infomec")  # registry names
UDR_SAMPLES = 15_000
UDR_CORRELATIONS = ("spearman", "lasso")
# disentanglement_lib's udr.py: Lasso(alpha=0.1); codes zeroed at KL <= 0.01.
REFERENCE_ALPHA, REFERENCE_ZERO_KL = 0.1, 0.01


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


def run_other(rows: dict, split: tuple, n_jobs: int) -> dict[str, tuple[float, float]]:
    """Times IRS, the unsupervised scores, the MI family and InfoMEC as the registry calls
    them; returns the seconds of InfoMEC's two halves (not rows of the table)."""
    inputs = registry.MetricInputs(
        codes=np.concatenate([split[0], split[2]]),
        factors=np.concatenate([split[1], split[3]]),
        num_train=len(split[0]),
    )
    options = registry.MetricOptions(n_jobs=n_jobs)
    for name in OTHER:
        shared = registry.Shared(inputs, options)
        timed(rows, name, registry.METRICS[name].compute, inputs, options, shared)
    codes, factors = (np.asarray(a, np.float64) for a in inputs.train)
    halves: dict[str, tuple[float, float]] = {}
    entropy = info.entropy(factors)
    timed(halves, "k-NN MI", infomec._normalised_mi, codes, factors, entropy, False, 0)
    timed(halves, "InfoE's logistic regressions", infomec._infoe_per_fov, codes, factors, False)
    return halves


def udr_codes(num_models: int, num_samples: int = UDR_SAMPLES, seed: int = 0) -> np.ndarray:
    """float32 [M, N, d]: M models' codes of the same N Shapes3D-grid samples, model m
    its own random mixture of the normalised FoVs plus N(0, 0.1^2) noise. The first
    models are the same for any M."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, num_samples) for s in SIZES], axis=1)
    scaled = factors / (np.asarray(SIZES) - 1.0)
    codes = np.empty((num_models, num_samples, NUM_CODES), np.float32)
    for m in range(num_models):
        weights = rng.normal(size=(len(SIZES), NUM_CODES))
        codes[m] = scaled @ weights + NOISE * rng.normal(size=(num_samples, NUM_CODES))
    return codes


def relative_strength(matrix: np.ndarray) -> float:
    """disentanglement_lib's relative-strength score of one pair's similarity matrix."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score_x = np.nanmean(np.nan_to_num(matrix.max(axis=0) ** 2 / matrix.sum(axis=0)))
        score_y = np.nanmean(np.nan_to_num(matrix.max(axis=1) ** 2 / matrix.sum(axis=1)))
    return float((score_x + score_y) / 2)


def reference_udr(
    codes: np.ndarray, kl: np.ndarray, correlation: str, kl_threshold: float = 0.01
) -> list[float]:
    """disentanglement_lib's `compute_udr_sklearn` once the codes are encoded, pair by pair.

    As its udr.py: each model's codes (float64) standardised by sklearn's StandardScaler
    and multiplied by KL > 0.01; for every ordered pair (i, j), i != j, the similarity
    matrix [d_i, d_j] is |coef_|' of one multi-output `Lasso(alpha=0.1)` fit of model j's
    codes on model i's, or |`scipy.stats.spearmanr`| of every pair of dimensions
    (`nan_policy="omit"`, one call each, d^2 calls); rows and columns with KL at most
    `kl_threshold` are dropped and the pair scores the relative strength. Model i's
    score is the median of column i off the diagonal.

    Args:
      codes: float [M, N, d]; kl: float [M, d]; correlation: "lasso" or "spearman".

    Returns:
      M model scores.
    """
    num_models, _, num_dims = codes.shape
    scaled, kept = [], []
    for m in range(num_models):
        standard = StandardScaler().fit_transform(codes[m].astype(np.float64))
        scaled.append(standard * (kl[m] > REFERENCE_ZERO_KL))
        kept.append(kl[m] > kl_threshold)
    pairwise = np.zeros((num_models, num_models))
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            if correlation == "lasso":
                fit = Lasso(alpha=REFERENCE_ALPHA).fit(scaled[i], scaled[j])
                matrix = np.abs(fit.coef_).T
            else:
                matrix = np.abs(
                    [
                        [
                            scipy.stats.spearmanr(
                                scaled[i][:, a], scaled[j][:, b], nan_policy="omit"
                            )[0]
                            for b in range(num_dims)
                        ]
                        for a in range(num_dims)
                    ]
                )
            pairwise[i, j] = relative_strength(matrix[kept[i]][:, kept[j]])
    return [float(np.median(np.delete(pairwise[:, i], i))) for i in range(num_models)]


def compile_udr(codes: np.ndarray, kl: np.ndarray, correlation: str) -> None:
    """Traces and compiles the jitted computation `udr` calls on these arguments (which
    fills JAX's cache, so the next `udr` call runs warm)."""
    masks = (kl <= _udr._ZERO_KL, kl > _udr.KL_THRESHOLD)  # as udr() passes them
    _udr.pairwise_scores.lower(codes, *masks, lasso=correlation == "lasso").compile()


def run_udr(
    models: list[int], correlations: list[str], reference_models: list[int], repeats: int
) -> None:
    """Times drl_jax's UDR (compile, then the fastest of `repeats` warm calls) and the
    reference loop; prints a table."""
    codes_all = udr_codes(max(models))
    per_pair: dict[str, float] = {}  # reference seconds per ordered pair, by correlation
    header = (
        f"{'M':>4s} {'correlation':11s} {'pairs':>7s} {'compile s':>10s} {'warm s':>8s} "
        f"{'reference s':>16s} {'speed-up':>9s} {'max |diff|':>11s}"
    )
    lines = []
    for num_models in sorted(models):
        codes = codes_all[:num_models]
        kl = np.ones((num_models, NUM_CODES))
        pairs = num_models * (num_models - 1)
        for correlation in correlations:
            rows: dict[str, tuple[float, float]] = {}
            timed(rows, "compile", compile_udr, codes, kl, correlation)
            warm = np.inf
            for _ in range(repeats):
                ours = timed(rows, "warm", udr, codes, kl, correlation=correlation)
                warm = min(warm, rows["warm"][0])
            diff = ""
            if num_models in reference_models:
                scores = timed(rows, "reference", reference_udr, codes, kl, correlation)
                reference = rows["reference"][0]
                per_pair[correlation] = reference / pairs
                gap = np.max(np.abs(np.asarray(scores) - np.asarray(ours["model_scores"])))
                diff, shown = f"{gap:.1e}", f"{reference:,.1f}"
            elif correlation in per_pair:
                reference = per_pair[correlation] * pairs
                shown = f"~{reference:,.0f} (extr.)"
            else:
                reference, shown = None, "not run"
            speed_up = f"{reference / warm:,.0f}x" if reference else ""
            lines.append(
                f"{num_models:4d} {correlation:11s} {pairs:7,d} {rows['compile'][0]:10.2f} "
                f"{warm:8.2f} {shown:>16s} {speed_up:>9s} {diff:>11s}"
            )
            print(lines[-1], flush=True)
    print(f"\n== UDR: M models x {UDR_SAMPLES:,} samples x d = {NUM_CODES}, every dim kept ==")
    print(header)
    print("\n".join(lines))
    for correlation, seconds in per_pair.items():
        print(f"reference {correlation}: {seconds:.3f} s per ordered pair")
    print(
        f"warm s: the fastest of {repeats} calls of drl_jax.metrics.udr after compiling; "
        "reference s: disentanglement_lib's loop (reference_udr), measured where a number is "
        "shown, extrapolated from its seconds per pair where marked (extr.); max |diff|: "
        "largest difference between the two's model scores"
    )


def cpu_name() -> str:
    """The CPU's model name where Linux gives it, else the platform's machine type."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_header(args) -> None:
    """Machine, date and load: the context every time below depends on."""
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, {cpu_name()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work on these "
        f"cores lengthens every time), JAX {jax.__version__} on "
        f"{jax.devices()[0].platform}; sections {', '.join(args.sections)}; d={NUM_CODES}, "
        f"n_jobs={args.n_jobs} (joblib loky)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--n_jobs", type=int, default=2)
    parser.add_argument("--skip_mlp", action="store_true")
    parser.add_argument(
        "--grids", nargs="+", choices=tuple(GRIDS), default=("shapes3d", "dsprites")
    )
    parser.add_argument("--udr_models", nargs="+", type=int, default=(10, 100, 300))
    parser.add_argument(
        "--udr_correlations", nargs="+", choices=UDR_CORRELATIONS, default=UDR_CORRELATIONS
    )
    parser.add_argument(
        "--udr_reference_models",
        nargs="*",
        type=int,
        default=(10,),
        help="M at which the reference loop runs (about a second per pair on a CPU core)",
    )
    parser.add_argument("--udr_repeats", type=int, default=2, help="warm calls (the fastest)")
    args = parser.parse_args()
    if args.udr_repeats < 1:
        parser.error(f"--udr_repeats must be at least 1, got {args.udr_repeats}.")
    jobs = {"n_jobs": args.n_jobs}
    print_header(args)
    per_grid = {"standard", "backends", "other"} & set(args.sections)
    for grid in args.grids if per_grid else ():
        sizes, num_train, num_test = GRIDS[grid]
        split, weights = mixture_split(sizes, num_train, num_test)
        rows: dict[str, tuple[float, float]] = {}
        if "standard" in args.sections:
            result = timed(rows, "mig", mig.mig, *split[:2])
        else:
            result = mig.mig(*split[:2])
        best = np.argmax(np.asarray(result["mutual_info"]), axis=0)  # stands in for OMES
        dims_per_fov = {j: [int(h)] for j, h in enumerate(best)}
        if grid == "shapes3d" and "standard" in args.sections:
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
        halves = run_other(rows, split, args.n_jobs) if "other" in args.sections else {}
        backend_rows: dict[str, tuple[float, float]] = {}
        if "backends" in args.sections:
            results = run_backends(backend_rows, split, dims_per_fov, jobs, args.skip_mlp)
            exact_names = [n for n in backend_rows if "lightgbm" not in n and "jax" not in n]
            rows |= {n: backend_rows[n] for n in exact_names}
        total = sum(wall for wall, _ in rows.values())
        print(f"\n== {grid}: FoV sizes {sizes}, {num_train:,} / {num_test:,} samples ==")
        print(f"{'metric (exact backends)':48s} {'wall s':>9s} {'CPU s':>9s} {'share':>7s}")
        for name, (wall, cpu) in rows.items():
            print(f"{name:48s} {wall:9.2f} {cpu:9.2f} {100 * wall / total:6.1f}%")
        print(f"{'total':48s} {total:9.2f} {sum(cpu for _, cpu in rows.values()):9.2f}\n")
        for name, (wall, cpu) in halves.items():
            print(f"{'  of infomec: ' + name:48s} {wall:9.2f} {cpu:9.2f}")
        if "backends" in args.sections:
            print_differences(backend_rows, results)
    if "udr" in args.sections:
        run_udr(args.udr_models, args.udr_correlations, args.udr_reference_models, args.udr_repeats)


if __name__ == "__main__":
    main()
