"""FactorVAE score (Kim & Mnih 2018): `factor_vae` samples and scores, `factor_vae_score` scores.

Each point is a batch of 64 images that share FoV j (drawn uniformly) and are
otherwise random. Its code variances (ddof=1) per dimension, divided by the
global variances of the codes of random images, are compared over the active
dimensions; the point votes for (j, argmin dimension). A majority-vote classifier
maps each dimension to the FoV with most votes; the score is its accuracy on a
fresh evaluation set (10,000 train / 5,000 eval points, 10,000 images for the
global variances: disentanglement_lib's `factor_vae_score` with Locatello et al.
2019's settings).

Active dimensions: std >= 0.05, i.e. sqrt(global variance, ddof=1) >= threshold,
exactly dlib's `prune_dims` with the study's `threshold = 0.05` (it compares the
std, not the variance, with 0.05; a dimension with std below it is collapsed).
With no active dimension both accuracies are 0.

Departures from disentanglement_lib: the argmin is reported in the original
dimension indices (dlib indexes its vote matrix with the position among the
active dimensions, which shifts votes when an inactive dimension precedes an
active one), and `factor_vae_num_active_dims` counts the active dimensions (dlib
reports the length of its boolean mask, i.e. d).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from numpy.typing import ArrayLike

from drl_jax.data.ground_truth import GridData
from drl_jax.metrics import info, interventions

ACTIVE_STD = 0.05


def factor_vae(
    data: GridData,
    encode: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    *,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
) -> dict[str, float | int]:
    """FactorVAE score of an encoder on a full FoV grid.

    Args:
      data: the dataset to intervene on.
      encode: images float32 [B, 64, 64, C] -> codes [B, d], jittable (see `beta_vae`).
      key: PRNG key of the sampled points.
      num_train, num_eval: points (batches of 64 images) for the vote and the score.
      num_variance_estimate: random images for the global code variances.

    Returns:
      `factor_vae_score`'s dict.
    """
    samples = interventions.factor_vae_samples(
        data,
        encode,
        key,
        num_train=num_train,
        num_eval=num_eval,
        num_variance_estimate=num_variance_estimate,
    )
    return factor_vae_score(**samples)


def _votes(
    variances: np.ndarray,
    labels: np.ndarray,
    global_variances: np.ndarray,
    active: np.ndarray,
    num_factors: int,
) -> np.ndarray:
    """int [F, d]: per (FoV, dimension) how many points chose that argmin active dimension."""
    normalised = np.where(active, variances / np.where(active, global_variances, 1.0), np.inf)
    votes = np.zeros((num_factors, variances.shape[1]), np.int64)
    np.add.at(votes, (labels, np.argmin(normalised, axis=1)), 1)
    return votes


def factor_vae_score(
    variances_train: ArrayLike,
    labels_train: ArrayLike,
    variances_eval: ArrayLike,
    labels_eval: ArrayLike,
    global_variances: ArrayLike,
    *,
    threshold: float = ACTIVE_STD,
) -> dict[str, float | int]:
    """FactorVAE score from per-point code variances (see `interventions.factor_vae_samples`).

    Args:
      variances_train: float [P, d] code variances (ddof=1) within each point's batch.
      labels_train: int [P] the FoV held fixed in each point.
      variances_eval: float [Q, d] evaluation points.
      labels_eval: int [Q] their fixed FoVs.
      global_variances: float [d] code variances (ddof=1) over random images.
      threshold: a dimension is active if sqrt(global variance) >= threshold.

    Returns:
      `factor_vae_train`, `factor_vae_eval` (accuracies in [0, 1]; the eval one is the
      score) and `factor_vae_num_active_dims`.
    """
    labels_train, labels_eval = np.asarray(labels_train), np.asarray(labels_eval)
    global_variances = np.asarray(global_variances, np.float64)
    if labels_train.ndim != 1 or labels_eval.ndim != 1:
        raise ValueError(
            f"labels must be [P] FoV indices, got labels_train {labels_train.shape} and "
            f"labels_eval {labels_eval.shape}."
        )
    train = info.check_codes_factors(variances_train, labels_train[:, None], "variances_train")
    test = info.check_codes_factors(variances_eval, labels_eval[:, None], "variances_eval")
    info.check_split(train, test)
    if global_variances.shape != (train[0].shape[1],) or not np.all(np.isfinite(global_variances)):
        raise ValueError(
            f"global_variances must be finite [d] for variances_train {train[0].shape}, got "
            f"{global_variances.shape}."
        )
    if (
        min(train[0].min(), test[0].min(), global_variances.min(), train[1].min(), test[1].min())
        < 0
    ):
        raise ValueError("Variances and FoV indices must be non-negative.")
    active = np.sqrt(global_variances) >= threshold
    if not active.any():
        return {"factor_vae_train": 0.0, "factor_vae_eval": 0.0, "factor_vae_num_active_dims": 0}
    num_factors = int(max(train[1].max(), test[1].max())) + 1
    votes_train = _votes(train[0], train[1][:, 0], global_variances, active, num_factors)
    votes_eval = _votes(test[0], test[1][:, 0], global_variances, active, num_factors)
    classifier = np.argmax(votes_train, axis=0)  # [d]: the FoV each dimension stands for
    dims = np.arange(votes_train.shape[1])
    return {
        "factor_vae_train": float(votes_train[classifier, dims].sum() / votes_train.sum()),
        "factor_vae_eval": float(votes_eval[classifier, dims].sum() / votes_eval.sum()),
        "factor_vae_num_active_dims": int(active.sum()),
    }
