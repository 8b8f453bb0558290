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

All sklearn/lightgbm (classifier, FoV, full/pruned) fits run in parallel (joblib).
The full-code GBTs are the same models DCI fits: pass `gbts=dci.fit_gbts(...)` (of
the same backend) to reuse them.

Faster backends (the exact ones stay the default; their numbers differ, so compare
scores only within one backend):
* `gbt_backend="lightgbm"`: dci.py's LightGBM GBTs (settings and caveats there).
* `gbt_backend="hist"`: `HistGradientBoostingClassifier(max_iter=100,
  learning_rate=0.1, max_depth=3, max_leaf_nodes=None, min_samples_leaf=1,
  early_stopping=False)`, the exact GBT's schedule, depth and leaf size on features
  binned into 255 quantiles (Newton leaf update). It has no feature importances, so
  DCI keeps the exact GBTs and nothing is shared.
* `mlp_backend="jax"`: sklearn's MLPClassifier rewritten in JAX/optax: the same
  Glorot-uniform init, ReLU net, softmax cross-entropy plus alpha / 2 |W|^2 (alpha
  1e-4, weights only) per minibatch of 200, Adam (lr 1e-3), reshuffling every epoch,
  and the stopping rule on the epoch's mean training loss (tol 1e-4, n_iter_no_change
  10, at most 200 epochs); raw codes, as sklearn (no standardisation). Every net
  of a model (FoV x full/pruned) trains in one jitted program: vmapped over nets,
  pruned-away inputs zero-masked, classes padded to the largest FoV's and masked. It
  departs in float32, a 2-way softmax for 2-class FoVs (sklearn: one logistic unit),
  JAX random draws (one shuffle per epoch for all nets), optax's Adam epsilon (added
  to the bias-corrected sqrt(v); sklearn: uncorrected, a 1e-8-scale difference), and
  compute: the program runs until the slowest net stops (stopped nets keep their
  weights) and compiles once per shape (~7 s on CPU; included below).

Measured by benchmarks/bench_metrics.py (noisy linear mixture codes, d = 10, 2 shared
CPU cores). Seconds for full + pruned, exact or sklearn / backend; the exact and
lightgbm GBT seconds include DCI's fit, which they share, while with hist the suite
still fits DCI's exact GBTs. Mean test accuracy, exact or sklearn -> backend:

| FoV sizes (train / test)         | backend  | seconds    | full            | pruned          |
|----------------------------------|----------|------------|-----------------|-----------------|
| 10 10 10 8 4 15 (10,000 / 5,000) | lightgbm | 282 / 16   | 0.478 -> 0.487  | 0.248 -> 0.261  |
|                                  | hist     | 282 / 20   | 0.478 -> 0.496  | 0.248 -> 0.259  |
|                                  | jax MLP  | 275 / 252  | 0.727 -> 0.734  | 0.264 -> 0.260  |
| 3 6 40 32 32 (2,000 / 1,000)     | lightgbm | 119 / 14   | 0.454 -> 0.468  | 0.294 -> 0.298  |
|                                  | hist     | 119 / 12   | 0.454 -> 0.475  | 0.294 -> 0.295  |
|                                  | jax MLP  | 68 / 55    | 0.579 -> 0.580  | 0.308 -> 0.314  |

Per FoV, backend - exact or sklearn (full; pruned). Shapes3D sizes: lightgbm -0.003
to +0.022; +0.004 to +0.022. hist +0.005 to +0.032; +0.004 to +0.022. jax -0.002 to
+0.016; -0.008 to +0.003. dSprites sizes: lightgbm -0.001 to +0.028; -0.010 to +0.022.
hist +0.001 to +0.044; -0.018 to +0.016. jax -0.013 to +0.013; -0.008 to +0.036
(posX, 32 classes, 1,000 test samples). The lightgbm and hist pruned fits include ~5 s
of starting joblib's worker processes (the benchmark stops them after each row). On
CPU the jax MLP is barely faster: the float work is the same, and where sklearn stops
nets one by one the program runs until the slowest stops (3 of sklearn's 12 Shapes3D
nets reached 200 epochs). Its point is an accelerator, where it has not been measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import joblib
import numpy as np
import optax
from numpy.typing import ArrayLike
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier

from drl_jax.metrics import dci, info

