"""Downstream explicitness: how well simple classifiers read each FoV off the codes.

docs/method.md#downstream-classifiers / the paper's tables: per FoV, a gradient-boosted tree
classifier (`GradientBoostingClassifier()`, sklearn defaults as in DCI) and an MLP
(`MLPClassifier(hidden_layer_sizes=(256, 256))`, otherwise sklearn defaults:
ReLU, Adam, lr 1e-3, at most 200 epochs, raw codes as input, in float32: the
representations' precision, and cheaper than float64), trained on the
caller's training split (10,000 samples) and scored by accuracy on the test split
(5,000). Each runs on the full representation and "pruned" to chosen dimensions:
* `pruning="per_fov"` (the paper): FoV j sees only `dims_per_fov[j]`, its
  OMES-best dimension(s);
* `pruning="union"` (the reference code): every FoV sees the union of all FoVs'
  `dims_per_fov` lists.
A FoV whose pruned set is empty (OMES associated no dimension) gets null, and the
mean ("all" in the paper's tables) is over the FoVs that have a value.

All sklearn/lightgbm (classifier, FoV, full/pruned) fits run in parallel (joblib).
The full-code GBTs are the same models DCI fits: pass `gbts=dci.fit_gbts(...)` (of
the same backend) to reuse them.

Faster backends (the exact ones stay the default; their numbers differ, so compare
scores only within one backend):
* `gbt_backend="lightgbm"`: dci.py's LightGBM GBTs (settings and caveats there).
* `mlp_backend="jax"`: sklearn's MLP rewritten in JAX, every net of a model in one
  jitted program (mlp.py: what it mirrors and where it departs).
* `mlp_backend="auto"`: "jax" where JAX's default backend is an accelerator (GPU, TPU),
  "sklearn" on CPU, where sklearn's is the faster (`resolve_mlp_backend`).

Measured agreement with the exact backends and speed: README, "The metric suite"
(benchmarks/bench_metrics.py). On CPU the jax MLP is slower than sklearn's: where
sklearn stops nets one by one, the program runs until the slowest stops.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import jax
import joblib
import numpy as np
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from drl_jax.metrics import _dci as dci
from drl_jax.metrics import info, mlp

CLASSIFIERS = ("gbt", "mlp")
PRUNINGS = ("per_fov", "union")
GBT_BACKENDS = tuple(dci.GBT_BACKENDS)
MLP_BACKENDS = ("auto", "sklearn", "jax")
# JAX default backends on which mlp_backend="auto" picks the jax MLP.
ACCELERATOR_BACKENDS = ("gpu", "tpu")


def _classifier(kind: str, gbt_backend: str, seed: int, num_samples: int):
    if kind == "mlp":
        return MLPClassifier(hidden_layer_sizes=(mlp.HIDDEN, mlp.HIDDEN), random_state=seed)
    return dci.gbt_classifier(gbt_backend, seed, num_samples)


def resolve_mlp_backend(name: str) -> str:
    """The MLP backend that mlp_backend=`name` runs: "auto" is "jax" when
    `jax.default_backend()` is an accelerator's (ACCELERATOR_BACKENDS), else "sklearn"
    (on CPU sklearn's nets, stopped one by one, are the faster); the others are themselves.
    """
    if name not in MLP_BACKENDS:
        raise ValueError(f"mlp_backend must be one of {MLP_BACKENDS}, got {name!r}.")
    if name == "auto":
        return "jax" if jax.default_backend() in ACCELERATOR_BACKENDS else "sklearn"
    return name


def _fit_accuracy(
    model, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> float:
    """Test accuracy of `model` fitted on train (codes [N, k], labels [N]).

    sklearn's MLP stopping at its 200-epoch cap is the paper's setting, not a problem to report.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
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
    mlp_backend: str = "sklearn",
    seed: int = 0,
    n_jobs: int = -1,
    gbts: Sequence[dci.GBT] | None = None,
    mlp_accuracy: Mapping[tuple[str, str, int], float] | None = None,
) -> dict[str, float | list | None]:
    """Per-FoV test accuracy of GBT and MLP classifiers on full and pruned codes.

    Args:
      codes_train, factors_train: float [N, d], int [N, F] (10,000 samples by default).
      codes_test, factors_test: float [M, d], int [M, F] (5,000 samples).
      dims_per_fov: FoV index -> dimensions (OMES's association); None: full only.
      pruning: "per_fov" (the paper) or "union" (the reference code).
      classifiers: a subset of ("gbt", "mlp").
      gbt_backend: "exact" (GradientBoostingClassifier) or "lightgbm" (see dci.py).
      mlp_backend: "sklearn" (MLPClassifier), "jax" or "auto" (see module docstring).
      seed: `random_state` of every classifier (the jax MLPs' PRNG key).
      n_jobs: joblib workers (-1: all cores).
      gbts: F GBTs of `gbt_backend` ("exact" or "lightgbm") already fitted on
        (codes_train, factors_train) with this seed, e.g. `dci.fit_gbts`'s; they give
        `gbt_full` without refitting.
      mlp_accuracy: the jax MLPs' test accuracies ("mlp", variant, j) -> float already
        computed on these codes, e.g. by `mlp.mlp_accuracy_models` for many models in one
        program, on the nets of `mlp_nets`; used where mlp_backend resolves to "jax".

    Returns:
      For each classifier k and variant v in ("full", "pruned" if dims_per_fov is
      given): `{k}_{v}_per_fov` (F accuracies, null where the pruned set is empty)
      and `{k}_{v}` (their mean, null if none); `pruned_dims` [F][*] when pruned.
    """
    train = info.check_codes_factors(codes_train, factors_train, "codes_train")
    test = info.check_codes_factors(codes_test, factors_test, "codes_test")
    info.check_split(train, test)
    num_codes, num_factors = train[0].shape[1], train[1].shape[1]
    _check_backends(classifiers, gbt_backend, mlp_backend)
    mlp_backend = resolve_mlp_backend(mlp_backend)
    if gbts is not None:
        _check_gbts(gbts, gbt_backend, num_factors, num_codes)
    variants = _variants(num_codes, num_factors, dims_per_fov, pruning)
    accuracy = _sklearn_accuracies(
        train, test, variants, classifiers, gbt_backend, mlp_backend, seed, n_jobs, gbts
    )
    if "mlp" in classifiers and mlp_backend == "jax":
        nets = mlp_nets(num_codes, num_factors, dims_per_fov, pruning)
        if mlp_accuracy is None:
            mlp_accuracy = mlp.mlp_accuracy(train, test, nets, seed)
        elif set(mlp_accuracy) != {("mlp", *net) for net in nets}:
            raise ValueError(
                f"mlp_accuracy must hold the accuracies of the nets {sorted(nets)} "
                f"(mlp_nets), got {sorted(mlp_accuracy)}."
            )
        accuracy |= mlp_accuracy
    if gbts is not None and "gbt" in classifiers:
        for j, model in enumerate(gbts):
            accuracy["gbt", "full", j] = float(np.mean(model.predict(test[0]) == test[1][:, j]))
    return _summary(accuracy, classifiers, variants, num_factors)


