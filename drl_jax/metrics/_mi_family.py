"""DCIMIG, JEMMIG and MIG-sup: three gaps read off one mutual information matrix.

References: A. Sepliarskaia, J. Kiseleva and M. de Rijke, "Evaluating
Disentangled Representations", arXiv:1910.05587 (DCIMIG); K. Do and T. Tran,
"Theory and Evaluation Metrics for Learning Disentangled Representations",
ICLR 2020 (JEMMIG); Z. Li, J. V. Murkute, P. K. Gyawali and L. Wang,
"Progressive Learning and Disentanglement of Hierarchical Representations",
ICLR 2020 (MIG-sup); all three as M.-A. Carbonneau, J. Zaidi, J. Boilard and
G. Gagnon, "Measuring Disentanglement: A Review of Metrics", IEEE TNNLS 2022,
arXiv:2012.09276, compute them (github.com/ubisoft/ubisoft-laforge-
disentanglement-metrics, src/metrics/dcimig.py, jemmig.py, mig_sup.py) with
discrete FoVs (`continuous_factors=False`): FoV classes are used as they are.

Binning: each code dimension is min-max scaled into [0, 1] with sklearn's
`minmax_scale` arithmetic (x * s - min * s, s = 1 / (max - min); a range under
10 machine epsilons counts as 1) and its bin is the number of the left edges
0, 1/b, ..., (b - 1)/b (b = num_bins) at or below the scaled value (np.digitize).
In exact arithmetic these are info.discretize's equal-width bins, but the
rounding differs: values that sit on a bin edge, common for codes that take a few
exact values (quantised latents, integers), can land in the neighbouring bin, so
the reference's arithmetic is kept here (in float64).

From the plug-in mutual information I [d, F] (nats; the reference works in bits,
and every score below is a ratio, so the base cancels), the entropies H(z_i) of
the binned codes and H(v_j) of the FoVs:
* DCIMIG: each dimension's gap between its two largest MIs over FoVs is credited
  to its best FoV; D_j is the largest gap credited to FoV j (0 if none), and
  DCIMIG = sum_j D_j / sum_j H(v_j), the H-weighted mean of D_j / H(v_j).
* JEMMIG: with z* the dimension of largest MI with FoV j and I_2 the second
  largest, JEMMIG_j = 1 - (H(v_j, z*) - I(v_j; z*) + I_2) / (H(v_j) + ln b),
  H(v, z) = H(v) + H(z) - I(v; z); JEMMIG is the mean over FoVs.
* MIG-sup: each dimension's gap between its two largest I(z_i; v_j) / H(z_i) over
  FoVs; MIG-sup is the mean over dimensions.

Departures from the reference: a constant code dimension (H(z_i) = 0) has
normalised MI 0 in MIG-sup (the reference divides 0 by 0); JEMMIG's best
dimension among tied ones is the first (the reference takes the last of
`np.argsort`'s order); FoV value -1 is a class like any other (pyitlib reads it as
missing). Like MIG, FoVs with one observed class raise ValueError, as do d < 2
(JEMMIG), F < 2 (DCIMIG, MIG-sup) and num_bins < 2.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from drl_jax.metrics import info

NUM_BINS = 10


class _Information(NamedTuple):
    """What all three scores are read from (nats)."""

    mutual_info: np.ndarray  # [d, F] I(z_i; v_j) of the binned codes
    code_entropy: np.ndarray  # [d] H(z_i) of the binned codes
    factor_entropy: np.ndarray  # [F] H(v_j)
    num_bins: int


def _min_max_bins(codes: np.ndarray, num_bins: int) -> np.ndarray:
    """float [N, d] -> int [N, d] in 1..num_bins: `minmax_scale` then `np.digitize`."""
    low = codes.min(axis=0)
    span = codes.max(axis=0) - low
    scale = 1.0 / np.where(span < 10 * np.finfo(np.float64).eps, 1.0, span)
    scaled = codes * scale - low * scale
    left_edges = np.linspace(0.0, 1.0, num_bins + 1)[:-1]
    return np.searchsorted(left_edges, scaled, side="right")


def _information(
    codes: ArrayLike,
    factors: ArrayLike,
    num_bins: int,
    name: str,
    *,
    min_dims: int = 1,
    min_fovs: int = 1,
) -> _Information:
    """Validates the inputs, bins the codes and computes I, H(z) and H(v) once."""
    codes, factors = info.check_codes_factors(codes, factors)
    if codes.shape[1] < min_dims or factors.shape[1] < min_fovs:
        raise ValueError(
            f"{name} needs at least {min_dims} code dimensions and {min_fovs} FoVs, got "
            f"codes {codes.shape} and factors {factors.shape}."
        )
    if num_bins < 2:
        raise ValueError(f"num_bins must be >= 2, got {num_bins}.")
    factor_entropy = info.entropy(factors)
    if np.any(factor_entropy == 0):
        constant = [int(j) for j in np.flatnonzero(factor_entropy == 0)]
        raise ValueError(
            f"{name} is undefined for FoVs with a single observed class: FoV columns "
            f"{constant} of factors {factors.shape}."
        )
    binned = _min_max_bins(codes, num_bins)
    return _Information(
        mutual_info=info.mutual_info(binned, factors),
        code_entropy=info.entropy(binned),
        factor_entropy=factor_entropy,
        num_bins=num_bins,
    )


def _top_two_gap(values: np.ndarray, axis: int) -> np.ndarray:
    top = np.sort(values, axis=axis)
    return np.take(top, -1, axis=axis) - np.take(top, -2, axis=axis)


def _dcimig_scores(stats: _Information) -> dict[str, float | list]:
    mutual = stats.mutual_info  # [d, F]
    gaps = _top_two_gap(mutual, axis=1)  # [d]
    credited = np.zeros_like(mutual)
    credited[np.arange(mutual.shape[0]), np.argmax(mutual, axis=1)] = gaps
    best_gap = credited.max(axis=0)  # [F]
    return {
        "dcimig": float(best_gap.sum() / stats.factor_entropy.sum()),
        "dcimig_per_fov": (best_gap / stats.factor_entropy).tolist(),
    }


def _jemmig_scores(stats: _Information) -> dict[str, float | list]:
    mutual = stats.mutual_info  # [d, F]
    fovs = np.arange(mutual.shape[1])
    best = np.argmax(mutual, axis=0)  # [F]
    best_mi = mutual[best, fovs]
    joint = stats.factor_entropy + stats.code_entropy[best] - best_mi  # H(v_j, z*)
    second_mi = np.sort(mutual, axis=0)[-2]
    per_fov = 1 - (joint - best_mi + second_mi) / (stats.factor_entropy + np.log(stats.num_bins))
    return {"jemmig": float(per_fov.mean()), "jemmig_per_fov": per_fov.tolist()}


def _mig_sup_scores(stats: _Information) -> dict[str, float | list]:
    entropy = stats.code_entropy[:, None]
    normalised = np.where(entropy > 0, stats.mutual_info / np.where(entropy > 0, entropy, 1), 0)
    per_dim = _top_two_gap(normalised, axis=1)  # [d]
    return {"mig_sup": float(per_dim.mean()), "mig_sup_per_dim": per_dim.tolist()}


def dcimig(
    codes: ArrayLike, factors: ArrayLike, *, num_bins: int = NUM_BINS
) -> dict[str, float | list]:
    """DCIMIG of codes with respect to FoVs (Sepliarskaia et al.; module docstring).

    Args:
      codes: float [N, d] representations (e.g. encoder means).
      factors: int [N, F] FoV classes of the same N samples, F >= 2.
      num_bins: equal-width bins per code dimension after min-max scaling.

    Returns:
      `dcimig`: sum_j D_j / sum_j H(v_j) in [0, 1]; `dcimig_per_fov`: F values D_j / H(v_j).
    """
    return _dcimig_scores(_information(codes, factors, num_bins, "DCIMIG", min_fovs=2))


def jemmig(
    codes: ArrayLike, factors: ArrayLike, *, num_bins: int = NUM_BINS
) -> dict[str, float | list]:
    """JEMMIG of codes with respect to FoVs (Do and Tran; module docstring).

    Args:
      codes: float [N, d] representations, d >= 2.
      factors: int [N, F] FoV classes of the same N samples.
      num_bins: equal-width bins per code dimension after min-max scaling.

    Returns:
      `jemmig`: mean over FoVs, in [0, 1]; `jemmig_per_fov`: F values.
    """
    return _jemmig_scores(_information(codes, factors, num_bins, "JEMMIG", min_dims=2))


def mig_sup(
    codes: ArrayLike, factors: ArrayLike, *, num_bins: int = NUM_BINS
) -> dict[str, float | list]:
    """MIG-sup of codes with respect to FoVs (Li et al.; module docstring).

    Args:
      codes: float [N, d] representations.
      factors: int [N, F] FoV classes of the same N samples, F >= 2.
      num_bins: equal-width bins per code dimension after min-max scaling.

    Returns:
      `mig_sup`: mean over dimensions, in [0, 1]; `mig_sup_per_dim`: d gaps.
    """
    return _mig_sup_scores(_information(codes, factors, num_bins, "MIG-sup", min_fovs=2))


def mi_family(
    codes: ArrayLike, factors: ArrayLike, *, num_bins: int = NUM_BINS
) -> dict[str, float | list]:
    """DCIMIG, JEMMIG and MIG-sup from one binning and one MI matrix.

    >>> import numpy as np
    >>> grid = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    >>> factors = np.stack(grid, axis=-1).reshape(-1, 2)
    >>> scores = mi_family(factors.astype(float), factors)
    >>> round(scores["dcimig"], 6), round(scores["mig_sup"], 6)
    (1.0, 1.0)

    Args:
      codes: float [N, d] representations, d >= 2.
      factors: int [N, F] FoV classes of the same N samples, F >= 2.
      num_bins: equal-width bins per code dimension after min-max scaling.

    Returns:
      The keys of `dcimig`, `jemmig` and `mig_sup`, and `mutual_info`: [d][F]
      I(z_i; v_j), `code_entropy`: d values H(z_i), `factor_entropy`: F values
      H(v_j), all in nats.
    """
    stats = _information(codes, factors, num_bins, "The MI family", min_dims=2, min_fovs=2)
    return {
        **_dcimig_scores(stats),
        **_jemmig_scores(stats),
        **_mig_sup_scores(stats),
        "mutual_info": stats.mutual_info.tolist(),
        "code_entropy": stats.code_entropy.tolist(),
        "factor_entropy": stats.factor_entropy.tolist(),
    }
