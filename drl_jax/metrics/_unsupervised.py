"""Unsupervised scores of a representation: Gaussian total and Wasserstein correlation, MI.

References: F. Locatello, S. Bauer, M. Lucic, G. Raetsch, S. Gelly, B. Schoelkopf
and O. Bachem, "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations", ICML 2019, arXiv:1811.12359 (its unsupervised
scores), as disentanglement_lib's `evaluation/metrics/unsupervised_metrics.py`.

All are computed from the codes alone (no FoVs), with C the covariance (ddof=1)
of the codes and D its diagonal:
* Gaussian total correlation: KL(N(0, C) || N(0, D)) = (sum_i ln C_ii - ln det C) / 2
  in nats, computed as -ln det R / 2 with R the correlation matrix (the same
  number; scale-free);
* Gaussian Wasserstein correlation: the squared 2-Wasserstein distance between
  N(0, C) and N(0, D), 2 tr C - 2 tr (D C)^(1/2) (the square root's trace from the
  eigenvalues of the symmetric D^(1/2) C D^(1/2), which equal those of D C), and
  the same divided by tr C;
* mutual information score: each dimension discretised into `num_bins`
  equal-width bins (as MIG), the mean over ordered pairs i != j of the discrete
  I(z_i; z_j) in nats.
All three are 0 for independent dimensions.

Constant dimensions (max = min) make C singular, and disentanglement_lib's
total correlation is then NaN (ln 0 - ln 0): here they are left out of the
Gaussian scores, which are those of the remaining dimensions (0 if none
remains), and reported as `constant_dims`. This changes no Wasserstein score
(a constant dimension adds 0 to tr C and a zero eigenvalue). The MI score keeps
every dimension, exactly as disentanglement_lib's: a constant dimension has
zero MI with every other and lowers the mean. Perfectly collinear non-constant
dimensions (e.g. [x, x]) still make C singular: the total correlation is then
infinite or a large number set by rounding, as in disentanglement_lib. d = 1
raises ValueError (no pairs).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from drl_jax.metrics import info

NUM_BINS = 20


def gaussian_scores(covariance: np.ndarray) -> tuple[float, float, float]:
    """(total correlation, Wasserstein correlation, its normalised form) of C [k, k].

    C must have a positive diagonal; k = 0 gives zeros.
    """
    if covariance.shape[0] == 0:
        return 0.0, 0.0, 0.0
    scale = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(scale, scale)
    total_correlation = -0.5 * np.linalg.slogdet(correlation)[1]
    # eig(D C) = eig(D^1/2 C D^1/2), and (D^1/2 C D^1/2)_ij = C_ij s_i s_j.
    eigenvalues = np.linalg.eigvalsh(covariance * np.outer(scale, scale))
    trace = np.trace(covariance)
    wasserstein = 2.0 * trace - 2.0 * np.sum(np.sqrt(np.maximum(eigenvalues, 0.0)))
    return float(total_correlation), float(wasserstein), float(wasserstein / trace)


def unsupervised(codes: ArrayLike, *, num_bins: int = NUM_BINS) -> dict[str, float | int | list]:
    """Gaussian total correlation, Gaussian Wasserstein correlation and mean pairwise MI.

    >>> import numpy as np
    >>> codes = np.random.default_rng(0).normal(size=(10_000, 3))
    >>> round(unsupervised(codes)["gaussian_total_correlation"], 3)
    0.0

    Args:
      codes: float [N, d] representations (e.g. encoder means), d >= 2; 10,000
        samples in disentanglement_lib's protocol.
      num_bins: equal-width bins per dimension of the MI score.

    Returns:
      `gaussian_total_correlation` (nats), `gaussian_wasserstein_correlation`,
      `gaussian_wasserstein_correlation_norm` (divided by tr C), all over the
      non-constant dimensions; `mutual_info_score` (nats, over all d dimensions);
      `num_constant_dims` and `constant_dims` (their indices), left out of the
      Gaussian scores.
    """
    codes = info.check_codes(codes, min_dims=2)
    num_dims = codes.shape[1]
    constant = codes.max(axis=0) == codes.min(axis=0)
    kept = codes[:, ~constant]
    centred = kept - kept.mean(axis=0)
    covariance = centred.T @ centred / (codes.shape[0] - 1)  # np.cov(kept.T)
    total, wasserstein, wasserstein_norm = gaussian_scores(covariance)
    discrete = info.discretize(codes, num_bins)
    mutual_info = info.mutual_info(discrete, discrete)  # [d, d]
    np.fill_diagonal(mutual_info, 0.0)
    return {
        "gaussian_total_correlation": total,
        "gaussian_wasserstein_correlation": wasserstein,
        "gaussian_wasserstein_correlation_norm": wasserstein_norm,
        "mutual_info_score": float(mutual_info.sum() / (num_dims**2 - num_dims)),
        "num_constant_dims": int(constant.sum()),
        "constant_dims": [int(i) for i in np.flatnonzero(constant)],
    }