CLASSIFIERS = ("gbt", "mlp")
PRUNINGS = ("per_fov", "union")
GBT_BACKENDS = (*dci.GBT_BACKENDS, "hist")
MLP_BACKENDS = ("sklearn", "jax")
# MLPClassifier(hidden_layer_sizes=(256, 256))'s settings, mirrored by the jax backend.
_HIDDEN = 256
_ALPHA, _LEARNING_RATE, _BATCH_SIZE = 1e-4, 1e-3, 200
_MAX_EPOCHS, _TOL, _NO_CHANGE_EPOCHS = 200, 1e-4, 10


def _classifier(kind: str, gbt_backend: str, seed: int):
    if kind == "mlp":
        return MLPClassifier(hidden_layer_sizes=(_HIDDEN, _HIDDEN), random_state=seed)
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
    return dci.gbt_classifier(gbt_backend, seed)


def _fit_accuracy(
    model, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> float:
    """Test accuracy of `model` fitted on train (codes [N, k], labels [N])."""
    model.fit(*train)
    return float(np.mean(model.predict(test[0]) == test[1]))


def _init_mlp(key: jax.Array, input_mask: jax.Array, class_mask: jax.Array) -> dict:
    """sklearn's Glorot-uniform init of one MLP: weights and biases in +-sqrt(6 / (in + out)).

    Args:
      key: PRNG key (the same for every classifier, as sklearn's `random_state=seed`).
      input_mask: float32 [d], 1 on the kept input dimensions (their count is fan-in).
      class_mask: bool [K], True on the FoV's classes (their count is fan-out).

    Returns:
      w1 [d, H], b1 [H], w2 [H, H], b2 [H], w3 [H, K], b3 [K] (H = 256), float32.
    """
    layers = (  # (rows, columns, fan-in + fan-out)
        (input_mask.shape[0], _HIDDEN, input_mask.sum() + _HIDDEN),
        (_HIDDEN, _HIDDEN, 2 * _HIDDEN),
        (_HIDDEN, class_mask.shape[0], _HIDDEN + class_mask.sum()),
    )
    params = {}
    for layer, (rows, cols, fans) in enumerate(layers, start=1):
        bound = jnp.sqrt(6.0 / fans)
        key_w, key_b = jax.random.split(jax.random.fold_in(key, layer))
        params[f"w{layer}"] = jax.random.uniform(key_w, (rows, cols), minval=-bound, maxval=bound)
        params[f"b{layer}"] = jax.random.uniform(key_b, (cols,), minval=-bound, maxval=bound)
    return params


def _masked(params: dict, input_mask: jax.Array, class_mask: jax.Array) -> dict:
    """The MLP's parameters with pruned-away input rows of w1 and padded class columns of
    w3 / b3 zeroed: they get no gradient and no L2 penalty, so the net is the one
    sklearn would fit on the kept dimensions and the FoV's classes alone."""
    return params | {
        "w1": params["w1"] * input_mask[:, None],
        "w3": params["w3"] * class_mask,
        "b3": params["b3"] * class_mask,
    }


def _logits(masked: dict, codes: jax.Array, class_mask: jax.Array) -> jax.Array:
    """Logits [B, K] of one MLP (`_masked` parameters) on codes [B, d]; -inf off its classes."""
    hidden = jax.nn.relu(codes @ masked["w1"] + masked["b1"])
    hidden = jax.nn.relu(hidden @ masked["w2"] + masked["b2"])
    return jnp.where(class_mask, hidden @ masked["w3"] + masked["b3"], -jnp.inf)


def _batch_loss(params, codes, labels, weight, input_mask, class_mask) -> jax.Array:
    """sklearn's minibatch loss of one MLP: mean cross-entropy + alpha / 2 |W|^2 / batch.

    Args:
      params: one net's, as `_init_mlp` returns; input_mask, class_mask: as there.
      codes: float32 [B, d]; labels: int32 [B] class indices; weight: float32 [B],
        0 on the padding of a short last batch (sklearn's batch is then smaller).

    Returns:
      float32 [] in nats.
    """
    masked = _masked(params, input_mask, class_mask)
    logits = _logits(masked, codes, class_mask)
    cross_entropy = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    penalty = sum(jnp.sum(masked[w] ** 2) for w in ("w1", "w2", "w3"))
    return (jnp.sum(weight * cross_entropy) + 0.5 * _ALPHA * penalty) / jnp.sum(weight)


@jax.jit
def _fit_predict_mlps(key, codes_train, labels, input_mask, class_mask, codes_test) -> jax.Array:
    """Trains C MLPs at once as sklearn's MLPClassifier would, then predicts the test codes.

    Adam (lr 1e-3) on shuffled minibatches of 200 (one permutation per epoch, shared
    by all C nets, as sklearn's `random_state=seed` shares it); a net stops after
    the epoch in which its mean training loss has failed to improve on its best by
    1e-4 for the 11th epoch in a row, or after 200 epochs. The loop runs until the
    last net stops; stopped nets keep their parameters.

    Args:
      key: PRNG key (init and shuffling).
      codes_train: float32 [N, d]; labels: int32 [N, C] class index of each net's target.
      input_mask: float32 [C, d] 1 on the dimensions net c sees; class_mask: bool [C, K].
      codes_test: float32 [M, d].

    Returns:
      int32 [C, M] predicted class indices.
    """
    num_samples = codes_train.shape[0]
    batch_size = min(_BATCH_SIZE, num_samples)
    num_batches = -(-num_samples // batch_size)
    padded = num_batches * batch_size
    weight = (jnp.arange(padded) < num_samples).astype(jnp.float32)
    weight = weight.reshape(num_batches, batch_size)
    init_key, shuffle_key = jax.random.split(key)
    params = jax.vmap(_init_mlp, in_axes=(None, 0, 0))(init_key, input_mask, class_mask)
    optimizer = optax.adam(_LEARNING_RATE)
    per_net_loss = jax.vmap(_batch_loss, in_axes=(0, None, 1, None, 0, 0))

    def total_loss(params, codes, labels, weight):
        losses = per_net_loss(params, codes, labels, weight, input_mask, class_mask)
        return jnp.sum(losses), losses

    def train_step(carry, batch):
        params, opt_state = carry
        index, weight = batch
        (_, losses), grads = jax.value_and_grad(total_loss, has_aux=True)(
            params, codes_train[index], labels[index], weight
        )
        updates, opt_state = optimizer.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), losses * jnp.sum(weight)

    def epoch(state):
        params, opt_state, step, best, stall, active = state
        order = jax.random.permutation(jax.random.fold_in(shuffle_key, step), num_samples)
        order = jnp.pad(order, (0, padded - num_samples)).reshape(num_batches, batch_size)
        (new_params, opt_state), losses = jax.lax.scan(
            train_step, (params, opt_state), (order, weight)
        )
        loss = jnp.sum(losses, axis=0) / num_samples
        stall = jnp.where(loss > best - _TOL, stall + 1, 0)
        params = jax.tree.map(
            lambda new, old: jnp.where(active.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
            new_params,
            params,
        )
        active = active & (stall <= _NO_CHANGE_EPOCHS)
        return params, opt_state, step + 1, jnp.minimum(best, loss), stall, active

    num_nets = input_mask.shape[0]
    state = (
        params,
        optimizer.init(params),
        0,
        jnp.full(num_nets, jnp.inf),
        jnp.zeros(num_nets, jnp.int32),
        jnp.ones(num_nets, bool),
    )
    params = jax.lax.while_loop(
        lambda state: (state[2] < _MAX_EPOCHS) & jnp.any(state[-1]), epoch, state
    )[0]
    masked = jax.vmap(_masked)(params, input_mask, class_mask)
    logits = jax.vmap(_logits, in_axes=(0, None, 0))(masked, codes_test, class_mask)
    return jnp.argmax(logits, axis=-1)


def _jax_mlp_accuracy(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    dims_of_net: Mapping[tuple[str, int], Sequence[int]],
    seed: int,
) -> dict[tuple[str, str, int], float]:
    """Test accuracy of the jax MLPs; dims_of_net maps each net (variant, FoV j) to its dims."""
    classes = [np.unique(labels) for labels in train[1].T]  # as sklearn's classes_
    nets = list(dims_of_net)
    input_mask = np.zeros((len(nets), train[0].shape[1]), np.float32)
    for c, net in enumerate(nets):
        input_mask[c, dims_of_net[net]] = 1.0
    num_classes = max(len(classes[j]) for _, j in nets)
    class_mask = np.stack([np.arange(num_classes) < len(classes[j]) for _, j in nets])
    labels = np.stack([np.searchsorted(classes[j], train[1][:, j]) for _, j in nets], axis=1)
    predicted = np.asarray(
        _fit_predict_mlps(
            jax.random.key(seed),
            jnp.asarray(train[0], jnp.float32),
            jnp.asarray(labels, jnp.int32),
            jnp.asarray(input_mask),
            jnp.asarray(class_mask),
            jnp.asarray(test[0], jnp.float32),
        )
    )
    return {
        ("mlp", variant, j): float(np.mean(classes[j][predicted[c]] == test[1][:, j]))
        for c, (variant, j) in enumerate(nets)
    }


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
) -> dict[str, float | list | None]:
    """Per-FoV test accuracy of GBT and MLP classifiers on full and pruned codes.

    Args:
      codes_train, factors_train: float [N, d], int [N, F] (10,000 samples in SPEC 2).
      codes_test, factors_test: float [M, d], int [M, F] (5,000 samples).
      dims_per_fov: FoV index -> dimensions (OMES's association); None: full only.
      pruning: "per_fov" (the paper) or "union" (the reference code).
      classifiers: a subset of ("gbt", "mlp").
      gbt_backend: "exact" (GradientBoostingClassifier), "lightgbm" or "hist" (see
        the module docstrings here and in dci.py).
      mlp_backend: "sklearn" (MLPClassifier) or "jax" (see module docstring).
      seed: `random_state` of every classifier (the jax MLPs' PRNG key).
      n_jobs: joblib workers (-1: all cores).
      gbts: F GBTs of `gbt_backend` ("exact" or "lightgbm") already fitted on
        (codes_train, factors_train) with this seed, e.g. `dci.fit_gbts`'s; they give
        `gbt_full` without refitting.

    Returns:
      For each classifier k and variant v in ("full", "pruned" if dims_per_fov is
      given): `{k}_{v}_per_fov` (F accuracies, null where the pruned set is empty)
      and `{k}_{v}` (their mean, null if none); `pruned_dims` [F][*] when pruned.
    """
    train = info.check_codes_factors(codes_train, factors_train, "codes_train")
    test = info.check_codes_factors(codes_test, factors_test, "codes_test")
    info.check_split(train, test)
    num_codes, num_factors = train[0].shape[1], train[1].shape[1]
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
    if gbts is not None and (
        gbt_backend not in dci.GBT_BACKENDS
        or len(gbts) != num_factors
        or any(
            not isinstance(m, dci.GBT_BACKENDS[gbt_backend]) or m.n_features_in_ != num_codes
            for m in gbts
        )
    ):
        raise ValueError(
            f"gbts must be {num_factors} GBTs of gbt_backend {gbt_backend!r} (one of "
            f"{tuple(dci.GBT_BACKENDS)}) fitted on {num_codes} dimensions, got "
            f"{[type(m).__name__ for m in gbts]} fitted on {[m.n_features_in_ for m in gbts]}."
        )
    variants = {"full": [list(range(num_codes))] * num_factors}
    if dims_per_fov is not None:
        variants["pruned"] = pruned_dims(dims_per_fov, num_codes, num_factors, pruning)
    fitted_elsewhere = {("gbt", "full")} if gbts is not None else set()
    if mlp_backend == "jax":
        fitted_elsewhere |= {("mlp", variant) for variant in variants}
    fits = {
        (kind, variant, j): joblib.delayed(_fit_accuracy)(
            _classifier(kind, gbt_backend, seed),
            (train[0][:, dims], train[1][:, j]),
            (test[0][:, dims], test[1][:, j]),
        )
        for kind in classifiers
        for variant, dims_of in variants.items()
        for j, dims in enumerate(dims_of)
        if dims and (kind, variant) not in fitted_elsewhere
    }
    accuracy = dict(zip(fits, joblib.Parallel(n_jobs=n_jobs)(fits.values()), strict=True))
    if "mlp" in classifiers and mlp_backend == "jax":
        dims_of_net = {
            (variant, j): dims
            for variant, dims_of in variants.items()
            for j, dims in enumerate(dims_of)
            if dims
        }
        accuracy |= _jax_mlp_accuracy(train, test, dims_of_net, seed)
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
