"""Downstream explicitness: how well simple classifiers read each FoV off the codes.

SPEC section 2 / the paper's tables: per FoV, a gradient-boosted tree classifier
(`GradientBoostingClassifier()`, sklearn defaults as in DCI) and an MLP
(`MLPClassifier(hidden_layer_sizes=(256, 256))`, otherwise sklearn defaults:
ReLU, Adam, lr 1e-3, at most 200 epochs, raw codes as input), trained on the
caller's training split (10,000 samples) and scored by accuracy on the test split
(5,000). Each runs on the full representation and "pruned" to chosen dimensions:
* `pruning="per_fov"` (the paper): FoV j sees only `dims_per_fov[j]`, its
  OMES-best dimension(s);
* `pruning="union"` (the reference code): every FoV sees the union of all FoVs'
  `dims_per_fov` lists.
A FoV whose pruned set is empty (OMES associated no dimension) gets null, and the
mean ("all" in the paper's tables) is over the FoVs that have a value.

All (classifier, FoV, full/pruned) fits run in parallel (joblib). The full-code
GBTs are the same models DCI fits: pass `gbts=dci.fit_gbts(...)` to reuse them.

`gbt_backend="hist"` swaps in `HistGradientBoostingClassifier(max_iter=100,
learning_rate=0.1, max_depth=3, max_leaf_nodes=None, min_samples_leaf=1,
early_stopping=False)`: the exact GBT's boosting schedule, tree depth and leaf
size on features binned into 255 quantiles (and a Newton leaf update). Measured
by benchmarks/bench_metrics.py (Shapes3D-sized FoVs, 10,000 / 5,000 samples, noisy
linear mixture codes, d = 10, 2 cores): 15x faster (29 s against 453 s for full +
pruned), and not the same numbers: test accuracy higher by +0.005 to +0.032 per FoV
(mean 0.496 against 0.478) on the full codes, +0.004 to +0.022 (0.259 against
0.248) pruned. It has no feature importances, so DCI always uses the exact GBT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import joblib
import numpy as np
from numpy.typing import ArrayLike
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier

from drl_jax.metrics import info

CLASSIFIERS = ("gbt", "mlp")
PRUNINGS = ("per_fov", "union")
GBT_BACKENDS = ("exact", "hist")


def _classifier(kind: str, gbt_backend: str, seed: int):
    if kind == "mlp":
        return MLPClassifier(hidden_layer_sizes=(256, 256), random_state=seed)
    if gbt_backend == "hist":
        return HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.1,
            max_depth=3,
            max_leaf_nodes=None,
            min_samples_leaf=1,
            early_stopping=False,
            random_state=seed,
        )
    return GradientBoostingClassifier(random_state=seed)


def _fit_accuracy(
    model, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> float:
    """Test accuracy of `model` fitted on train (codes [N, k], labels [N])."""
    model.fit(*train)
    return float(np.mean(model.predict(test[0]) == test[1]))


def pruned_dims(
    dims_per_fov: Mapping[int, Sequence[int]], num_codes: int, num_factors: int, pruning: str
) -> list[list[int]]:
    """The sorted dimensions each of the F FoVs sees; a FoV missing from the dict has none."""
    if pruning not in PRUNINGS:
        raise ValueError(f"pruning must be one of {PRUNINGS}, got {pruning!r}.")
    bad = {
        j: list(dims)
        for j, dims in dims_per_fov.items()
        if not 0 <= j < num_factors or any(not 0 <= h < num_codes for h in dims)
    }
    if bad:
        raise ValueError(
            f"dims_per_fov maps FoV indices in [0, {num_factors}) to dimensions in "
            f"[0, {num_codes}); out of range: {bad}."
        )
    own = [sorted({int(h) for h in dims_per_fov.get(j, ())}) for j in range(num_factors)]
    if pruning == "per_fov":
        return own
    return [sorted(set().union(*own))] * num_factors


def downstream(
    codes_train: ArrayLike,
    factors_train: ArrayLike,
    codes_test: ArrayLike,
    factors_test: ArrayLike,
    *,
    dims_per_fov: Mapping[int, Sequence[int]] | None = None,
    pruning: str = "per_fov",
    classifiers: Sequence[str] = CLASSIFIERS,
    gbt_backend: str = "exact",
    seed: int = 0,
    n_jobs: int = -1,
    gbts: Sequence[GradientBoostingClassifier] | None = None,
) -> dict[str, float | list | None]:
    """Per-FoV test accuracy of GBT and MLP classifiers on full and pruned codes.

    Args:
      codes_train, factors_train: float [N, d], int [N, F] (10,000 samples in SPEC 2).
      codes_test, factors_test: float [M, d], int [M, F] (5,000 samples).
      dims_per_fov: FoV index -> dimensions (OMES's association); None: full only.
      pruning: "per_fov" (the paper) or "union" (the reference code).
      classifiers: a subset of ("gbt", "mlp").
      gbt_backend: "exact" (GradientBoostingClassifier) or "hist" (see module docstring).
      seed: `random_state` of every classifier.
      n_jobs: joblib workers (-1: all cores).
      gbts: F exact GBTs already fitted on (codes_train, factors_train) with this
        seed, e.g. `dci.fit_gbts`'s; they give `gbt_full` without refitting.

    Returns:
      For each classifier k and variant v in ("full", "pruned" if dims_per_fov is
      given): `{k}_{v}_per_fov` (F accuracies, null where the pruned set is empty)
      and `{k}_{v}` (their mean, null if none); `pruned_dims` [F][*] when pruned.
    """
    train = info.check_codes_factors(codes_train, factors_train, "codes_train")
    test = info.check_codes_factors(codes_test, factors_test, "codes_test")
    info.check_split(train, test)
    num_codes, num_factors = train[0].shape[1], train[1].shape[1]
    if not set(classifiers) <= set(CLASSIFIERS) or gbt_backend not in GBT_BACKENDS:
        raise ValueError(
            f"classifiers must be a subset of {CLASSIFIERS} and gbt_backend one of "
            f"{GBT_BACKENDS}, got {tuple(classifiers)} and {gbt_backend!r}."
        )
    if gbts is not None and (
        gbt_backend != "exact"
        or len(gbts) != num_factors
        or any(m.n_features_in_ != num_codes for m in gbts)
    ):
        raise ValueError(
            f"gbts must be {num_factors} exact GBTs fitted on {num_codes} dimensions, got "
            f"{len(gbts)} fitted on {[m.n_features_in_ for m in gbts]} (backend {gbt_backend!r})."
        )
    variants = {"full": [list(range(num_codes))] * num_factors}
    if dims_per_fov is not None:
        variants["pruned"] = pruned_dims(dims_per_fov, num_codes, num_factors, pruning)
    fits = {
        (kind, variant, j): joblib.delayed(_fit_accuracy)(
            _classifier(kind, gbt_backend, seed),
            (train[0][:, dims], train[1][:, j]),
            (test[0][:, dims], test[1][:, j]),
        )
        for kind in classifiers
        for variant, dims_of in variants.items()
        for j, dims in enumerate(dims_of)
        if dims and not (gbts is not None and kind == "gbt" and variant == "full")
    }
    accuracy = dict(zip(fits, joblib.Parallel(n_jobs=n_jobs)(fits.values()), strict=True))
    if gbts is not None and "gbt" in classifiers:
        for j, model in enumerate(gbts):
            accuracy["gbt", "full", j] = float(np.mean(model.predict(test[0]) == test[1][:, j]))
    result: dict[str, float | list | None] = {}
    for kind in classifiers:
        for variant in variants:
            per_fov = [accuracy.get((kind, variant, j)) for j in range(num_factors)]
            present = [a for a in per_fov if a is not None]
            result[f"{kind}_{variant}_per_fov"] = per_fov
            result[f"{kind}_{variant}"] = float(np.mean(present)) if present else None
    if "pruned" in variants:
        result["pruned_dims"] = variants["pruned"]
    return result
