"""OMES: Overlap Multiple Encoding Scores (docs/method.md#omes), exact and vectorised.

One jitted computation gives the association matrix S, OS and MES for both
poolings and OMES for every alpha in {0.0, 0.1, ..., 1.0}, per FoV and averaged,
and the best dimension of each FoV. It maps over a leading model axis, so
hundreds of models are scored in one call.

Shapes: M models, N samples, d latent dims, F FoVs, P pairs per FoV.

Two facts of the published algorithm worth knowing when reading scores:
* uniform interventions pair distinct classes, whose values are anti-correlated
  (-1/(k-1) for k classes), so even a perfect code of a FoV has
  S = 1 - 1/(k-1): 0.5 for dSprites' 3 shapes, 0 for a binary FoV;
* a code that changes across every pair (noise) has S = 1 everywhere, so
  OS = 1/n and MES = 1/m: OMES = alpha/n + (1 - alpha)/m is its chance level.

Defined results where the published formula is undefined (never NaN):
* a column of pair codes that is constant, or has fewer than 3 valid pairs,
  has no measurable correlation: S = 0 ("not encoded");
* a FoV with no measurable pairs at all (one class, or no pair in the sample)
  is "unmeasured": its scores are reported as null and it is left out of the
  mean over FoVs; if no FoV is measured, OMES is 0;
* inactive dimensions (std over samples < 0.05, ddof=1) are removed; with no
  active dimension every score is 0 and no FoV has an associated dimension;
* the weighted average pooling of a FoV whose weights sum to 0 is 0.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from drl_jax.data import pairs as pair_lib
from drl_jax.metrics import info

ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))
POOLINGS = ("max", "avg")
INACTIVE_STD = 0.05
_MIN_PAIRS = 3
# Relative std below which a column of pair codes counts as constant (float32 rounding).
_CONSTANT_RTOL = 1e-5


def association_matrix(z1: jax.Array, z2: jax.Array, valid: jax.Array) -> jax.Array:
    """S[h, j] = 1 - |PearsonCorr over FoV j's pairs (z1_h, z2_h)|.

    Args:
      z1, z2: float [F, P, d] codes of the two members of each pair.
      valid: bool [F, P] which pairs exist (the rest is padding).

    Returns:
      float32 [d, F] in [0, 1]; 0 where the correlation is undefined.
    """
    z1, z2 = z1.astype(jnp.float32), z2.astype(jnp.float32)
    weight = valid.astype(jnp.float32)[..., None]  # [F, P, 1]
    count = weight.sum(axis=1)  # [F, 1]
    safe = jnp.maximum(count, 1.0)

    def centred(z):
        mean = (z * weight).sum(axis=1, keepdims=True) / safe[:, None]
        c = (z - mean) * weight
        rms = jnp.sqrt((z * z * weight).sum(axis=1) / safe)
        return c, (c * c).sum(axis=1), rms

    c1, var1, rms1 = centred(z1)
    c2, var2, rms2 = centred(z2)
    covariance = (c1 * c2).sum(axis=1)  # [F, d]

    def is_constant(var, rms):
        return jnp.sqrt(var / safe) <= _CONSTANT_RTOL * rms

    undefined = is_constant(var1, rms1) | is_constant(var2, rms2) | (count < _MIN_PAIRS)
    correlation = covariance / jnp.sqrt(jnp.where(undefined, 1.0, var1 * var2))
    s = jnp.where(undefined, 0.0, 1.0 - jnp.minimum(jnp.abs(correlation), 1.0))
    return s.T


def active_dimensions(codes: jax.Array, threshold: float = INACTIVE_STD) -> jax.Array:
    """bool [d]: std (ddof=1) over samples codes [N, d] is at least `threshold`."""
    codes = codes.astype(jnp.float32)
    return jnp.std(codes, axis=0, ddof=1) >= threshold


def omes_from_association(
    s: jax.Array, active: jax.Array, measured: jax.Array
) -> dict[str, jax.Array]:
    """OS, MES and OMES for all alphas and both poolings from S.

    Args:
      s: float [d, F] association matrix (rows of inactive dims are ignored).
      active: bool [d] active dimensions.
      measured: bool [F] FoVs with measurable pairs.

    Returns:
      dict with `omes` [2, A] (pooling x alpha, mean over measured FoVs),
      `omes_per_fov` [2, A, F], `os` [2, F], `mes` [2, F], `os_per_dim` [d, F]
      (unweighted os_h(j), 0 for inactive h) and `best_dim` int32 [F] (-1 if none).
      Pooling order is POOLINGS, alpha order ALPHAS.
    """
    s = jnp.where(active[:, None], s, 0.0)
    num_factors = s.shape[1]
    num_active = jnp.maximum(active.sum(), 1)
    # |e_j[j'] - S[h, j']| summed over j' is rowsum - S[h, j] + (1 - S[h, j]) (S in [0, 1]).
    row_sum = s.sum(axis=1, keepdims=True)
    col_sum = s.sum(axis=0, keepdims=True)
    os_dim = 1.0 - (row_sum + 1.0 - 2.0 * s) / num_factors
    mes_dim = 1.0 - (col_sum + 1.0 - 2.0 * s) / num_active
    os_dim = jnp.where(active[:, None], os_dim, 0.0)
    mes_dim = jnp.where(active[:, None], mes_dim, 0.0)

    def pool(score):  # score [d, F], weights S -> [2, F]
        weighted = score * s
        total = s.sum(axis=0)
        average = jnp.where(
            total > 0, (weighted * s).sum(axis=0) / jnp.where(total > 0, total, 1), 0
        )
        return jnp.stack([weighted.max(axis=0), average])

    os_pooled, mes_pooled = pool(os_dim), pool(mes_dim)
    alphas = jnp.asarray(ALPHAS, jnp.float32)[None, :, None]
    per_fov = alphas * os_pooled[:, None, :] + (1.0 - alphas) * mes_pooled[:, None, :]
    weights = measured.astype(jnp.float32)
    mean = (per_fov * weights).sum(axis=-1) / jnp.maximum(weights.sum(), 1.0)
    best = jnp.argmax(os_dim, axis=0).astype(jnp.int32)
    best_value = jnp.take_along_axis(os_dim, best[None], axis=0)[0]
    has_best = measured & ~jnp.isclose(best_value, 0.0, atol=1e-8)
    return {
        "omes": mean,
        "omes_per_fov": per_fov,
        "os": os_pooled,
        "mes": mes_pooled,
        "os_per_dim": os_dim,
        "best_dim": jnp.where(has_best, best, -1),
    }


@functools.partial(jax.jit, static_argnames=("inactive_threshold",))
def omes_from_pair_codes(
    z1: jax.Array,
    z2: jax.Array,
    valid: jax.Array,
    sample_codes: jax.Array,
    inactive_threshold: float = INACTIVE_STD,
) -> dict[str, jax.Array]:
    """OMES of one model from the codes of its pairs.

    Args:
      z1, z2: float [F, P, d] codes of each pair's members.
      valid: bool [F, P] real pairs (the rest is padding).
      sample_codes: float [N, d] codes of random samples, for the inactive test.
      inactive_threshold: std below which a dimension is inactive.

    Returns:
      `omes_from_association`'s dict plus `association` [d, F] (S before removing
      inactive rows), `active` bool [d], `measured` bool [F], `n_pairs` int32 [F].
      vmap it (or call `omes_arrays`) for a leading model axis.
    """
    s = association_matrix(z1, z2, valid)
    active = active_dimensions(sample_codes, inactive_threshold)
    n_pairs = valid.sum(axis=1).astype(jnp.int32)
    measured = n_pairs >= _MIN_PAIRS
    result = omes_from_association(s, active, measured)
    return result | {"association": s, "active": active, "measured": measured, "n_pairs": n_pairs}


@functools.partial(jax.jit, static_argnames=("inactive_threshold",))
def _omes_mined(codes, index, valid, inactive_threshold):
    """codes [M, N, d], index int [F, P, 2], valid [F, P] -> results with a leading M axis."""
    num_models, num_samples, latent_dim = codes.shape
    # Models side by side as columns: one row gather serves all M models.
    columns = codes.transpose(1, 0, 2).reshape(num_samples, num_models * latent_dim)
    s = association_matrix(columns[index[..., 0]], columns[index[..., 1]], valid)
    s = s.reshape(num_models, latent_dim, -1)
    active = active_dimensions(columns, inactive_threshold).reshape(num_models, latent_dim)
    n_pairs = valid.sum(axis=1).astype(jnp.int32)
    measured = n_pairs >= _MIN_PAIRS
    result = jax.vmap(omes_from_association, in_axes=(0, 0, None))(s, active, measured)
    repeat = functools.partial(jnp.broadcast_to, shape=(num_models, *measured.shape))
    return result | {
        "association": s,
        "active": active,
        "measured": repeat(measured),
        "n_pairs": repeat(n_pairs),
    }


def omes_arrays(
    codes: Any,
    labels: Any,
    *,
    max_pairs_per_fov: int = pair_lib.MAX_PAIRS_PER_FOV,
    seed: int = 0,
    inactive_threshold: float = INACTIVE_STD,
) -> dict[str, np.ndarray]:
    """OMES of M models sharing one labelled sample, pairs mined from the labels.

    Args:
      codes: float [M, N, d] (or [N, d] for one model) representations.
      labels: int [N, F] FoV classes of the samples.

    Returns:
      `omes_from_pair_codes`'s dict as numpy arrays with a leading M axis.
    """
    codes, labels = info.check_codes_factors(codes, labels, model_axis=True)
    batched = codes[None] if codes.ndim == 2 else codes
    index, valid = pair_lib.pad_pairs(
        pair_lib.mine_pairs(labels, max_pairs_per_fov=max_pairs_per_fov, seed=seed)
    )
    result = _omes_mined(jnp.asarray(batched, jnp.float32), index, valid, inactive_threshold)
    return jax.tree.map(np.asarray, result)


def omes(
    codes: Any,
    labels: Any,
    factor_names: Sequence[str] | None = None,
    *,
    max_pairs_per_fov: int = pair_lib.MAX_PAIRS_PER_FOV,
    seed: int = 0,
    inactive_threshold: float = INACTIVE_STD,
) -> dict[str, Any] | list[dict[str, Any]]:
    """OMES of representations on numpy arrays, in the OMES job's JSON layout.

    A code that is its labels, every state of a 10 x 20 grid once:

    >>> import numpy as np
    >>> grid = np.meshgrid(np.arange(10), np.arange(20), indexing="ij")
    >>> labels = np.stack(grid, -1).reshape(-1, 2)
    >>> report = omes(labels.astype(np.float32), labels, ["a", "b"])
    >>> report["association"], round(report["max"]["0.5"], 3)
    ({'a': 0, 'b': 1}, 0.876)

    (Below 1: paired classes are anti-correlated, module docstring.)

    Args:
      codes: float [N, d] or [M, N, d] representations.
      labels: int [N, F] FoV classes (integral floats such as 9.0 are accepted).
      factor_names: F names (default `fov0`, `fov1`, ...).
      max_pairs_per_fov, seed, inactive_threshold: as in `omes_arrays`.

    Returns:
      A dict per model (a list of them for [M, N, d]); see `omes_report`.
    """
    result = omes_arrays(
        codes,
        labels,
        max_pairs_per_fov=max_pairs_per_fov,
        seed=seed,
        inactive_threshold=inactive_threshold,
    )
    num_factors = result["association"].shape[-1]
    names = list(factor_names) if factor_names else [f"fov{j}" for j in range(num_factors)]
    if len(names) != num_factors:
        raise ValueError(f"Got {len(names)} factor names for {num_factors} FoVs: {names}.")
    reports = [
        omes_report(jax.tree.map(lambda a, m=m: a[m], result), names)
        for m in range(len(result["omes"]))
    ]
    return reports[0] if np.asarray(codes).ndim == 2 else reports


def omes_report(result: dict[str, np.ndarray], names: Sequence[str]) -> dict[str, Any]:
    """One model's arrays -> the OMES job's JSON layout (see README).

    Unmeasured FoVs are null; `association` gives original dimension indices.
    """
    measured = np.asarray(result["measured"])

    def per_fov(values):
        return {
            n: (float(v) if ok else None) for n, v, ok in zip(names, values, measured, strict=True)
        }

    def alpha_key(alpha):
        return f"{alpha:.1f}"

    report = {
        pooling: {alpha_key(a): float(result["omes"][p, i]) for i, a in enumerate(ALPHAS)}
        for p, pooling in enumerate(POOLINGS)
    }
    report["per_fov"] = {
        pooling: {alpha_key(a): per_fov(result["omes_per_fov"][p, i]) for i, a in enumerate(ALPHAS)}
        for p, pooling in enumerate(POOLINGS)
    }
    report["os"] = {pooling: per_fov(result["os"][p]) for p, pooling in enumerate(POOLINGS)}
    report["mes"] = {pooling: per_fov(result["mes"][p]) for p, pooling in enumerate(POOLINGS)}
    report["association"] = {
        n: (int(b) if b >= 0 else None) for n, b in zip(names, result["best_dim"], strict=True)
    }
    report["inactive"] = [int(h) for h in np.flatnonzero(~np.asarray(result["active"]))]
    report["n_pairs"] = {n: int(c) for n, c in zip(names, result["n_pairs"], strict=True)}
    return report
