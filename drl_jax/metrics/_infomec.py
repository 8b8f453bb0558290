"""InfoMEC: InfoM(odularity), InfoC(ompactness) and InfoE(xplicitness).

References: K. Hsu, W. Dorrell, J. C. R. Whittington, J. Wu and C. Finn,
"Disentanglement via Latent Quantization", NeurIPS 2023, arXiv:2305.18378, as
their code `disentangle/metrics/infomec.py`
(github.com/kylehkhsu/latent_quantization).

InfoM and InfoC are read off the normalised mutual information NMI [F, d],
NMI_ij = I(v_i; z_j) / H(v_i) (in [0, 1]; the k-NN estimate may pass 1 slightly):
* continuous codes: each dimension standardised, I(v_i; z_j) from the k-nearest
  neighbour estimator of Ross (2014) for a discrete and a continuous variable
  (sklearn's `mutual_info_classif`, 10 neighbours, clipped at 0; it adds noise of
  relative size 1e-10 to break ties, drawn from `seed`);
* discrete codes (`discrete_latents=True`, e.g. quantised latents): the plug-in
  MI of the code values (info.mutual_info);
H(v_i) is the plug-in entropy of the FoV (info.entropy), all in nats.

Dimensions are active when their range (max - min) exceeds 1/20 of the largest
range (continuous), or is positive (discrete). Over the L active dimensions:
  InfoM = (mean_j max_i NMI_ij / sum_i NMI_ij - 1/F) / (1 - 1/F),
  InfoC = (mean_i max_j NMI_ij / sum_j NMI_ij - 1/L) / (1 - 1/L),
so 0 is information spread evenly and 1 one FoV per dimension (InfoM), one
dimension per FoV (InfoC). InfoE is mean_i (H0_i - H1_i) / H0_i, where H1_i is
the in-sample cross entropy (nats) of an unpenalised multinomial logistic
regression of v_i on all codes (standardised; one-hot columns for discrete codes;
lbfgs, at most 100 iterations, tolerance 1e-4, balanced class weights) and H0_i
that of the same regression on no input.

Matched quirk: with balanced class weights the input-free regression is the
uniform distribution (its gradient at the zero start is exactly zero), so H0_i is
ln K_i for a FoV with K_i classes, not H(v_i); the two agree for uniform FoVs.
It is computed as ln K_i here. The 100-iteration cap is the reference's: on
separable data the fit stops there (its ConvergenceWarning is silenced).

Defined results where the reference gives NaN: a ratio 0/0 (an active dimension
with zero NMI to every FoV, or a FoV with zero NMI to every active dimension)
scores 0, chance level; with no active dimension InfoM is 0, and with fewer than
2 (chance and perfect coincide) InfoC is 0. F = 1 and FoVs with one observed
class raise ValueError. Also different: one estimator call per FoV covers all
dimensions (the reference calls it per pair; the estimate per dimension is the
same, only the tie-breaking noise is drawn jointly), and the unpenalised
regression is asked for as C = inf (`penalty=None` is deprecated in sklearn 1.8).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import OneHotEncoder

from drl_jax.metrics import info

NUM_NEIGHBORS = 10
ACTIVE_RANGE_FRACTION = 1 / 20


def _standardize(codes: np.ndarray) -> np.ndarray:
    """float [N, d] -> [N, d] zero mean, unit std (ddof=0); a constant column becomes 0."""
    std = codes.std(axis=0)
    return (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _normalised_mi(
    codes: np.ndarray, factors: np.ndarray, entropy: np.ndarray, discrete: bool, seed: int
) -> np.ndarray:
    """[F, d] I(v_i; z_j) / H(v_i)."""
    if discrete:
        categories = np.stack([np.unique(z, return_inverse=True)[1] for z in codes.T], axis=1)
        mutual = info.mutual_info(categories, factors).T
    else:
        scaled = _standardize(codes)
        mutual = np.stack(
            [
                mutual_info_classif(
                    scaled,
                    fov,
                    discrete_features=False,
                    n_neighbors=NUM_NEIGHBORS,
                    random_state=seed,
                )
                for fov in factors.T
            ]
        )
    return mutual / entropy[:, None]


def _rescaled_max_share(nmi: np.ndarray, axis: int) -> np.ndarray:
    """Share of the largest entry in each slice along `axis`, rescaled so 1/n -> 0, 1 -> 1.

    n is the slice length (n >= 2); an all-zero slice scores 0.
    """
    n = nmi.shape[axis]
    total = nmi.sum(axis=axis)
    share = np.where(total > 0, nmi.max(axis=axis) / np.where(total > 0, total, 1.0), 1 / n)
    return (share - 1 / n) / (1 - 1 / n)


def _cross_entropy(inputs, labels: np.ndarray) -> float:
    """In-sample cross entropy (nats) of the reference's multinomial logistic regression."""
    model = LogisticRegression(C=np.inf, tol=1e-4, class_weight="balanced", max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(inputs, labels)
    return float(log_loss(labels, model.predict_proba(inputs), labels=model.classes_))


def _infoe_per_fov(codes: np.ndarray, factors: np.ndarray, discrete: bool) -> np.ndarray:
    """[F] (ln K_i - H1_i) / ln K_i."""
    inputs = OneHotEncoder().fit_transform(codes) if discrete else _standardize(codes)
    scores = []
    for fov in factors.T:
        null = np.log(np.unique(fov).size)
        scores.append((null - _cross_entropy(inputs, fov)) / null)
    return np.array(scores)


def infomec(
    codes: ArrayLike,
    factors: ArrayLike,
    *,
    discrete_latents: bool = False,
    seed: int = 0,
) -> dict[str, float | list]:
    """InfoM, InfoC and InfoE of codes with respect to FoVs (see the module docstring).

    Args:
      codes: float [N, d] representations (e.g. encoder means), or [N, d] code
        values taken as categories with `discrete_latents`.
      factors: int [N, F] FoV classes of the same N samples, F >= 2.
      discrete_latents: plug-in MI and one-hot inputs (True) or the k-NN estimator
        and standardised inputs (False).
      seed: `random_state` of the k-NN estimator's tie-breaking noise.

    Returns:
      `infom`, `infoc`, `infoe`: floats in [0, 1] (InfoE may dip below 0 when the
      regression stops short of the null's cross entropy);
      `nmi`: [F][d] I(v_i; z_j) / H(v_i); `active_dims`: d bools;
      `infom_per_dim`: d rescaled shares (None for inactive dimensions);
      `infoc_per_fov`, `infoe_per_fov`: F values.
    """
    codes, factors = info.check_codes_factors(codes, factors)
    if factors.shape[1] < 2:
        raise ValueError(f"InfoM needs at least 2 FoVs, got factors {factors.shape}.")
    entropy = info.entropy(factors)
    if np.any(entropy == 0):
        constant = [int(j) for j in np.flatnonzero(entropy == 0)]
        raise ValueError(
            f"InfoMEC is undefined for FoVs with a single observed class: FoV columns "
            f"{constant} of factors {factors.shape}."
        )
    nmi = _normalised_mi(codes, factors, entropy, discrete_latents, seed)  # [F, d]
    ranges = codes.max(axis=0) - codes.min(axis=0)
    threshold = 0.0 if discrete_latents else ranges.max() * ACTIVE_RANGE_FRACTION
    active = ranges > threshold
    pruned = nmi[:, active]
    infom_active = _rescaled_max_share(pruned, axis=0) if active.any() else np.zeros(0)
    if active.sum() >= 2:
        infoc_per_fov = _rescaled_max_share(pruned, axis=1)
    else:
        infoc_per_fov = np.zeros(factors.shape[1])
    infom_per_dim = [None] * codes.shape[1]
    for j, value in zip(np.flatnonzero(active), infom_active, strict=True):
        infom_per_dim[j] = float(value)
    infoe_per_fov = _infoe_per_fov(codes, factors, discrete_latents)
    return {
        "infom": float(infom_active.mean()) if infom_active.size else 0.0,
        "infoc": float(infoc_per_fov.mean()),
        "infoe": float(infoe_per_fov.mean()),
        "nmi": nmi.tolist(),
        "active_dims": active.tolist(),
        "infom_per_dim": infom_per_dim,
        "infoc_per_fov": infoc_per_fov.tolist(),
        "infoe_per_fov": infoe_per_fov.tolist(),
    }