def _variants(
    num_codes: int, num_factors: int, dims_per_fov: Mapping[int, Sequence[int]] | None, pruning
) -> dict[str, list[list[int]]]:
    """variant -> the dimensions each of the F FoVs sees: "full" all, "pruned" (when
    dims_per_fov is given) `pruned_dims`'."""
    variants = {"full": [list(range(num_codes))] * num_factors}
    if dims_per_fov is not None:
        variants["pruned"] = pruned_dims(dims_per_fov, num_codes, num_factors, pruning)
    return variants


def mlp_nets(
    num_codes: int,
    num_factors: int,
    dims_per_fov: Mapping[int, Sequence[int]] | None = None,
    pruning: str = "per_fov",
) -> dict[mlp.Net, list[int]]:
    """The MLPs `downstream` trains with these arguments: (variant, FoV j) -> the dimensions
    net reads (nets with none left out): `mlp.mlp_accuracy_models`' dims_of_net of one model."""
    return {
        (variant, j): dims
        for variant, dims_of in _variants(num_codes, num_factors, dims_per_fov, pruning).items()
        for j, dims in enumerate(dims_of)
        if dims
    }


def _check_backends(classifiers: Sequence[str], gbt_backend: str, mlp_backend: str) -> None:
    if (
        not set(classifiers) <= set(CLASSIFIERS)
        or gbt_backend not in GBT_BACKENDS
        or mlp_backend not in MLP_BACKENDS
    ):
        raise ValueError(
            f"classifiers must be a subset of {CLASSIFIERS}, gbt_backend one of "
            f"{GBT_BACKENDS} and mlp_backend one of {MLP_BACKENDS}, got "
            f"{tuple(classifiers)}, {gbt_backend!r} and {mlp_backend!r}."
        )


def _check_gbts(gbts: Sequence[dci.GBT], backend: str, num_factors: int, num_codes: int) -> None:
    """Raises ValueError unless gbts are num_factors fitted GBTs of `backend` on num_codes dims."""
    if (
        backend not in dci.GBT_BACKENDS
        or len(gbts) != num_factors
        or any(
            not isinstance(m, dci.GBT_BACKENDS[backend]) or m.n_features_in_ != num_codes
            for m in gbts
        )
    ):
        raise ValueError(
            f"gbts must be {num_factors} GBTs of gbt_backend {backend!r} (one of "
            f"{tuple(dci.GBT_BACKENDS)}) fitted on {num_codes} dimensions, got "
            f"{[type(m).__name__ for m in gbts]} fitted on {[m.n_features_in_ for m in gbts]}."
        )


def _sklearn_accuracies(
    train, test, variants, classifiers, gbt_backend, mlp_backend, seed, n_jobs, gbts
) -> dict[tuple[str, str, int], float]:
    """(classifier, variant, FoV) -> test accuracy of every fit sklearn or lightgbm runs
    (in parallel); fits given elsewhere (`gbts`, the jax MLPs) are left out."""
    fitted_elsewhere = {("gbt", "full")} if gbts is not None else set()
    if mlp_backend == "jax":
        fitted_elsewhere |= {("mlp", variant) for variant in variants}
    # sklearn's MLP computes in its input's precision: float32, as representations are.
    codes = {
        "gbt": (train[0], test[0]),
        "mlp": (train[0].astype(np.float32), test[0].astype(np.float32)),
    }
    fits = {
        (kind, variant, j): joblib.delayed(_fit_accuracy)(
            _classifier(kind, gbt_backend, seed, len(train[0])),
            (codes[kind][0][:, dims], train[1][:, j]),
            (codes[kind][1][:, dims], test[1][:, j]),
        )
        for kind in classifiers
        for variant, dims_of in variants.items()
        for j, dims in enumerate(dims_of)
        if dims and (kind, variant) not in fitted_elsewhere
    }
    return dict(zip(fits, joblib.Parallel(n_jobs=n_jobs)(fits.values()), strict=True))


def _summary(accuracy, classifiers, variants, num_factors) -> dict[str, float | list | None]:
    """Per-FoV lists and their means per (classifier, variant), and the pruned dims."""
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
