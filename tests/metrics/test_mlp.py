"""The jax MLP: sklearn's stopping rule, and many models' nets in one program."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from drl_jax.metrics import mlp

N_TRAIN, N_TEST = 400, 200  # two minibatches per epoch
SIZES = (2, 3)  # FoV class counts: a logistic unit and a softmax


@pytest.fixture(autouse=True)
def one_thread_per_fit():
    # The machine's 2 cores are shared: BLAS threads inside a fit only contend.
    with threadpool_limits(1):
        yield


def codes_and_factors(noise: float, seed: int):
    """Codes [N, 2] = factors [N, 2] + N(0, noise^2), split into train and test."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, N_TRAIN + N_TEST) for s in SIZES], axis=1)
    codes = (factors + noise * rng.normal(size=factors.shape)).astype(np.float32)
    return codes[:N_TRAIN], factors[:N_TRAIN], codes[N_TRAIN:], factors[N_TRAIN:]


def sklearn_stop(losses) -> tuple[list, int | None]:
    """(best_loss_, _no_improvement_count) after each epoch and the epoch count (n_iter_) at
    which sklearn's MLPClassifier stops on this training loss curve (None: it does not),
    run by sklearn's own `_update_no_improvement_count` and `_fit_stochastic`'s test
    (`> n_iter_no_change`)."""
    model = MLPClassifier()
    model.loss_curve_, model.best_loss_, model._no_improvement_count = [], np.inf, 0
    states = []
    for loss in losses:
        model.loss_curve_.append(loss)
        model._update_no_improvement_count(False, None, None, None)
        states.append((model.best_loss_, model._no_improvement_count))
        if model._no_improvement_count > model.n_iter_no_change:
            return states, len(states)
    return states, None


def test_no_improvement_is_sklearns_rule():
    # Built to tell the rule from its near misses: from epoch 2 on every loss improves on
    # the last by less than tol (1e-4), so the counter grows while the best still drops
    # (best = the plain minimum, not the last loss that beat it by tol); one drop by more
    # than tol (epoch 6) resets the counter; a rise leaves the best alone; the net stops
    # in the epoch that takes the counter to 11, not 10.
    losses = [1.0, 0.99995, 0.9999, 0.99985, 0.9998, 0.9996, 0.99959, 0.99958]
    losses += [0.99959, 0.99957, 0.99956, 0.99955, 0.99954, 0.99953, 0.99952, 0.99951]
    losses += [0.99950, 0.99949, 0.99948, 0.99947]
    expected, stop_epoch = sklearn_stop(losses)
    assert stop_epoch == 17
    best, count = jnp.inf, 0
    for epoch, loss in enumerate(losses[:stop_epoch], start=1):
        best, count, stop = mlp._no_improvement(jnp.float32(loss), best, count)
        np.testing.assert_allclose(float(best), expected[epoch - 1][0], rtol=1e-6)
        assert int(count) == expected[epoch - 1][1]
        assert bool(stop) == (epoch == stop_epoch)


@pytest.fixture(scope="module")
def separable():
    """codes_and_factors on which both FoVs' nets stop early (~55 and ~80 epochs)."""
    return codes_and_factors(noise=0.05, seed=0)


def fit_predict(data, dims_of_net, seed=0):
    """mlp._fit_predict_mlps of one model's nets (variant, FoV) on data, full codes."""
    codes_train, factors_train, codes_test, _ = data
    nets = list(dims_of_net)
    class_mask = np.stack([np.arange(max(SIZES)) < SIZES[j] for _, j in nets])
    input_mask = np.zeros((len(nets), codes_train.shape[1]), np.float32)
    for c, net in enumerate(nets):
        input_mask[c, dims_of_net[net]] = 1.0
    return mlp._fit_predict_mlps(
        jax.random.key(seed),
        jnp.asarray(codes_train[None]),
        jnp.asarray(factors_train, jnp.int32),
        jnp.zeros(len(nets), jnp.int32),
        jnp.asarray([j for _, j in nets], jnp.int32),
        jnp.asarray(input_mask),
        jnp.asarray(class_mask),
        jnp.asarray(codes_test[None]),
    )


