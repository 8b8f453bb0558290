"""The jax MLP against sklearn's MLPClassifier, per FoV class count, and sklearn's own
spread across seeds.

  python benchmarks/mlp_agreement.py [--sklearn_seeds 0,1,2,3,4] [--train 2000]
      [--test 1000] [--cases K2,K6,K40,K100,K183,mix_cars3d | all] [--n_jobs 2]

On the same codes (data seed 0), per FoV: sklearn's `MLPClassifier(hidden_layer_sizes=
(256, 256), random_state=s)` on float32 codes for each sklearn seed s, and the jax MLP
(metrics/mlp.py, seed 0). The table gives the test accuracy of both, sklearn's mean
and spread (max - min over its seeds), and whether the jax MLP is within that spread
of sklearn's mean: |jax - sklearn mean| <= max - min, i.e. the two implementations
differ by no more than sklearn differs from itself.

Codes, d = 10 (gbt_agreement.py's generators):
* `clean_K{K}`: one FoV of K classes on dimension 0, class / K + N(0, 0.001^2);
* `noisy_K{K}`: the same codes plus N(0, (0.5 / K)^2) on dimension 0 (neighbouring
  classes overlap: the Bayes accuracy is about 0.7); clean and noisy codes share the
  labels, so the jax MLP runs them as two models in one program;
* `mix_{dataset}`: every FoV of the dataset through a fixed random linear map plus
  N(0, 0.3^2) (entangled, noisy); Cars3D's by default, dSprites' and COIL-100's with
  `--cases all`.
About `--train` training and `--test` test samples per case (whole classes for K).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import jax
import joblib
import numpy as np
from gbt_agreement import CLASS_COUNTS, MIXTURES, clean_codes, mixed_codes
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from drl_jax.metrics import mlp

# Cases run by default: the class counts, and Cars3D's mixture (4, 24 and 183 classes).
DEFAULT_CASES = ",".join([f"K{k}" for k in CLASS_COUNTS] + ["mix_cars3d"])


def single_fov_cases(num_classes: int, train: int, test: int) -> dict[str, tuple]:
    """clean_K and noisy_K data: (codes_train, labels_train, codes_test, labels_test) each."""
    data = [
        clean_codes(num_classes, -(-train // num_classes), 0),
        clean_codes(num_classes, -(-test // num_classes), 1000),
    ]
    rng = np.random.default_rng(2000)
    noisy = []
    for codes, labels in data:
        codes = codes.copy()
        codes[:, 0] += rng.normal(scale=0.5 / num_classes, size=len(codes))
        noisy.append((codes, labels))
    return {
        f"clean_K{num_classes}": (*data[0], *data[1]),
        f"noisy_K{num_classes}": (*noisy[0], *noisy[1]),
    }


def sklearn_accuracy(data: tuple, fov: int, seed: int) -> tuple[float, float]:
    """Test accuracy of sklearn's MLP on one FoV and the seconds its fit took (one thread)."""
    codes_train, labels_train, codes_test, labels_test = data
    model = MLPClassifier(hidden_layer_sizes=(mlp.HIDDEN, mlp.HIDDEN), random_state=seed)
    start = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(codes_train.astype(np.float32), labels_train[:, fov])
    seconds = time.perf_counter() - start
    correct = model.predict(codes_test.astype(np.float32)) == labels_test[:, fov]
    return float(np.mean(correct)), seconds


def jax_accuracies(group: dict[str, tuple], seed: int) -> tuple[dict[str, list[float]], float]:
    """Per case of `group` (cases sharing labels: models of one program), the jax MLP's test
    accuracy per FoV, full codes; and the program's seconds (compilation included)."""
    cases = list(group)
    first = group[cases[0]]
    num_factors, num_codes = first[1].shape[1], first[0].shape[1]
    nets = {("full", j): list(range(num_codes)) for j in range(num_factors)}
    start = time.perf_counter()
    results = mlp.mlp_accuracy_models(
        np.stack([group[c][0] for c in cases]),
        first[1],
        np.stack([group[c][2] for c in cases]),
        first[3],
        [nets] * len(cases),
        seed,
    )
    seconds = time.perf_counter() - start
    per_case = {
        case: [result["mlp", "full", j] for j in range(num_factors)]
        for case, result in zip(cases, results, strict=True)
    }
    return per_case, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn_seeds", default="0,1,2,3,4")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--cases", default=DEFAULT_CASES, help="or all (+ mix_dsprites, ...)")
    parser.add_argument("--n_jobs", type=int, default=2)
    args = parser.parse_args()
    seeds = [int(s) for s in args.sklearn_seeds.split(",")]
    groups = {f"K{k}": single_fov_cases(k, args.train, args.test) for k in CLASS_COUNTS}
    for name, sizes in MIXTURES.items():
        groups[f"mix_{name}"] = {
            f"mix_{name}": (
                *mixed_codes(sizes, args.train, 0, 77),
                *mixed_codes(sizes, args.test, 1000, 77),
            )
        }
    if args.cases != "all":
        groups = {g: groups[g] for g in args.cases.split(",")}
    cases = {case: data for group in groups.values() for case, data in group.items()}

    start = time.perf_counter()
    fits = [
        (case, j, seed)
        for case, data in cases.items()
        for j in range(data[1].shape[1])
        for seed in seeds
    ]
    runs = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(sklearn_accuracy)(cases[case], j, seed) for case, j, seed in fits
    )
    sklearn_runs = dict(zip(fits, runs, strict=True))
    sklearn_seconds = time.perf_counter() - start
    jax_results, jax_seconds = {}, {}
    for name, group in groups.items():
        jax_results_group, jax_seconds[name] = jax_accuracies(group, seed=0)
        jax_results |= jax_results_group

    print(
        f"{platform.processor() or platform.machine()}, jax {jax.__version__} on "
        f"{jax.default_backend()}; data seed 0, d = 10, about {args.train} training and "
        f"{args.test} test samples per case (whole classes for K); sklearn seeds {seeds}, "
        "jax seed 0; test accuracy per FoV"
    )
    print(
        "| classes | codes | sklearn mean | sklearn seed spread (max-min) | jax "
        "| abs(jax - sklearn mean) | within spread |"
    )
    print("|---:|---|---:|---:|---:|---:|---|")
    within = []
    for case, data in cases.items():
        for j in range(data[1].shape[1]):
            accuracy = np.array([sklearn_runs[case, j, s][0] for s in seeds])
            spread, ours = accuracy.max() - accuracy.min(), jax_results[case][j]
            gap = abs(ours - accuracy.mean())
            within.append(gap <= spread)
            classes = len(np.unique(data[1][:, j]))
            print(
                f"| {classes} | {case} | {accuracy.mean():.3f} | {spread:.3f} | {ours:.3f} "
                f"| {gap:.3f} | {'yes' if within[-1] else 'no'} |"
            )
    print(f"\njax within sklearn's seed spread on {sum(within)} of {len(within)} FoVs")
    num_fits = len(fits)
    fit_seconds = np.mean([r[1] for r in runs])
    print(
        f"sklearn: {num_fits} fits, {fit_seconds:.1f} s each on one thread (mean), "
        f"{sklearn_seconds:.0f} s wall on {args.n_jobs} jobs"
    )
    print(
        "jax, one program per group (compilation included): "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in jax_seconds.items())
    )


if __name__ == "__main__":
    main()
