"""DCI: Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018).

As disentanglement_lib's `dci` (Locatello et al. 2019 defaults, SPEC section 2):
one `GradientBoostingClassifier()` (sklearn defaults: 100 trees of depth 3,
learning rate 0.1) per FoV on the training codes; the importance matrix R [d, F]
holds |feature_importances_|. With p = R normalised along one axis (after adding
1e-11, as dlib does):
* disentanglement = sum_i rho_i (1 - H_F(p_i.)),  rho_i = sum_j R_ij / sum R,
  H_F the entropy in base F of code i's importance over FoVs;
* completeness = sum_j rho_j (1 - H_d(p_.j)), H_d in base d over codes;
* informativeness = mean over FoVs of the classifiers' accuracy on the train and
  on the test split (dlib's variables say `train_err`/`test_err`, but hold accuracies).
An all-zero R gets uniform weights rho (dlib's rule), so it scores 0.

Departures from disentanglement_lib: each classifier gets `random_state=seed`
(dlib leaves it unset, so ties between features break differently per run);
per-FoV and per-code values are returned too; F = 1 or d = 1 (entropy base 1)
raise ValueError. The classifiers of different FoVs are fitted in parallel
(joblib); `fit_gbts` returns them so `downstream` can reuse their accuracy on the
full representation instead of fitting the same model twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import joblib
import numpy as np
from numpy.typing import ArrayLike
from sklearn.ensemble import GradientBoostingClassifier

from drl_jax.metrics import info

_EPSILON = 1e-11


def _fit_one(codes: np.ndarray, labels: np.ndarray, seed: int) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(random_state=seed).fit(codes, labels)


def fit_gbts(
    codes_train: ArrayLike, factors_train: ArrayLike, *, seed: int = 0, n_jobs: int = -1
) -> list[GradientBoostingClassifier]:
    """One fitted GradientBoostingClassifier per FoV (in parallel over FoVs).

    Args:
      codes_train: float [N, d] training codes.
      factors_train: int [N, F] their FoV classes.
      seed: `random_state` of every classifier.
      n_jobs: joblib workers (-1: all cores).

    Returns:
      F classifiers; classifier j predicts FoV j from all d dimensions.
    """
    codes, factors = info.check_codes_factors(codes_train, factors_train, "codes_train")
    return joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_fit_one)(codes, factors[:, j], seed) for j in range(factors.shape[1])
    )


def _entropy(p: np.ndarray, axis: int, base: int) -> np.ndarray:
    """Entropy of p normalised along `axis`, in base `base` (scipy.stats.entropy's)."""
    p = p / p.sum(axis=axis, keepdims=True)
    return -np.sum(p * np.log(p), axis=axis) / np.log(base)


def scores_from_importance(importance: ArrayLike) -> dict[str, float | list]:
    """Disentanglement and completeness of an importance matrix.

    Args:
      importance: float [d, F] non-negative importance of code i for FoV j, d, F >= 2.

    Returns:
      `dci_disentanglement`, `dci_completeness` (floats in [0, 1]),
      `dci_disentanglement_per_code` (d values), `dci_completeness_per_fov` (F values).
    """
    importance = np.asarray(importance, np.float64)
    if importance.ndim != 2 or min(importance.shape) < 2:
        raise ValueError(
            f"importance must be [d, F] with d, F >= 2 (entropies in base d and F), got "
            f"shape {importance.shape}."
        )
    if not np.all(np.isfinite(importance)) or np.any(importance < 0):
        raise ValueError(f"importance {importance.shape} must be finite and non-negative.")
    num_codes, num_factors = importance.shape
    per_code = 1.0 - _entropy(importance + _EPSILON, axis=1, base=num_factors)
    per_fov = 1.0 - _entropy(importance + _EPSILON, axis=0, base=num_codes)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    code_weight = weights.sum(axis=1) / weights.sum()
    fov_weight = weights.sum(axis=0) / weights.sum()
    return {
        "dci_disentanglement": float(np.sum(per_code * code_weight)),
        "dci_completeness": float(np.sum(per_fov * fov_weight)),
        "dci_disentanglement_per_code": per_code.tolist(),
        "dci_completeness_per_fov": per_fov.tolist(),
    }


def dci(
    codes_train: ArrayLike,
    factors_train: ArrayLike,
    codes_test: ArrayLike,
    factors_test: ArrayLike,
    *,
    seed: int = 0,
    n_jobs: int = -1,
    gbts: Sequence[GradientBoostingClassifier] | None = None,
) -> dict[str, float | list]:
    """DCI scores of codes with respect to FoVs, on a caller-given train/test split.

    Args:
      codes_train, factors_train: float [N, d], int [N, F] (10,000 samples in SPEC 2).
      codes_test, factors_test: float [M, d], int [M, F] (5,000 in SPEC 2).
      seed: `random_state` of the classifiers.
      n_jobs: joblib workers for fitting (-1: all cores).
      gbts: F classifiers already fitted by `fit_gbts` on this training split
        (then nothing is fitted here).

    Returns:
      `scores_from_importance`'s keys, plus `dci_informativeness_train`,
      `dci_informativeness_test` (mean accuracies), `dci_informativeness_train_per_fov`,
      `dci_informativeness_test_per_fov` (F accuracies each) and `dci_importance` [d][F].
    """
    train = info.check_codes_factors(codes_train, factors_train, "codes_train")
    test = info.check_codes_factors(codes_test, factors_test, "codes_test")
    info.check_split(train, test)
    num_codes, num_factors = train[0].shape[1], train[1].shape[1]
    if min(num_codes, num_factors) < 2:
        raise ValueError(
            f"DCI needs d, F >= 2 (entropies in base d and F), got codes_train "
            f"{train[0].shape} and factors_train {train[1].shape}."
        )
    if gbts is None:
        gbts = fit_gbts(*train, seed=seed, n_jobs=n_jobs)
    if len(gbts) != num_factors or any(m.n_features_in_ != num_codes for m in gbts):
        raise ValueError(
            f"gbts must be {num_factors} classifiers fitted on {num_codes} dimensions, got "
            f"{len(gbts)} fitted on {[m.n_features_in_ for m in gbts]}."
        )
    importance = np.stack([np.abs(m.feature_importances_) for m in gbts], axis=1)
    accuracy = {
        split: [float(np.mean(m.predict(codes) == factors[:, j])) for j, m in enumerate(gbts)]
        for split, (codes, factors) in (("train", train), ("test", test))
    }
    return scores_from_importance(importance) | {
        "dci_informativeness_train": float(np.mean(accuracy["train"])),
        "dci_informativeness_test": float(np.mean(accuracy["test"])),
        "dci_informativeness_train_per_fov": accuracy["train"],
        "dci_informativeness_test_per_fov": accuracy["test"],
        "dci_importance": importance.tolist(),
    }
