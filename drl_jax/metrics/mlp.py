"""sklearn's `MLPClassifier(hidden_layer_sizes=(256, 256))` in JAX: downstream.py's
`mlp_backend="jax"`.

sklearn's MLPClassifier rewritten in JAX/optax: the same
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
weights) and compiles once per shape (~7 s on CPU; included in the timings of
downstream.py's table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

# MLPClassifier(hidden_layer_sizes=(256, 256))'s settings, mirrored here.
HIDDEN = 256
_ALPHA, _LEARNING_RATE, _BATCH_SIZE = 1e-4, 1e-3, 200
_MAX_EPOCHS, _TOL, _NO_CHANGE_EPOCHS = 200, 1e-4, 10


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
        (input_mask.shape[0], HIDDEN, input_mask.sum() + HIDDEN),
        (HIDDEN, HIDDEN, 2 * HIDDEN),
        (HIDDEN, class_mask.shape[0], HIDDEN + class_mask.sum()),
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


def mlp_accuracy(
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
