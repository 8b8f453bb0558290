"""Shared helpers of the host-side metrics: input checks, discretisation, entropy, MI.

Everything is vectorised numpy over all (dimension, FoV) pairs at once; logs are
natural (nats). Shapes: N samples, d latent dims, F FoVs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def check_codes_factors(
    codes: ArrayLike, factors: ArrayLike, what: str = "codes", *, model_axis: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validates codes [N, d] (or, with `model_axis`, also [M, N, d]) and FoV classes [N, F].

    The one validator of every metric's inputs. Raises ValueError naming both shapes
    on a rank or row mismatch (never broadcasts), on NaN/inf in the codes and on
    non-integral FoV classes (integral floats such as 3.0 are accepted, as
    `classes.csv` may give them). `what` names the codes in messages (e.g.
    "codes_test").

    Returns:
      (codes float64, factors int64) copies.
    """
    codes, factors = np.asarray(codes), np.asarray(factors)
    ranks = (2, 3) if model_axis else (2,)
    layout = "[N, d] or [M, N, d]" if model_axis else "[N, d]"
    if codes.ndim not in ranks or factors.ndim != 2 or codes.shape[-2] != factors.shape[0]:
        raise ValueError(
            f"{what} must be {layout} and its FoV classes [N, F] with the same N, got "
            f"{what} {codes.shape} and factors {factors.shape}."
        )
    if codes.shape[-2] < 2 or codes.shape[-1] < 1 or factors.shape[1] < 1:
        raise ValueError(
            f"Need at least 2 samples, 1 dimension and 1 FoV, got {what} {codes.shape} "
            f"and factors {factors.shape}."
        )
    _check_numbers(codes, what)
    if factors.dtype.kind == "f":
        wrong = ~np.isfinite(factors) | (factors != np.round(factors))
        if wrong.any():
            bad = tuple(int(i) for i in np.argwhere(wrong)[0])
            raise ValueError(
                f"factors {factors.shape} must be integral FoV classes; index {bad} is "
                f"{factors[bad]}."
            )
    elif factors.dtype.kind not in "biu":
        raise ValueError(f"factors must be integer FoV classes, got dtype {factors.dtype}.")
    return codes.astype(np.float64), factors.astype(np.int64)


def check_codes(codes: ArrayLike, min_dims: int = 1) -> np.ndarray:
    """Validates codes [N, d] with N >= 2 and d >= min_dims, finite numbers, for the
    metrics that need no labels; returns a float64 copy. Raises ValueError naming the shape."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] < 2 or codes.shape[1] < min_dims:
        raise ValueError(
            f"codes must be [N, d] with N >= 2 samples and d >= {min_dims} dimensions, got "
            f"{codes.shape}."
        )
    _check_numbers(codes, "codes")
    return codes.astype(np.float64)


def _check_numbers(codes: np.ndarray, what: str) -> None:
    if codes.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {codes.dtype}.")
    if not np.all(np.isfinite(codes)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(codes))[0])
        raise ValueError(f"{what} {codes.shape} contain NaN or inf (first at index {bad}).")


def check_split(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> None:
    """Raises ValueError unless train and test (codes, factors) agree in d and F."""
    if train[0].shape[1] != test[0].shape[1] or train[1].shape[1] != test[1].shape[1]:
        raise ValueError(
            f"Train and test must have the same d and F, got codes_train {train[0].shape}, "
            f"factors_train {train[1].shape}, codes_test {test[0].shape}, factors_test "
            f"{test[1].shape}."
        )


def discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Equal-width histogram discretisation of each dimension: float [N, d] -> int [N, d].

    Bin edges are `np.histogram(codes[:, i], num_bins)`'s (equal width between the
    column's min and max; a constant column gets the range value +- 0.5, as numpy
    does), and a value's bin is the number of left edges <= it, in 1..num_bins:
    exactly disentanglement_lib's `np.digitize(x, edges[:-1])`, for all columns at once.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}.")
    low, high = codes.min(axis=0), codes.max(axis=0)
    constant = low == high
    low, high = np.where(constant, low - 0.5, low), np.where(constant, high + 0.5, high)
    left_edges = np.linspace(low, high, num_bins + 1, axis=0)[:-1]  # [num_bins, d]
    return (codes[:, None, :] >= left_edges[None]).sum(axis=1)


def _one_hot_columns(values: np.ndarray) -> np.ndarray:
    """int [N, k] -> float64 [N, k, V]: one-hot of each column's value rank, V = max count."""
    ranks = [np.unique(column, return_inverse=True)[1] for column in values.T]
    width = max(int(r.max()) + 1 for r in ranks)
    one_hot = np.zeros(values.shape + (width,))
    rows = np.arange(values.shape[0])
    for i, rank in enumerate(ranks):
        one_hot[rows, i, rank] = 1.0
    return one_hot


def mutual_info(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Discrete mutual information in nats: int [N, d], int [N, F] -> float64 [d, F].

    Entry [i, j] equals `sklearn.metrics.mutual_info_score(factors[:, j],
    discrete_codes[:, i])`; all joint histograms come from one matrix product.
    """
    n, d = discrete_codes.shape
    codes_hot, factors_hot = _one_hot_columns(discrete_codes), _one_hot_columns(factors)
    bins, classes = codes_hot.shape[2], factors_hot.shape[2]
    joint = codes_hot.reshape(n, -1).T @ factors_hot.reshape(n, -1)
    joint = joint.reshape(d, bins, factors.shape[1], classes).transpose(0, 2, 1, 3) / n
    p_code = joint.sum(axis=3, keepdims=True)  # [d, F, bins, 1]
    p_factor = joint.sum(axis=2, keepdims=True)  # [d, F, 1, classes]
    nonzero = joint > 0
    ratio = np.where(nonzero, joint, 1.0) / np.where(nonzero, p_code * p_factor, 1.0)
    mutual = np.maximum(np.sum(joint * np.log(ratio), axis=(2, 3)), 0.0)
    # A single-valued column carries no information: exactly 0, as sklearn returns.
    single_code = codes_hot.sum(axis=0).astype(bool).sum(axis=1) == 1  # [d]
    single_factor = factors_hot.sum(axis=0).astype(bool).sum(axis=1) == 1  # [F]
    return np.where(single_code[:, None] | single_factor[None, :], 0.0, mutual)


def entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy in nats of each FoV's empirical distribution: int [N, F] -> float64 [F]."""
    p = _one_hot_columns(factors).mean(axis=0)  # [F, V]
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
