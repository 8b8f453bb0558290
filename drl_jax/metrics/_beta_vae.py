"""BetaVAE score (Higgins et al. 2017): `beta_vae` samples and scores, `beta_vae_score` scores.

Each point is a batch of 64 pairs of images that share FoV j (drawn uniformly)
and are otherwise random; its feature is mean_batch |r(x1) - r(x2)| [d] and its
label is j. A linear classifier predicts j from the feature; the score is its
accuracy on a fresh evaluation set (10,000 train / 5,000 eval points, as
disentanglement_lib's `beta_vae_sklearn` with Locatello et al. 2019's settings).

Classifier: a one-vs-rest liblinear logistic regression with C = 1, i.e. the
`LogisticRegression(random_state=...)` of the sklearn release dlib ran on (the
default solver and multi-class scheme changed in sklearn 0.22). No departure
from dlib beyond the input checks; the features are the same.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from numpy.typing import ArrayLike
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from drl_jax.data.ground_truth import GridData
from drl_jax.metrics import info, interventions


def beta_vae(
    data: GridData,
    encode: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    *,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    seed: int = 0,
) -> dict[str, float]:
    """BetaVAE score of an encoder on a full FoV grid.

    Args:
      data: the dataset to intervene on.
      encode: images float32 [B, 64, 64, C] -> codes [B, d], jittable (a
        `jax.tree_util.Partial` shares one compile across models; interventions.py).
      key: PRNG key of the sampled points.
      num_train, num_eval: points (batches of 64 pairs) to fit and to score the classifier.
      seed: `random_state` of the logistic regression.

    Returns:
      `beta_vae_score`'s dict.
    """
    samples = interventions.beta_vae_samples(
        data, encode, key, num_train=num_train, num_eval=num_eval
    )
    return beta_vae_score(**samples, seed=seed)


def beta_vae_score(
    features_train: ArrayLike,
    labels_train: ArrayLike,
    features_eval: ArrayLike,
    labels_eval: ArrayLike,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """BetaVAE score from precomputed features (see `interventions.beta_vae_samples`).

    Args:
      features_train: float [P, d] mean absolute code differences per point.
      labels_train: int [P] the FoV held fixed in each point, with at least 2 FoVs present.
      features_eval: float [Q, d] evaluation points.
      labels_eval: int [Q] their fixed FoVs.
      seed: `random_state` of the logistic regression.

    Returns:
      `beta_vae_train`, `beta_vae_eval`: accuracies in [0, 1]; the eval one is the score.
    """
    labels_train, labels_eval = np.asarray(labels_train), np.asarray(labels_eval)
    if labels_train.ndim != 1 or labels_eval.ndim != 1:
        raise ValueError(
            f"labels must be [P] FoV indices, got labels_train {labels_train.shape} and "
            f"labels_eval {labels_eval.shape}."
        )
    train = info.check_codes_factors(features_train, labels_train[:, None], "features_train")
    test = info.check_codes_factors(features_eval, labels_eval[:, None], "features_eval")
    info.check_split(train, test)
    regression = LogisticRegression(solver="liblinear", random_state=seed)
    classifier = OneVsRestClassifier(regression).fit(train[0], train[1][:, 0])
    return {
        "beta_vae_train": float(np.mean(classifier.predict(train[0]) == train[1][:, 0])),
        "beta_vae_eval": float(np.mean(classifier.predict(test[0]) == test[1][:, 0])),
    }
