"""UDR: Unsupervised Disentanglement Ranking, as disentanglement_lib's `udr_sklearn`.

References: S. Duan, L. Matthey, A. Saraiva, N. Watters, C. P. Burgess,
A. Lerchner and I. Higgins, "Unsupervised Model Selection for Variational
Disentangled Representation Learning", ICLR 2020, arXiv:1905.12614,
as disentanglement_lib's `evaluation/udr/metrics/udr.py` (`compute_udr_sklearn`).

M models encode the same N inputs. Each model's codes are standardised (zero
mean, unit std), and dimensions whose mean KL to the prior is at most 0.01 are
set to 0. For every ordered pair of models (i, j), a similarity matrix
R [d, d] relates dimension a of model i to dimension b of model j:
* `correlation="lasso"`: R[a, b] = |w_ba|, the coefficients of a Lasso
  regression (alpha 0.1, with intercept; sklearn's objective
  ||y - X w||^2 / (2N) + alpha ||w||_1) of model j's dimension b on all of
  model i's dimensions;
* `correlation="spearman"`: R[a, b] = |Spearman rank correlation| (ties get
  average ranks).
Rows and columns of dimensions with KL at most `kl_threshold` are removed, and
the pair scores the relative strength
  (mean_b max_a R_ab^2 / sum_a R_ab + mean_a max_b R_ab^2 / sum_b R_ab) / 2,
where a 0/0 (a row or column of zeros) or NaN counts 0. Model i's UDR is the
median of the scores of the pairs (k, i), k != i.

Quirks of disentanglement_lib kept:
* two KL thresholds: dimensions are zeroed at KL <= 0.01 whatever
  `kl_threshold` is, and dropped at KL <= `kl_threshold`; with a threshold
  below 0.01, the zeroed dimensions that stay have Lasso weights 0 (lowering
  the score) or, for Spearman, a NaN correlation (a constant column), which
  makes every row and column it enters count 0;
* model i's score is the median over the column `pairwise[:, i]`, the pairs
  where model i is the Lasso regression's target (the two directions are equal
  for Spearman);
* `pairwise` has 0 on its diagonal (no pair is scored).
Departures: a pair where either model keeps no dimension scores 0
(disentanglement_lib raises); the computation is float32.

The Lasso solutions are found by cyclic coordinate descent, as sklearn's, on the
standardised codes' correlation matrix (the Gram form of the same problem),
for all M^2 pairs and d targets at once, each stopped once its largest
coordinate change in an epoch is at most 1e-5 of its largest coefficient: a
tighter solution than sklearn's (duality gap 1e-4 ||y||^2), so both are the
same optimum up to sklearn's tolerance. Spearman is Pearson correlation of the
average ranks; both variants compute one correlation matrix of all M d
dimensions in one jitted computation.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

CORRELATIONS = ("lasso", "spearman")
KL_THRESHOLD = 0.01
LASSO_ALPHA = 0.1
# disentanglement_lib zeroes dimensions with KL <= 0.01 whatever its filter threshold.
_ZERO_KL = 0.01
_LASSO_TOL = 1e-5
_LASSO_MAX_EPOCHS = 1000
_TARGET_BLOCK = 16  # target models solved together (their weights fit in cache)
_HIGHEST = jax.lax.Precision.HIGHEST


def _order_key(x: jax.Array) -> jax.Array:
    """float32 -> int32 with the same order (and -0.0 equal to 0.0), so sorts compare ints."""
    bits = jax.lax.bitcast_convert_type(jnp.where(x == 0, 0.0, x).astype(jnp.float32), jnp.int32)
    return bits ^ ((bits >> 31) & 0x7FFFFFFF)


def average_ranks(x: jax.Array) -> jax.Array:
    """Ranks 1..N along the last axis, ties sharing their average rank: [..., N] -> float32.

    As `scipy.stats.rankdata(method="average")`: a value whose tie group occupies
    sorted positions first..last ranks (first + last) / 2 + 1. `first` is found by
    a binary search in the sorted values, `last` by a running minimum over them:
    one single-operand sort of integer keys and log2(N) gathers, several times
    faster on CPU than an argsort and its inverse permutation. Subnormal values
    tie with 0 (XLA flushes them).
    """
    n, axis = x.shape[-1], x.ndim - 1
    key = _order_key(x)
    ordered = jax.lax.sort(key, dimension=axis, is_stable=False)
    index = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), x.shape)
    ends_group = jnp.concatenate(
        [ordered[..., 1:] != ordered[..., :-1], jnp.ones(x.shape[:-1] + (1,), bool)], axis=-1
    )
    last = jax.lax.cummin(jnp.where(ends_group, index, n - 1), axis=axis, reverse=True)

    def bisect(_, bounds):  # [low, high) brackets the number of values < key
        low, high = bounds
        middle = (low + high) // 2
        less = jnp.take_along_axis(ordered, jnp.minimum(middle, n - 1), axis=-1) < key
        still = low < high
        return jnp.where(still & less, middle + 1, low), jnp.where(still & ~less, middle, high)

    steps = int(np.ceil(np.log2(n + 1)))
    first, _ = jax.lax.fori_loop(0, steps, bisect, (jnp.zeros_like(index), jnp.full_like(index, n)))
    last = jnp.take_along_axis(last, first, axis=-1)
    return (first + last).astype(jnp.float32) / 2 + 1


def _lasso_strength(correlation: jax.Array) -> jax.Array:
    """|Lasso coefficients| of all ordered pairs, by cyclic coordinate descent in Gram form.

    For standardised X (model i) and y (one dimension of model j), sklearn's Lasso
    objective divided by N is w' G w / 2 - w' c + LASSO_ALPHA ||w||_1 + const, with
    G = X' X / N (model i's correlation matrix) and c = X' y / N. Each (i, j, b)
    is one problem; those of a block of target models j are updated together,
    feature by feature, and each stops changing once converged.

    Args:
      correlation: float32 [M, d, M, d] (i, a, j, b) correlations of the
        standardised codes (0 for zeroed or constant dimensions).

    Returns:
      float32 [M, M, d, d] (i, j, a, b): |weight of i's dimension a for j's b|.
    """
    num_models, num_dims = correlation.shape[:2]
    index = jnp.arange(num_models)
    gram = correlation[index, :, index, :]  # [M, d, d]
    # Features first, then model i, then all targets (j, b): each step reads one slice.
    cross = jnp.transpose(correlation, (1, 0, 2, 3)).reshape(num_dims, num_models, -1)
    diagonal = jnp.diagonal(gram, axis1=1, axis2=2)  # [M, d]
    defined = diagonal > 0
    safe = jnp.where(defined, diagonal, 1.0)

    def solve(cross: jax.Array) -> jax.Array:
        """The weights [d, M, P] of the P problems (targets) of `cross` [d, M, P]."""

        def feature_step(f, carry):
            weights, active, change, largest = carry
            old = weights[f]  # [M, P]
            # X_f' (R + w_f X_f) / N = c_f - sum_k G_fk w_k + G_ff w_f.
            tmp = (
                cross[f]
                - jnp.einsum("ik,kip->ip", gram[:, f, :], weights, precision=_HIGHEST)
                + diagonal[:, f, None] * old
            )
            new = jnp.sign(tmp) * jnp.maximum(jnp.abs(tmp) - LASSO_ALPHA, 0.0) / safe[:, f, None]
            new = jnp.where(defined[:, f, None] & active, new, old)
            change, largest = (
                jnp.maximum(change, jnp.abs(new - old)),
                jnp.maximum(largest, jnp.abs(new)),
            )
            return weights.at[f].set(new), active, change, largest

        def epoch(state):
            weights, active, count = state
            zeros = jnp.zeros(active.shape, weights.dtype)
            weights, _, change, largest = jax.lax.fori_loop(
                0, num_dims, feature_step, (weights, active, zeros, zeros)
            )
            converged = (largest == 0) | (change <= _LASSO_TOL * largest)
            return weights, active & ~converged, count + 1

        def running(state):
            return jnp.any(state[1]) & (state[2] < _LASSO_MAX_EPOCHS)

        start = (jnp.zeros(cross.shape, jnp.float32), jnp.ones(cross.shape[1:], bool), 0)
        return jax.lax.while_loop(running, epoch, start)[0]

    # Target models in blocks whose weights stay in cache; every problem stops on its own,
    # so blocking changes no number. Padded targets are zero problems, converged at once.
    block = min(num_models, _TARGET_BLOCK)
    num_blocks = -(-num_models // block)
    padded = jnp.pad(cross, ((0, 0), (0, 0), (0, (num_blocks * block - num_models) * num_dims)))
    blocks = padded.reshape(num_dims, num_models, num_blocks, block * num_dims)
    weights = jax.lax.map(solve, jnp.transpose(blocks, (2, 0, 1, 3)))  # [blocks, d, M, P]
    weights = jnp.transpose(weights, (1, 2, 0, 3)).reshape(num_dims, num_models, -1)
    weights = weights[:, :, : num_models * num_dims]
    weights = weights.reshape(num_dims, num_models, num_models, num_dims)  # [a, i, j, b]
    return jnp.abs(jnp.transpose(weights, (1, 2, 0, 3)))


def _relative_strength(strength: jax.Array, kept: jax.Array) -> jax.Array:
    """Pair scores [M, M] of similarity matrices [M, M, d, d] (i, j, a, b) over kept dims."""
    rows, cols = kept[:, None, :, None], kept[None, :, None, :]
    masked = jnp.where(rows & cols, strength, 0.0)

    def ratio(axis):  # NaN (0/0 or a NaN entry) -> 0
        return jnp.nan_to_num(jnp.max(masked, axis=axis) ** 2 / jnp.sum(masked, axis=axis))

    count_i, count_j = kept.sum(axis=1)[:, None], kept.sum(axis=1)[None, :]
    score_x = jnp.sum(jnp.where(kept[None, :, :], ratio(2), 0.0), -1) / jnp.maximum(count_j, 1)
    score_y = jnp.sum(jnp.where(kept[:, None, :], ratio(3), 0.0), -1) / jnp.maximum(count_i, 1)
    return jnp.where((count_i > 0) & (count_j > 0), (score_x + score_y) / 2, 0.0)


@functools.partial(jax.jit, static_argnames="lasso")
def pairwise_scores(codes: jax.Array, zeroed: jax.Array, kept: jax.Array, lasso: bool) -> jax.Array:
    """UDR pair scores of all ordered pairs of models, in one jitted computation.

    Args:
      codes: float [M, N, d] the models' codes of the same N inputs.
      zeroed: bool [M, d] dimensions set to 0 after standardising.
      kept: bool [M, d] dimensions kept in the similarity matrices.
      lasso: Lasso (True) or Spearman (False) similarity.

    Returns:
      float32 [M, M] relative-strength scores (the diagonal is a model with itself).
    """
    num_models, num_samples, num_dims = codes.shape
    x = jnp.transpose(codes.astype(jnp.float32), (0, 2, 1))  # [M, d, N]
    constant = (x.max(axis=-1) == x.min(axis=-1)) | zeroed  # [M, d]
    if lasso:
        centred = x - x.mean(axis=-1, keepdims=True)
    else:  # Average ranks sum to N (N + 1) / 2: centred exactly.
        centred = average_ranks(x) - (num_samples + 1) / 2
    centred = jnp.where(constant[..., None], 0.0, centred)
    norm = jnp.sqrt(jnp.sum(centred**2, axis=-1, keepdims=True))
    unit = (centred / jnp.where(norm > 0, norm, 1.0)).reshape(num_models * num_dims, num_samples)
    correlation = jnp.matmul(unit, unit.T, precision=_HIGHEST)
    correlation = correlation.reshape(num_models, num_dims, num_models, num_dims)  # [i, a, j, b]
    if lasso:
        strength = _lasso_strength(correlation)
    else:  # scipy's Spearman of a constant column is NaN.
        undefined = constant[:, None, :, None] | constant[None, :, None, :]
        strength = jnp.where(undefined, jnp.nan, jnp.abs(jnp.transpose(correlation, (0, 2, 1, 3))))
    return _relative_strength(strength, kept)


def udr(
    codes: ArrayLike,
    kl: ArrayLike,
    *,
    correlation: str = "lasso",
    kl_threshold: float = KL_THRESHOLD,
) -> dict[str, list]:
    """Unsupervised Disentanglement Ranking of M models from their codes of the same inputs.

    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(1000, 3))
    >>> mixed = z @ np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> models = np.stack([z, -z[:, ::-1], 2 * z[:, [1, 0, 2]], mixed])  # [M=4, N, d=3]
    >>> [round(score, 2) for score in udr(models, np.ones((4, 3)))["model_scores"]]
    [0.9, 0.9, 0.9, 0.51]

    Args:
      codes: float [M, N, d] each model's mean codes of the same N inputs (M >= 2;
        1,000 inputs in disentanglement_lib's tests).
      kl: float [M, d] each dimension's mean KL divergence to the prior (nats).
      correlation: "lasso" or "spearman".
      kl_threshold: dimensions with KL at most this are left out of the scores.

    Returns:
      `model_scores`: M UDR scores in [0, 1] (the median of `pairwise[:, i]` off
      the diagonal); `pairwise`: [M][M] pair scores, row i the regressors' model
      (0 on the diagonal); `num_kept_dims`: M counts of dimensions above
      `kl_threshold`.
    """
    codes, kl = np.asarray(codes), np.asarray(kl)
    if codes.ndim != 3 or kl.shape != (codes.shape[0], codes.shape[2]):
        raise ValueError(
            f"codes must be [M, N, d] and kl [M, d] with the same M and d, got codes "
            f"{codes.shape} and kl {kl.shape}."
        )
    if codes.shape[0] < 2 or codes.shape[1] < 2 or codes.shape[2] < 1:
        raise ValueError(
            f"UDR needs at least 2 models, 2 samples and 1 dimension, got codes {codes.shape}."
        )
    for name, value in (("codes", codes), ("kl", kl)):
        if value.dtype.kind not in "biuf" or not np.all(np.isfinite(value)):
            raise ValueError(f"{name} {value.shape} must be finite numbers.")
    if correlation not in CORRELATIONS:
        raise ValueError(f"correlation must be one of {CORRELATIONS}, got {correlation!r}.")
    kept = kl > kl_threshold
    pairwise = np.asarray(
        pairwise_scores(
            codes.astype(np.float32), kl <= _ZERO_KL, kept, lasso=correlation == "lasso"
        ),
        np.float64,
    )
    np.fill_diagonal(pairwise, 0.0)
    num_models = len(pairwise)
    others = pairwise.T[~np.eye(num_models, dtype=bool)].reshape(num_models, num_models - 1)
    return {
        "model_scores": np.median(others, axis=1).tolist(),
        "pairwise": pairwise.tolist(),
        "num_kept_dims": kept.sum(axis=1).tolist(),
    }
