"""SAP: Separated Attribute Predictability (Kumar et al. 2018, Section 3).

A score matrix A [d, F] says how well each single code dimension predicts each
FoV; SAP is the mean over FoVs of the gap between the two best dimensions.
Two variants, both disentanglement_lib's `sap_score`:
* discrete FoVs (default; `continuous_factors=False`, the setting of
  Locatello et al. 2019's study): A[i, j] is the test accuracy of
  `LinearSVC(C=0.01, class_weight="balanced")` trained to predict FoV j from
  dimension i alone (1-D input, one-vs-rest over the FoV's classes) on the
  training split;
* continuous FoVs (`continuous_factors=True`, the variant dlib's own tests and
  Kumar et al. use): A[i, j] = Cov(z_i, v_j)^2 / (Var z_i Var v_j), the R^2 of a
  linear fit, on the training split only (0 where Var z_i <= 1e-12).
The discrete variant stays well below 1 even for a perfect representation: the
second-best dimension still scores about chance (about 0.5 on a binary FoV, so
SAP ~ 0.5 there), and a 1-D one-vs-rest linear classifier isolates only the end
classes of an ordered FoV well (own-dimension accuracy ~0.75 at 4 classes, ~0.3
at 10). Use the continuous variant for a score that reaches 1.

Departures from disentanglement_lib: `random_state=seed` on every LinearSVC and
sklearn's current `dual="auto"` (the primal solver here; dlib's era used the
dual: the same convex problem, equal up to the solver's tolerance); a FoV with
zero variance gets R^2 = 0 instead of NaN; d = 1 raises ValueError.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.svm import LinearSVC

from drl_jax.metrics import info


def _r_squared(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """float [N, d], int [N, F] -> [d, F] squared correlation (ddof=1 covariances)."""
    codes_c = codes - codes.mean(axis=0)
    factors_c = factors - factors.mean(axis=0)
    n = codes.shape[0]
    covariance = codes_c.T @ factors_c / (n - 1)
    var_codes = (codes_c**2).sum(axis=0) / (n - 1)
    var_factors = (factors_c**2).sum(axis=0) / (n - 1)
    denominator = var_codes[:, None] * var_factors[None, :]
    defined = (var_codes[:, None] > 1e-12) & (var_factors[None, :] > 0)
    return np.where(defined, covariance**2 / np.where(defined, denominator, 1.0), 0.0)


def _accuracies(train, test, seed: int) -> np.ndarray:
    """[d, F] test accuracy of a 1-D LinearSVC per (dimension, FoV)."""
    (codes, factors), (codes_test, factors_test) = train, test
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            classifier = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
            classifier.fit(codes[:, i : i + 1], factors[:, j])
            scores[i, j] = np.mean(
                classifier.predict(codes_test[:, i : i + 1]) == factors_test[:, j]
            )
    return scores


def sap(
    codes_train: ArrayLike,
    factors_train: ArrayLike,
    codes_test: ArrayLike,
    factors_test: ArrayLike,
    *,
    continuous_factors: bool = False,
    seed: int = 0,
) -> dict[str, float | list]:
    """SAP score of codes with respect to FoVs (see the module docstring for the variants).

    Args:
      codes_train, factors_train: float [N, d] (d >= 2), int [N, F]: 10,000 samples in
        dlib's protocol.
      codes_test, factors_test: float [M, d], int [M, F]: 5,000 samples; only the
        discrete variant uses them.
      continuous_factors: score with R^2 (True) or 1-D classifier accuracy (False).
      seed: `random_state` of the classifiers.

    Returns:
      `sap`: mean over FoVs of (A_top1 - A_top2); `sap_per_fov`: F gaps;
      `sap_matrix`: A as [d][F].
    """
    train = info.check_codes_factors(codes_train, factors_train, "codes_train")
    test = info.check_codes_factors(codes_test, factors_test, "codes_test")
    info.check_split(train, test)
    if train[0].shape[1] < 2:
        raise ValueError(f"SAP needs at least 2 code dimensions, got codes {train[0].shape}.")
    if continuous_factors:
        matrix = _r_squared(train[0], train[1].astype(np.float64))
    else:
        matrix = _accuracies(train, test, seed)
    top = np.sort(matrix, axis=0)
    per_fov = top[-1] - top[-2]
    return {
        "sap": float(per_fov.mean()),
        "sap_per_fov": per_fov.tolist(),
        "sap_matrix": matrix.tolist(),
    }