def test_each_net_stops_where_sklearn_would(separable):
    _, epochs, curve = fit_predict(separable, {("full", 0): [0, 1], ("full", 1): [0, 1]})
    curve = np.asarray(curve)
    for c, j in enumerate((0, 1)):
        # sklearn's rule on this net's own loss curve stops it in the epoch it stopped,
        # and no later epoch was trained (the other net trains on).
        assert sklearn_stop(curve[: epochs[c], c])[1] == epochs[c] < 200
        assert np.isnan(curve[epochs[c] :, c]).all()
        # sklearn's MLP on the same data stops where the jax net does, up to the spread of
        # seeds (init and shuffles differ): sklearn's seeds 0-2 stop after 54-57 and
        # 78-83 epochs, the jax nets after 56 and 87 (its seeds 0-7: 54-59 and 79-87).
        # A rule one epoch off passes this band and fails the line above; no or another
        # stopping rule fails both.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            n_iter = [
                MLPClassifier((mlp.HIDDEN, mlp.HIDDEN), random_state=seed)
                .fit(separable[0], separable[1][:, j])
                .n_iter_
                for seed in range(3)
            ]
        assert min(n_iter) - 5 <= epochs[c] <= max(n_iter) + 5, (j, epochs[c], n_iter)
    assert epochs[0] != epochs[1]  # each stopped on its own


def test_models_in_one_program_equal_each_alone():
    # Three models with their own codes (other noise draws of the same factors) and own
    # pruned dims; model 2's pruned net of FoV 0 has no dimension and is left out.
    noisy = [codes_and_factors(noise=0.4, seed=1)]
    rng = np.random.default_rng(2)
    for _ in range(2):
        _, factors_train, _, factors_test = noisy[0]
        noisy.append(
            (
                (factors_train + 0.4 * rng.normal(size=factors_train.shape)).astype(np.float32),
                factors_train,
                (factors_test + 0.4 * rng.normal(size=factors_test.shape)).astype(np.float32),
                factors_test,
            )
        )
    dims = [
        {("full", 0): [0, 1], ("pruned", 1): [1]},
        {("full", 0): [0, 1], ("pruned", 1): [0]},
        {("full", 0): [0, 1], ("pruned", 0): [], ("full", 1): [0, 1]},
    ]
    together = mlp.mlp_accuracy_models(
        np.stack([d[0] for d in noisy]),
        noisy[0][1],
        np.stack([d[2] for d in noisy]),
        noisy[0][3],
        dims,
        seed=0,
    )
    assert [sorted(r) for r in together] == [
        [("mlp", "full", 0), ("mlp", "pruned", 1)],
        [("mlp", "full", 0), ("mlp", "pruned", 1)],
        [("mlp", "full", 0), ("mlp", "full", 1)],
    ]
    # Every net is its own computation on its model's codes with the same init key and
    # shuffles, so the program gives each model what it gives the model alone, exactly.
    for m in range(2):  # models 0 and 1 alone: one compiled shape
        data = noisy[m]
        alone = mlp.mlp_accuracy((data[0], data[1]), (data[2], data[3]), dims[m], seed=0)
        assert alone == together[m]
    # Not saturated (the equality means something): noise 0.4 on classes 1 apart; the
    # pruned net reading the other FoV's dimension is at chance (1/3 + 3.5 sd of 200).
    assert 0.6 < together[0]["mlp", "full", 0] < 0.95
    assert 0.6 < together[0]["mlp", "pruned", 1] < 0.95
    assert together[1]["mlp", "pruned", 1] < 0.45


def test_rejects_bad_inputs(separable):
    codes_train, factors_train, codes_test, factors_test = separable
    good = (codes_train[None], factors_train, codes_test[None], factors_test)
    with pytest.raises(ValueError, match=r"got \(400, 2\), \(400, 2\), \(1, 200, 2\)"):
        mlp.mlp_accuracy_models(codes_train, *good[1:], [{("full", 0): [0]}], 0)
    with pytest.raises(ValueError, match="M = 2"):
        mlp.mlp_accuracy_models(*good, [{("full", 0): [0]}] * 2, 0)
    with pytest.raises(ValueError, match=r"out of range \(model, net\): \{\(0, \('full', 2\)\)"):
        mlp.mlp_accuracy_models(*good, [{("full", 2): [0]}], 0)
    with pytest.raises(ValueError, match=r"\(0, \('pruned', 1\)\): \[2\]"):
        mlp.mlp_accuracy_models(*good, [{("pruned", 1): [2]}], 0)
