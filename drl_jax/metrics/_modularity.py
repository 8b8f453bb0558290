"""Modularity and Explicitness (Ridgeway & Zemel 2018, "Learning Deep Disentangled
Embeddings With the F-Statistic Loss"), as disentanglement_lib's
`modularity_explicitness` (Locatello et al. 2019 defaults).

Modularity: with m_ij the discrete mutual information between code i
(discretised into 20 equal-width bins, as MIG) and FoV j on the training split,
theta_i = max_j m_ij, delta_i = sum_{j != argmax} m_ij^2 / (theta_i^2 (F - 1)),
modularity = mean_i (1 - delta_i), where a code with theta_i = 0 scores 0.

Explicitness: per FoV, a one-vs-rest logistic regression (liblinear, C = 1: the
`LogisticRegression()` of the sklearn release dlib ran on) on the codes
standardised with the training mean and std; the score is the ROC-AUC of its
normalised class probabilities, averaged over the FoV's classes (macro), on the
train and on the test split, then averaged over FoVs.

Departures from disentanglement_lib: a dimension with zero training std is
divided by 1 instead of 0 (dlib yields NaN); AUC is averaged over the classes the
classifier knows that have both positives and negatives in the split (dlib
crashes when a class is missing from the test split); F = 1 raises ValueError.
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from drl_jax.metrics import info

NUM_BINS = 20


def modularity_from_mi(mutual_info: ArrayLike) -> np.ndarray:
    """Per-code modularity 1 - delta_i of an MI matrix: float [d, F] (F >= 2) -> [d]."""
    mutual_info = np.asarray(mutual_info, np.float64)
    if mutual_info.ndim != 2 or mutual_info.shape[1] < 2:
        raise ValueError(f"mutual_info must be [d, F] with F >= 2, got {mutual_info.shape}.")
    squared = mutual_info**2
    top = squared.max(axis=1)
    delta = (squared.sum(axis=1) - top) / np.where(top > 0, top, 1.0) / (squared.shape[1] - 1)
    return np.where(top > 0, 1.0 - delta, 0.0)


def _auc(classifier: OneVsRestClassifier, codes: np.ndarray, labels: np.ndarray) -> float:
    """Mean ROC-AUC over the classifier's classes that have both positives and negatives.

    Per class, the Mann-Whitney form of `sklearn.metrics.roc_auc_score` (ties count 1/2):
    (rank sum of the positives - n+ (n+ + 1) / 2) / (n+ n-), all classes at once.
    """
    ranks = scipy.stats.rankdata(classifier.predict_proba(codes), axis=0)  # [N, K]
    positive = labels[:, None] == classifier.classes_[None, :]
    n_pos = positive.sum(axis=0)
    n_neg = len(labels) - n_pos
    defined = (n_pos > 0) & (n_neg > 0)
    rank_sum = np.where(positive, ranks, 0.0).sum(axis=0)
    auc = (rank_sum - n_pos * (n_pos + 1) / 2) / np.where(defined, n_pos * n_neg, 1)
    return float(auc[defined].mean())


def modularity(
    codes_train: ArrayLike,
    factors_train: ArrayLike,
    codes_test: ArrayLike,
    factors_test: ArrayLike,
    *,
    num_bins: int = NUM_BINS,
    seed: int = 0,
) -> dict[str, float | list]:
    """Modularity and explicitness of codes with respect to FoVs.

    Args:
      codes_train, factors_train: float [N, d], int [N, F] (F >= 2): 10,000 samples
        in dlib's protocol; modularity uses these only.
      codes_test, factors_test: float [M, d], int [M, F]: 5,000 samples.
      num_bins: equal-width bins per code dimension for the mutual information.
      seed: `random_state` of the logistic regressions.

    Returns:
      `modularity` (mean over codes), `modularity_per_code` (d values),
      `explicitness_train`, `explicitness_test` (mean AUC over FoVs) and
      `explicitness_test_per_fov` (F values).
    """
    train = info.check_codes_factors(codes_train, factors_train, "codes_train")
    test = info.check_codes_factors(codes_test, factors_test, "codes_test")
    info.check_split(train, test)
    per_code = modularity_from_mi(info.mutual_info(info.discretize(train[0], num_bins), train[1]))
    mean, std = train[0].mean(axis=0), train[0].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    codes_train_std, codes_test_std = (train[0] - mean) / std, (test[0] - mean) / std
    auc_train, auc_test = [], []
    for j in range(train[1].shape[1]):
        regression = LogisticRegression(solver="liblinear", random_state=seed)
        classifier = OneVsRestClassifier(regression).fit(codes_train_std, train[1][:, j])
        auc_train.append(_auc(classifier, codes_train_std, train[1][:, j]))
        auc_test.append(_auc(classifier, codes_test_std, test[1][:, j]))
    return {
        "modularity": float(per_code.mean()),
        "modularity_per_code": per_code.tolist(),
        "explicitness_train": float(np.mean(auc_train)),
        "explicitness_test": float(np.mean(auc_test)),
        "explicitness_test_per_fov": auc_test,
    }
