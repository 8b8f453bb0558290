"""DCI: Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018).

As disentanglement_lib's `dci` (Locatello et al. 2019 defaults, docs/method.md#dci):
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
full representation instead of fitting the same model twice. Each column of R is
normalised to sum 1 (sklearn's importances already are; an all-zero column stays 0).

`backend="lightgbm"` swaps in `lightgbm.LGBMClassifier` set up like sklearn's
defaults: 100 boosting rounds, learning rate 0.1, trees of depth 3 (`max_depth=3`,
`num_leaves=8`), `min_child_samples=1` (sklearn's `min_samples_leaf`), no row or
column subsampling, no L1/L2 leaf penalty; importances are the total split gain
(`importance_type="gain"`, per column normalised like sklearn's total impurity
decrease). Two settings keep it right on FoVs of many classes (COIL-100's 100
objects, Cars3D's 183 cars), where LightGBM's defaults fall to chance:
* `max_bin` = the number of training samples (at least 255) and `min_data_in_bin=1`:
  a bin per distinct value, as the exact GBT's thresholds (at 255 bins a 183-class
  code loses a quarter of its test accuracy);
* `min_child_weight=0.1` (the leaf's summed hessian, default 1e-3): a multiclass
  hessian p (1 - p) is tiny for samples fitted with confidence, so the Newton leaf
  value -G / H of a leaf holding a few of them reaches hundreds to thousands, and
  by the fourth round the raw scores blow up (a clean 183-class code: training
  accuracy 0.98, 0.999, 0.91, then 0.08). sklearn's GBT, which picks its leaves by
  the residuals' friedman_mse, stays stable on the same codes.
It still chooses splits by the Newton gain rather than friedman_mse, and breaks
ties between equal features by index, never at random: on duplicated codes [x, x]
its completeness is 1 where the exact GBT's random tie-breaks give about
1 - ln 2 / ln 2F. On small noisy sets its importances spread more: later,
overfitting rounds divide the gain G^2 / H by the hessians, which shrink for
confidently fitted samples, while sklearn's impurity decrease of the residuals does
not. Deterministic fits: `deterministic=True`, `force_col_wise=True`,
`random_state=seed`, one thread per fit, FoVs on joblib threads. Measured agreement
with the exact backend, per FoV class count and dataset, and speed: README, "The
metric suite" (benchmarks/gbt_agreement.py, benchmarks/bench_metrics.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import joblib
import lightgbm
import numpy as np
from numpy.typing import ArrayLike
from sklearn.ensemble import GradientBoostingClassifier

from drl_jax.metrics import info

_EPSILON = 1e-11
# Backend name -> classifier type (`gbt_classifier` builds them).
GBT_BACKENDS = {"exact": GradientBoostingClassifier, "lightgbm": lightgbm.LGBMClassifier}
_LIGHTGBM_OPTIONS = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "max_depth": 3,
    "num_leaves": 8,
    "min_child_samples": 1,
    "min_data_in_bin": 1,
    "min_child_weight": 0.1,
    "importance_type": "gain",
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}
# LightGBM trains in native code without the GIL: threads spare pickling data and models.
_JOBLIB_PREFER = {"exact": "processes", "lightgbm": "threads"}
GBT = GradientBoostingClassifier | lightgbm.LGBMClassifier


def gbt_classifier(backend: str, seed: int, num_samples: int) -> GBT:
    """An unfitted GBT classifier of `backend` (a GBT_BACKENDS key) for `num_samples`
    training samples, seeded; one thread."""
    if backend not in GBT_BACKENDS:
        raise ValueError(f"backend must be one of {tuple(GBT_BACKENDS)}, got {backend!r}.")
    if backend == "lightgbm":
        return lightgbm.LGBMClassifier(
            **_LIGHTGBM_OPTIONS, max_bin=max(255, num_samples), random_state=seed, n_jobs=1
        )
    return GradientBoostingClassifier(random_state=seed)


def fit_gbts(
    codes_train: ArrayLike,
    factors_train: ArrayLike,
    *,
    backend: str = "exact",
    seed: int = 0,
    n_jobs: int = -1,
) -> list[GBT]:
    """One fitted GBT classifier per FoV (in parallel over FoVs).

    Args:
      codes_train: float [N, d] training codes.
      factors_train: int [N, F] their FoV classes.
      backend: "exact" (sklearn) or "lightgbm" (see module docstring).
      seed: `random_state` of every classifier.
      n_jobs: joblib workers (-1: all cores; threads for lightgbm); each fit uses one thread.

    Returns:
      F classifiers; classifier j predicts FoV j from all d dimensions.
    """
    codes, factors = info.check_codes_factors(codes_train, factors_train, "codes_train")
    models = [gbt_classifier(backend, seed, len(codes)) for _ in range(factors.shape[1])]
    fits = zip(models, factors.T, strict=True)
    parallel = joblib.Parallel(n_jobs=n_jobs, prefer=_JOBLIB_PREFER[backend])
    return parallel(joblib.delayed(m.fit)(codes, y) for m, y in fits)


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
    backend: str = "exact",
    seed: int = 0,
    n_jobs: int = -1,
    gbts: Sequence[GBT] | None = None,
) -> dict[str, float | list]:
    """DCI scores of codes with respect to FoVs, on a caller-given train/test split.

    Args:
      codes_train, factors_train: float [N, d], int [N, F] (10,000 samples by default).
      codes_test, factors_test: float [M, d], int [M, F] (5,000 by default).
      backend: the GBTs fitted when `gbts` is None: "exact" or "lightgbm".
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
        gbts = fit_gbts(*train, backend=backend, seed=seed, n_jobs=n_jobs)
    if len(gbts) != num_factors or any(m.n_features_in_ != num_codes for m in gbts):
        raise ValueError(
            f"gbts must be {num_factors} classifiers fitted on {num_codes} dimensions, got "
            f"{len(gbts)} fitted on {[m.n_features_in_ for m in gbts]}."
        )
    importance = np.stack([np.abs(m.feature_importances_) for m in gbts], axis=1)
    totals = importance.sum(axis=0)
    importance = importance / np.where(totals > 0, totals, 1.0)
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
