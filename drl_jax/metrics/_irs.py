"""IRS: Interventional Robustness Score, as disentanglement_lib's `irs`.

References: R. Suter, D. Miladinovic, B. Schoelkopf and S. Bauer, "Robustly
Disentangled Causal Mechanisms: Validating Deep Representations for
Interventional Robustness", ICML 2019, arXiv:1811.00007, as
disentanglement_lib's `evaluation/metrics/irs.py` (`compute_irs`,
`scalable_disentanglement_score`).

The FoVs are discretised into `num_bins` equal-width histogram bins (as MIG
discretises codes; a FoV with at most `num_bins` classes keeps one bin per
class). Constant code dimensions are dropped. For each remaining dimension z_i
and FoV v_j, the deviation of z_i from E[z_i | v_j = c] within each group
v_j = c is summarised by its `diff_quantile` quantile (linear interpolation,
as `np.percentile`), averaged over the groups c, and divided by the dimension's
largest deviation from its overall mean, max |z_i - E z_i|:
  IRS_ij = 1 - mean_c quantile_{v_j = c} |z_i - E[z_i | v_j = c]| / max |z_i - E z_i|.
A dimension's score is max_j IRS_ij, and IRS is the average of the scores
weighted by the dimensions' largest deviations. diff_quantile = 1.0 is the
paper's version (the largest deviation); 0.99 is disentanglement_lib's default.

Departures from disentanglement_lib, none changing `irs`:
* `num_active_dims` counts the dimensions kept; dlib reports the sum of their
  code values (`np.sum(active_mus)`), which is not a count;
* a dimension is constant when its max equals its min; dlib tests var > 0,
  which a constant column whose mean is rounded (e.g. 0.1 repeated) passes,
  but such a dimension has weight ~1e-17 in the average either way;
* codes are [N, d] (not transposed), and results cover all d dimensions:
  dropped (constant) dimensions get score 0 and weight 0.
With no non-constant dimension IRS is 0, as in disentanglement_lib.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from drl_jax.metrics import info

NUM_BINS = 20
DIFF_QUANTILE = 0.99


def _lerp(low: np.ndarray, high: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """low + fraction (high - low), with numpy's percentile rounding (from the nearer end)."""
    diff = high - low
    return np.where(fraction >= 0.5, high - diff * (1.0 - fraction), low + diff * fraction)


def mean_group_deviation(latents: np.ndarray, groups: np.ndarray, quantile: float) -> np.ndarray:
    """Mean over groups of the quantile of |z - E[z | group]| within each group.

    All groups and dimensions at once: the deviations are sorted within groups (a
    stable sort by value, then by group), and each group's quantile is read at its
    own virtual index quantile * (size - 1), as `np.percentile(..., axis=0)` does.

    Args:
      latents: float [N, d] codes.
      groups: int [N] group labels (a discretised FoV).
      quantile: in [0, 1].

    Returns:
      float64 [d].
    """
    _, group, counts = np.unique(groups, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    one_hot = np.zeros((len(counts), len(group)))
    one_hot[group, np.arange(len(group))] = 1.0
    means = (one_hot @ latents) / counts[:, None]  # [G, d]
    deviations = np.abs(latents - means[group])  # [N, d]
    order = np.argsort(deviations, axis=0, kind="stable")
    by_group = np.argsort(group[order], axis=0, kind="stable")
    ordered = np.take_along_axis(deviations, np.take_along_axis(order, by_group, 0), 0)
    starts = np.cumsum(counts) - counts
    position = quantile * (counts - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, counts - 1)
    fraction = (position - below)[:, None]
    per_group = _lerp(ordered[starts + below], ordered[starts + above], fraction)  # [G, d]
    return per_group.mean(axis=0)


def irs(
    codes: ArrayLike,
    factors: ArrayLike,
    *,
    diff_quantile: float = DIFF_QUANTILE,
    num_bins: int = NUM_BINS,
) -> dict[str, float | int | list]:
    """Interventional Robustness Score of codes with respect to FoVs.

    >>> import numpy as np
    >>> grid = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    >>> factors = np.stack(grid, axis=-1).reshape(-1, 2)
    >>> irs(factors.astype(float), factors)["irs"]
    1.0

    Args:
      codes: float [N, d] representations (e.g. encoder means); 10,000 samples in
        disentanglement_lib's protocol.
      factors: int [N, F] FoV classes of the same N samples.
      diff_quantile: quantile of the within-group deviations, in [0, 1]
        (1.0: the paper's maximum).
      num_bins: equal-width histogram bins per FoV.

    Returns:
      `irs`: the deviation-weighted mean of the dimensions' scores, at most 1 (1:
      each dimension is constant given some FoV);
      `num_active_dims`: the number of non-constant dimensions (a count; see the
      module docstring);
      `disentanglement_scores`: d values max_j IRS_ij (0 for constant dimensions);
      `irs_matrix`: [d][F] IRS_ij (rows of constant dimensions 0);
      `max_deviations`: d weights max |z_i - E z_i| (0 for constant dimensions).
    """
    codes, factors = info.check_codes_factors(codes, factors)
    if not 0.0 <= diff_quantile <= 1.0:
        raise ValueError(f"diff_quantile must be in [0, 1], got {diff_quantile}.")
    num_dims, num_factors = codes.shape[1], factors.shape[1]
    groups = info.discretize(factors, num_bins)  # [N, F]
    active = codes.max(axis=0) > codes.min(axis=0)
    scores, max_deviations = np.zeros(num_dims), np.zeros(num_dims)
    matrix = np.zeros((num_dims, num_factors))
    if active.any():
        latents = codes[:, active]
        max_deviations[active] = np.max(np.abs(latents - latents.mean(axis=0)), axis=0)
        deviations = np.stack(
            [
                mean_group_deviation(latents, groups[:, j], diff_quantile)
                for j in range(num_factors)
            ],
            axis=1,
        )  # [d_active, F]
        matrix[active] = 1.0 - deviations / max_deviations[active, None]
        scores[active] = matrix[active].max(axis=1)
        score = float(np.average(scores[active], weights=max_deviations[active]))
    else:
        score = 0.0
    return {
        "irs": score,
        "num_active_dims": int(active.sum()),
        "disentanglement_scores": scores.tolist(),
        "irs_matrix": matrix.tolist(),
        "max_deviations": max_deviations.tolist(),
    }
