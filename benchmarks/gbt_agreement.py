"""The LightGBM GBT backend against the exact one, per FoV class count of the datasets.

  python benchmarks/gbt_agreement.py [--seeds 0,1,2] [--per_class 20] [--cases all]

Per case and seed, one GBT per FoV of each backend (metrics/_dci.py's settings) is
fitted on the same training codes and scored on the same test codes; the table gives
the test accuracy per FoV (mean over seeds) of both, their largest difference over
FoVs and seeds, the training accuracies' and the fitting seconds (one thread per fit).

Codes, d = 10 dimensions:
* `clean_K{K}`: one FoV of K classes; dimension 0 holds class / K + N(0, 0.001^2)
  (separable: the Bayes accuracy is about 0.993 at K = 183), the others N(0, 1);
  `--per_class` training and 10 test samples per class.
* `mix_{dataset}`: every FoV of the dataset (uniform classes, scaled to unit variance)
  through a fixed random linear map to 10 dimensions, plus N(0, 0.3^2): entangled and
  noisy, like a trained encoder's; `--per_class` training samples per class of the
  largest FoV, max(1000, 10 x that class count) test samples.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from drl_jax.metrics import _dci as dci

DIMENSIONS = 10
CLASS_COUNTS = (2, 6, 40, 100, 183)
# FoV class counts of registered datasets (README, "Datasets").
MIXTURES = {
    "dsprites": (3, 6, 40, 32, 32),
    "cars3d": (4, 24, 183),
    "coil100": (100, 72),
}


def clean_codes(num_classes: int, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes [K per_class, d] of one K-class FoV on dimension 0, and labels [N, 1]."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(num_classes), per_class))
    codes = rng.normal(size=(len(labels), DIMENSIONS))
    codes[:, 0] = labels / num_classes + rng.normal(scale=1e-3, size=len(labels))
    return codes, labels[:, None]


def mixed_codes(sizes: tuple[int, ...], n: int, seed: int, mix_seed: int) -> tuple:
    """Codes [n, d]: the FoVs (classes scaled to unit variance) through a fixed random
    map (`mix_seed`) plus N(0, 0.3^2) noise; labels [n, F]."""
    rng, mixing = np.random.default_rng(seed), np.random.default_rng(mix_seed)
    projection = mixing.normal(size=(len(sizes), DIMENSIONS))
    labels = np.stack([rng.integers(0, k, size=n) for k in sizes], axis=1)
    scaled = (labels / np.maximum(np.array(sizes) - 1, 1) - 0.5) / np.sqrt(1 / 12)
    codes = scaled @ projection + rng.normal(scale=0.3, size=(n, DIMENSIONS))
    return codes, labels


def case_data(case: str, per_class: int, seed: int) -> tuple:
    """(codes_train, labels_train, codes_test, labels_test) of a case."""
    kind, name = case.split("_", 1)
    if kind == "clean":
        num_classes = int(name[1:])
        return (
            *clean_codes(num_classes, per_class, seed),
            *clean_codes(num_classes, 10, seed + 1000),
        )
    sizes = MIXTURES[name]
    largest = max(sizes)
    return (
        *mixed_codes(sizes, largest * per_class, seed, seed + 77),
        *mixed_codes(sizes, max(1000, 10 * largest), seed + 1000, seed + 77),
    )


def fit(backend: str, data: tuple, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Train and test accuracy per FoV [F] and the seconds fitting took."""
    codes_train, labels_train, codes_test, labels_test = data
    start = time.perf_counter()
    models = dci.fit_gbts(codes_train, labels_train, backend=backend, seed=seed, n_jobs=1)
    seconds = time.perf_counter() - start
    accuracy = [
        [np.mean(m.predict(codes) == labels[:, j]) for j, m in enumerate(models)]
        for codes, labels in ((codes_train, labels_train), (codes_test, labels_test))
    ]
    return np.array(accuracy[0]), np.array(accuracy[1]), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--per_class", type=int, default=20)
    parser.add_argument("--cases", default="all")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    cases = [f"clean_K{k}" for k in CLASS_COUNTS] + [f"mix_{name}" for name in MIXTURES]
    if args.cases != "all":
        cases = args.cases.split(",")
    print(f"{args.per_class} training samples per class, seeds {seeds}; test accuracy per FoV")
    print(
        "| case | exact test | lightgbm test | max abs diff (test) | max abs diff (train) "
        "| exact s | lightgbm s |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    for case in cases:
        runs = {"exact": [], "lightgbm": []}
        for seed in seeds:
            data = case_data(case, args.per_class, seed)
            for backend, results in runs.items():
                results.append(fit(backend, data, seed))
        train, test, seconds = (
            {b: np.array([r[i] for r in rs]) for b, rs in runs.items()} for i in range(3)
        )
        row = [
            case,
            " ".join(f"{a:.3f}" for a in test["exact"].mean(0)),
            " ".join(f"{a:.3f}" for a in test["lightgbm"].mean(0)),
            f"{np.abs(test['exact'] - test['lightgbm']).max():.3f}",
            f"{np.abs(train['exact'] - train['lightgbm']).max():.3f}",
            f"{seconds['exact'].mean():.1f}",
            f"{seconds['lightgbm'].mean():.1f}",
        ]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
