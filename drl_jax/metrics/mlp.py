"""sklearn's `MLPClassifier(hidden_layer_sizes=(256, 256))` in JAX: downstream.py's
`mlp_backend="jax"`.

sklearn's MLPClassifier rewritten in JAX: the same Glorot-uniform init, ReLU net with
a softmax output (one logistic unit for a 2-class FoV), cross-entropy plus
alpha / 2 |W|^2 (alpha 1e-4, weights only) per minibatch of 200 (a short last one),
sklearn's Adam (lr 1e-3, betas 0.9 / 0.999, epsilon 1e-8 added to the uncorrected
sqrt(v)), reshuffling every epoch, and its stopping rule on the epoch's mean training
loss (probabilities clipped to [eps, 1 - eps] as sklearn's log-loss does): a counter
grows on each epoch whose loss exceeds the best loss so far minus 1e-4 and resets
otherwise, the best loss is the plain minimum, and a net stops after the epoch that
takes the counter past 10, or after 200 epochs. Raw codes, as sklearn (no
standardisation).

Every net of every model (models x FoVs x full/pruned) trains in one jitted program:
vmapped over nets, each net reading its model's codes, pruned-away inputs zero-masked,
classes padded to the largest FoV's and masked; each net stops on its own (a stopped
net keeps its weights) while the program runs until the last one stops. It departs
from sklearn in its random draws (JAX's; one shuffle per epoch for all nets, as
sklearn's `random_state=seed` gives every net the same ones), in float32 throughout
(sklearn computes in the codes' dtype: float32 as downstream.py passes them) and in
compute (stopped nets ride along until the slowest stops); it compiles once per shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import ArrayLike

# MLPClassifier(hidden_layer_sizes=(256, 256))'s settings, mirrored here.
HIDDEN = 256
_ALPHA, _LEARNING_RATE, _BATCH_SIZE = 1e-4, 1e-3, 200
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-8
_MAX_EPOCHS, _TOL, _NO_CHANGE_EPOCHS = 200, 1e-4, 10
# sklearn's log-loss clips probabilities to [eps, 1 - eps] of their (float32) dtype.
_PROBABILITY_EPS = float(np.finfo(np.float32).eps)
# Nets predicted at once on the test codes (bounds the [nets, N_test, 256] activations).
_PREDICT_NETS = 16

Net = tuple[str, int]  # (variant, FoV j), e.g. ("pruned", 2)


def _init_mlp(key: jax.Array, input_mask: jax.Array, unit_mask: jax.Array) -> dict:
    """sklearn's Glorot-uniform init of one MLP: weights and biases in +-sqrt(6 / (in + out)).

    Args:
      key: PRNG key (the same for every net, as sklearn's `random_state=seed`).
      input_mask: float32 [d], 1 on the kept input dimensions (their count is fan-in).
      unit_mask: bool [K], True on the net's output units (their count is fan-out).

    Returns:
      w1 [d, H], b1 [H], w2 [H, H], b2 [H], w3 [H, K], b3 [K] (H = 256), float32.
    """
    layers = (  # (rows, columns, fan-in + fan-out)
        (input_mask.shape[0], HIDDEN, input_mask.sum() + HIDDEN),
        (HIDDEN, HIDDEN, 2 * HIDDEN),
        (HIDDEN, unit_mask.shape[0], HIDDEN + unit_mask.sum()),
    )
    params = {}
    for layer, (rows, cols, fans) in enumerate(layers, start=1):
        bound = jnp.sqrt(6.0 / fans)
        key_w, key_b = jax.random.split(jax.random.fold_in(key, layer))
        params[f"w{layer}"] = jax.random.uniform(key_w, (rows, cols), minval=-bound, maxval=bound)
        params[f"b{layer}"] = jax.random.uniform(key_b, (cols,), minval=-bound, maxval=bound)
    return params


def _unit_mask(class_mask: jax.Array) -> jax.Array:
    """bool [K]: the output units of a net with class_mask [K]: one logistic unit for 2
    classes (sklearn's binary output), one softmax unit per class otherwise."""
    num_units = jnp.where(class_mask.sum() == 2, 1, class_mask.sum())
    return jnp.arange(class_mask.shape[0]) < num_units


def _masked(params: dict, input_mask: jax.Array, class_mask: jax.Array) -> dict:
    """The MLP's parameters with pruned-away input rows of w1 and unused output columns of
    w3 / b3 zeroed: they get no gradient and no L2 penalty, so the net is the one
    sklearn would fit on the kept dimensions and the FoV's classes alone."""
    unit_mask = _unit_mask(class_mask)
    return params | {
        "w1": params["w1"] * input_mask[:, None],
        "w3": params["w3"] * unit_mask,
        "b3": params["b3"] * unit_mask,
    }


def _logits(masked: dict, codes: jax.Array, class_mask: jax.Array) -> jax.Array:
    """Class logits [B, K] of one MLP (`_masked` parameters) on codes [B, d]; -inf off its
    classes. A 2-class net's logistic unit z becomes the logits (0, z): their softmax is
    (1 - sigmoid(z), sigmoid(z)), sklearn's binary output."""
    hidden = jax.nn.relu(codes @ masked["w1"] + masked["b1"])
    hidden = jax.nn.relu(hidden @ masked["w2"] + masked["b2"])
    units = hidden @ masked["w3"] + masked["b3"]
    logistic = jnp.concatenate([jnp.zeros_like(units[:, :1]), units[:, :-1]], axis=1)
    logits = jnp.where(class_mask.sum() == 2, logistic, units)
    return jnp.where(class_mask, logits, -jnp.inf)


def _batch_loss(params, codes, labels, weight, input_mask, class_mask):
    """sklearn's minibatch loss of one MLP: mean cross-entropy + alpha / 2 |W|^2 / batch.

    Args:
      params: one net's, as `_init_mlp` returns; input_mask: as there.
      codes: float32 [B, d]; labels: int32 [B] class indices; weight: float32 [B],
        0 on the padding of a short last batch (sklearn's batch is then smaller).
      class_mask: bool [K], True on the net's classes.

    Returns:
      (objective, reported), float32 [] in nats: the objective's gradient is sklearn's
      (unclipped cross-entropy); reported clips the probabilities as sklearn's
      log-loss does, the value its stopping rule sees.
    """
    masked = _masked(params, input_mask, class_mask)
    log_probs = jax.nn.log_softmax(_logits(masked, codes, class_mask))
    log_prob = jnp.take_along_axis(log_probs, labels[:, None], axis=1)[:, 0]
    clipped = jnp.clip(log_prob, np.log(_PROBABILITY_EPS), np.log1p(-_PROBABILITY_EPS))
    penalty = 0.5 * _ALPHA * sum(jnp.sum(masked[w] ** 2) for w in ("w1", "w2", "w3"))
    total = jnp.sum(weight)
    return (penalty - jnp.sum(weight * log_prob)) / total, (
        penalty - jnp.sum(weight * clipped)
    ) / total


class _AdamState(NamedTuple):
    count: jax.Array  # int32 [], steps taken
    mu: dict
    nu: dict


def _sklearn_adam() -> optax.GradientTransformation:
    """sklearn's AdamOptimizer: lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), update
    -lr_t m / (sqrt(v) + epsilon); epsilon on the uncorrected sqrt(v), unlike optax.adam."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return _AdamState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update(grads, state, params=None):
        del params
        count = state.count + 1
        mu = jax.tree.map(lambda m, g: _BETA_1 * m + (1 - _BETA_1) * g, state.mu, grads)
        nu = jax.tree.map(lambda v, g: _BETA_2 * v + (1 - _BETA_2) * g**2, state.nu, grads)
        step = count.astype(jnp.float32)
        rate = _LEARNING_RATE * jnp.sqrt(1 - _BETA_2**step) / (1 - _BETA_1**step)
        updates = jax.tree.map(lambda m, v: -rate * m / (jnp.sqrt(v) + _EPSILON), mu, nu)
        return updates, _AdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


def _no_improvement(loss, best, count):
    """sklearn's `_update_no_improvement_count` (no validation split) for one epoch.

    Args:
      loss: the epoch's mean training loss; best: the least loss before it (inf at
        first); count: epochs without improvement before it (0 at first).

    Returns:
      (best, count, stop): the minimum of best and loss; count + 1 if loss exceeds
      best - tol, else 0; stop when count passes n_iter_no_change.
    """
    count = jnp.where(loss > best - _TOL, count + 1, 0)
    return jnp.minimum(best, loss), count, count > _NO_CHANGE_EPOCHS


@jax.jit
def _fit_predict_mlps(
    key, codes_train, labels, model_of, fov_of, input_mask, class_mask, codes_test
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Trains C MLPs at once, each as sklearn's MLPClassifier would, then predicts.

    Adam on shuffled minibatches of 200 (one permutation per epoch, shared by all
    nets); each net stops by sklearn's rule (`_no_improvement`) or after 200 epochs.
    The loop runs until the last net stops; stopped nets keep their parameters.

    Args:
      key: PRNG key (init and shuffling).
      codes_train: float32 [M, N, d], the M models' codes; labels: int32 [N, F] class
        indices of each FoV.
      model_of, fov_of: int32 [C], the model whose codes net c reads and the FoV it predicts.
      input_mask: float32 [C, d], 1 on the dimensions net c sees; class_mask: bool [C, K].
      codes_test: float32 [M, N_test, d].

    Returns:
      int32 [C, N_test] predicted class indices, int32 [C] epochs each net trained
      (sklearn's `n_iter_`) and float32 [200, C] its epochs' mean training losses
      (sklearn's `loss_curve_`; NaN after it stopped).
    """
    num_samples = codes_train.shape[1]
    batch_size = min(_BATCH_SIZE, num_samples)
    num_batches = -(-num_samples // batch_size)
    padded = num_batches * batch_size
    weight = (jnp.arange(padded) < num_samples).astype(jnp.float32)
    weight = weight.reshape(num_batches, batch_size)
    init_key, shuffle_key = jax.random.split(key)
    params = jax.vmap(_init_mlp, in_axes=(None, 0, 0))(
        init_key, input_mask, jax.vmap(_unit_mask)(class_mask)
    )
    optimizer = _sklearn_adam()
    per_net_loss = jax.vmap(_batch_loss, in_axes=(0, 0, 1, None, 0, 0))

    def total_loss(params, index, weight):
        codes = codes_train[:, index][model_of]  # [C, B, d]
        objectives, reported = per_net_loss(
            params, codes, labels[index][:, fov_of], weight, input_mask, class_mask
        )
        return jnp.sum(objectives), reported

    def train_step(carry, batch):
        params, opt_state = carry
        index, weight = batch
        (_, losses), grads = jax.value_and_grad(total_loss, has_aux=True)(params, index, weight)
        updates, opt_state = optimizer.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), losses * jnp.sum(weight)

    def epoch(state):
        params, opt_state, step, best, count, active, epochs, curve = state
        order = jax.random.permutation(jax.random.fold_in(shuffle_key, step), num_samples)
        order = jnp.pad(order, (0, padded - num_samples)).reshape(num_batches, batch_size)
        (new_params, opt_state), losses = jax.lax.scan(
            train_step, (params, opt_state), (order, weight)
        )
        loss = jnp.sum(losses, axis=0) / num_samples
        params = jax.tree.map(
            lambda new, old: jnp.where(active.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
            new_params,
            params,
        )
        best, count, stop = _no_improvement(loss, best, count)
        curve = curve.at[step].set(jnp.where(active, loss, jnp.nan))
        epochs = epochs + active
        return params, opt_state, step + 1, best, count, active & ~stop, epochs, curve

    num_nets = input_mask.shape[0]
    state = (
        params,
        optimizer.init(params),
        0,
        jnp.full(num_nets, jnp.inf),
        jnp.zeros(num_nets, jnp.int32),
        jnp.ones(num_nets, bool),
        jnp.zeros(num_nets, jnp.int32),
        jnp.full((_MAX_EPOCHS, num_nets), jnp.nan),
    )
    state = jax.lax.while_loop(
        lambda state: (state[2] < _MAX_EPOCHS) & jnp.any(state[5]), epoch, state
    )
    params, epochs, curve = state[0], state[6], state[7]

    def predict(net):
        params, model, input_mask, class_mask = net
        masked = _masked(params, input_mask, class_mask)
        return jnp.argmax(_logits(masked, codes_test[model], class_mask), axis=-1)

    predicted = jax.lax.map(
        predict,
        (params, model_of, input_mask, class_mask),
        batch_size=min(num_nets, _PREDICT_NETS),
    )
    return predicted, epochs, curve


def mlp_accuracy_models(
    codes_train: ArrayLike,
    factors_train: ArrayLike,
    codes_test: ArrayLike,
    factors_test: ArrayLike,
    dims_of_net: Sequence[Mapping[Net, Sequence[int]]],
    seed: int,
) -> list[dict[tuple[str, str, int], float]]:
    """Test accuracy of the jax MLPs of M models, all trained in one program.

    Model m's net (variant, j) reads dims_of_net[m][(variant, j)] of model m's codes
    and predicts FoV j; the models share the factors (the same samples, encoded by
    each). A net with no dimensions is left out.

    Args:
      codes_train: float [M, N, d]; factors_train: int [N, F].
      codes_test: float [M, N_test, d]; factors_test: int [N_test, F].
      dims_of_net: M mappings (variant, FoV j) -> dimensions, e.g.
        {("full", 0): [0, ..., d - 1], ("pruned", 0): [3], ...}.
      seed: PRNG seed (init and shuffles), as sklearn's `random_state`.

    Returns:
      M dicts ("mlp", variant, j) -> test accuracy, in dims_of_net's order.
    """
    codes_train, codes_test = np.asarray(codes_train), np.asarray(codes_test)
    factors_train, factors_test = np.asarray(factors_train), np.asarray(factors_test)
    _check_inputs(codes_train, factors_train, codes_test, factors_test, dims_of_net)
    num_codes = codes_train.shape[2]
    nets = [(m, net) for m, dims in enumerate(dims_of_net) for net in dims if len(dims[net])]
    results: list[dict[tuple[str, str, int], float]] = [{} for _ in dims_of_net]
    if not nets:
        return results
    classes = [np.unique(labels) for labels in factors_train.T]  # as sklearn's classes_
    input_mask = np.zeros((len(nets), num_codes), np.float32)
    for c, (m, net) in enumerate(nets):
        input_mask[c, list(dims_of_net[m][net])] = 1.0
    num_classes = max(len(classes[j]) for _, (_, j) in nets)
    class_mask = np.stack([np.arange(num_classes) < len(classes[j]) for _, (_, j) in nets])
    labels = np.stack(
        [np.searchsorted(k, f) for k, f in zip(classes, factors_train.T, strict=True)], axis=1
    )
    predicted = np.asarray(
        _fit_predict_mlps(
            jax.random.key(seed),
            jnp.asarray(codes_train, jnp.float32),
            jnp.asarray(labels, jnp.int32),
            jnp.asarray([m for m, _ in nets], jnp.int32),
            jnp.asarray([j for _, (_, j) in nets], jnp.int32),
            jnp.asarray(input_mask),
            jnp.asarray(class_mask),
            jnp.asarray(codes_test, jnp.float32),
        )[0]
    )
    for c, (m, (variant, j)) in enumerate(nets):
        correct = classes[j][predicted[c]] == factors_test[:, j]
        results[m]["mlp", variant, j] = float(np.mean(correct))
    return results


def mlp_accuracy(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    dims_of_net: Mapping[Net, Sequence[int]],
    seed: int,
) -> dict[tuple[str, str, int], float]:
    """One model's `mlp_accuracy_models`: train, test = (codes [N, d], factors [N, F])."""
    return mlp_accuracy_models(
        np.asarray(train[0])[None],
        train[1],
        np.asarray(test[0])[None],
        test[1],
        [dims_of_net],
        seed,
    )[0]


def _check_inputs(codes_train, factors_train, codes_test, factors_test, dims_of_net) -> None:
    """Raises ValueError unless the shapes agree and every net's FoV and dims are in range."""
    num_models = len(dims_of_net)
    shapes_agree = (
        codes_train.ndim == codes_test.ndim == 3
        and factors_train.ndim == factors_test.ndim == 2
        and codes_train.shape[0] == codes_test.shape[0] == num_models
        and codes_train.shape[2] == codes_test.shape[2]
        and codes_train.shape[1] == factors_train.shape[0]
        and codes_test.shape[1] == factors_test.shape[0]
        and factors_train.shape[1] == factors_test.shape[1]
    )
    if not shapes_agree:
        raise ValueError(
            f"Expected codes_train [M, N, d], factors_train [N, F], codes_test [M, N_test, d], "
            f"factors_test [N_test, F] and M = len(dims_of_net); got {codes_train.shape}, "
            f"{factors_train.shape}, {codes_test.shape}, {factors_test.shape} and M = "
            f"{num_models}."
        )
    num_codes, num_factors = codes_train.shape[2], factors_train.shape[1]
    bad = {
        (m, net): list(dims)
        for m, nets in enumerate(dims_of_net)
        for net, dims in nets.items()
        if not 0 <= net[1] < num_factors or any(not 0 <= h < num_codes for h in dims)
    }
    if bad:
        raise ValueError(
            f"dims_of_net maps (variant, FoV in [0, {num_factors})) to dimensions in "
            f"[0, {num_codes}); out of range (model, net): {bad}."
        )
