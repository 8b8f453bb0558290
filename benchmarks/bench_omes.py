"""OMES end to end (pair mining + S + all alphas and both poolings), against the reference.

  python benchmarks/bench_omes.py [--reference_samples 15000] [--repeats 5]

Cases on a Shapes3D-sized label grid (10, 10, 10, 8, 4, 15), d = 10 latent dims:
15,000 samples, all 480,000 states, and M = 100 models sharing 15,000 samples.
The reference is a direct implementation of the reference code's algorithm
(docs/method.md#pairs; quadratic miner that rescans every sample for every unique
tuple, np.corrcoef, per-alpha Python loops), run in the same process on the
15,000-sample case. Prints seconds after compilation and the speed-up.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np

from drl_jax.metrics import ALPHAS, POOLINGS, omes_arrays

SIZES = (10, 10, 10, 8, 4, 15)
LATENT_DIM = 10


def make_codes(labels: np.ndarray, rng: np.random.Generator, models: int = 1) -> np.ndarray:
    """Noisy linear mixtures of the FoVs: float32 [models, N, d]."""
    scaled = labels / np.array(SIZES)
    codes = []
    for _ in range(models):
        mixing = np.eye(len(SIZES), LATENT_DIM) + 0.1 * rng.normal(size=(len(SIZES), LATENT_DIM))
        codes.append(scaled @ mixing + 0.05 * rng.normal(size=(len(labels), LATENT_DIM)))
    return np.asarray(codes, np.float32)


def reference_omes(codes: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """The reference code's procedure, as docs/method.md describes it (for timing only)."""
    rng = np.random.default_rng(seed)
    num_factors = labels.shape[1]
    pairs = {j: ([], []) for j in range(num_factors)}
    for unique in np.unique(labels, axis=0):
        for j in range(num_factors):
            others = np.delete(labels, j, axis=1)
            members = np.all(others == np.delete(unique, j), axis=1)
            _, first = np.unique(labels[members], axis=0, return_index=True)
            rows = np.flatnonzero(members)[first]
            rng.shuffle(rows)
            half = len(rows) // 2
            pairs[j][0].extend(rows[:half])
            pairs[j][1].extend(rows[half : 2 * half])
    columns = []
    for j in range(num_factors):
        first, second = np.array(pairs[j][0], int), np.array(pairs[j][1], int)
        if len(first) > 100_000:
            keep = rng.choice(len(first), 100_000, replace=False)
            first, second = first[keep], second[keep]
        corr = np.corrcoef(codes[first], codes[second], rowvar=False)
        columns.append(1 - np.abs(np.diag(corr[:LATENT_DIM, LATENT_DIM:])))
    s = np.stack(columns, axis=1)
    s = s[np.std(codes, axis=0, ddof=1) >= 0.05]
    m, n = s.shape
    scores = {}
    for pooling in POOLINGS:
        for alpha in ALPHAS:
            per_fov = []
            for j in range(n):
                os_ = np.array([1 - np.mean(np.abs(np.eye(n)[j] - s[h])) for h in range(m)])
                mes = np.array([1 - np.mean(np.abs(np.eye(m)[h] - s[:, j])) for h in range(m)])
                w = s[:, j]
                if pooling == "max":
                    pooled = [np.max(os_ * w), np.max(mes * w)]
                else:
                    pooled = [np.sum(os_ * w * w) / np.sum(w), np.sum(mes * w * w) / np.sum(w)]
                per_fov.append(alpha * pooled[0] + (1 - alpha) * pooled[1])
            scores[(pooling, alpha)] = float(np.mean(per_fov))
    return scores


def time_drl_jax(codes: np.ndarray, labels: np.ndarray, repeats: int) -> tuple[float, float]:
    """(first call incl. compilation, median of later calls) in seconds."""
    start = time.perf_counter()
    omes_arrays(codes, labels)
    first = time.perf_counter() - start
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        omes_arrays(codes, labels, seed=seed + 1)
        times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference_samples", type=int, default=15_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(
        -1, len(SIZES)
    )
    sample = grid[rng.choice(len(grid), 15_000, replace=False)]
    full = grid[rng.permutation(len(grid))]
    print(f"machine: {platform.processor() or platform.machine()}, {jax.devices()[0].device_kind}")
    print(f"{'case':<34}{'compile+run s':>14}{'run s':>9}{'reference s':>13}{'speed-up':>10}")
    cases = [
        ("15,000 samples, d=10", make_codes(sample, rng)[0], sample),
        ("480,000 samples, d=10", make_codes(full, rng)[0], full),
        ("M=100 models x 15,000, d=10", make_codes(sample, rng, 100), sample),
    ]
    for name, codes, labels in cases:
        first, run = time_drl_jax(codes, labels, args.repeats)
        reference, ratio = "", ""
        if codes.ndim == 2 and len(labels) <= args.reference_samples:
            start = time.perf_counter()
            expected = reference_omes(codes, labels)
            elapsed = time.perf_counter() - start
            ours = omes_arrays(codes, labels)["omes"][0]
            gap = max(
                abs(expected[(p, a)] - ours[i, k])
                for i, p in enumerate(POOLINGS)
                for k, a in enumerate(ALPHAS)
            )
            reference, ratio = f"{elapsed:.1f}", f"{elapsed / run:,.0f}x (|diff| {gap:.3f})"
        print(f"{name:<34}{first:>14.2f}{run:>9.3f}{reference:>13}{ratio:>10}")


if __name__ == "__main__":
    main()
