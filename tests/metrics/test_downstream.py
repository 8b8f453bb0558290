"""Downstream GBT/MLP accuracy on full and pruned ground-truth codes."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from drl_jax.metrics import dci
from drl_jax.metrics.downstream import downstream, pruned_dims

SIZES = (2, 3, 4)
N_TRAIN, N_TEST = 400, 200


@pytest.fixture(autouse=True)
def one_thread_per_fit():
    # The machine's 2 cores are shared: BLAS/OpenMP threads inside a fit only contend.
    with threadpool_limits(1):
        yield


def split(seed: int = 0):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, N_TRAIN + N_TEST) for s in SIZES], axis=1)
    codes = factors + 0.05 * rng.normal(size=factors.shape)
    return codes[:N_TRAIN], factors[:N_TRAIN], codes[N_TRAIN:], factors[N_TRAIN:]


def test_pruned_dims():
    dims = {0: [2], 1: [0, 2], 2: []}
    assert pruned_dims(dims, 3, 3, "per_fov") == [[2], [0, 2], []]
    assert pruned_dims(dims, 3, 3, "union") == [[0, 2]] * 3
    assert pruned_dims({1: [1]}, 3, 3, "per_fov") == [[], [1], []]
    with pytest.raises(ValueError, match=r"out of range: \{0: \[3\]\}"):
        pruned_dims({0: [3]}, 3, 3, "per_fov")
    with pytest.raises(ValueError, match="pruning must be one of"):
        pruned_dims(dims, 3, 3, "paper")


@pytest.fixture(scope="module")
def identity_gbts():
    """The full-code GBTs of split(0), fitted once (as DCI would) and reused below."""
    return dci.fit_gbts(*split()[:2], n_jobs=1)


def test_gbt_full_and_pruned(identity_gbts):
    data = split()

    def run(dims, **options):
        return downstream(
            *data, dims_per_fov=dims, classifiers=("gbt",), gbts=identity_gbts, n_jobs=1, **options
        )

    # Identity codes: each FoV is read off its own dimension without error; an empty
    # pruned set gives null and is left out of the mean.
    own = run({0: [0], 1: [1]})
    assert own["gbt_full_per_fov"] == [1.0, 1.0, 1.0]
    assert own["gbt_pruned_per_fov"] == [1.0, 1.0, None] and own["gbt_pruned"] == 1.0
    # Pruned to another FoV's dimension: chance, at most 1/2 + 2.8 sd (200 test samples).
    assert max(run({0: [1], 2: [0]})["gbt_pruned_per_fov"][::2]) <= 0.6
    # Union: every FoV sees dims {0, 1}, so FoV 2 (4 classes) is at chance, 1/4 +- 0.03.
    union = run({0: [0], 1: [1]}, pruning="union")
    assert union["pruned_dims"] == [[0, 1]] * 3
    assert union["gbt_pruned_per_fov"][:2] == [1.0, 1.0]
    assert union["gbt_pruned_per_fov"][2] <= 0.4
    none = run({})
    assert none["gbt_pruned_per_fov"] == [None] * 3 and none["gbt_pruned"] is None


def test_reuses_dci_gbts_in_parallel():
    codes_train, factors_train, codes_test, factors_test = split(1)
    rng = np.random.default_rng(2)
    noisy = (  # the first two FoVs, codes blurred so that accuracy does not saturate
        codes_train + 0.5 * rng.normal(size=codes_train.shape),
        factors_train[:, :2],
        codes_test + 0.5 * rng.normal(size=codes_test.shape),
        factors_test[:, :2],
    )
    gbts = dci.fit_gbts(*noisy[:2], seed=4, n_jobs=1)
    reused = downstream(
        *noisy, dims_per_fov={0: [0]}, classifiers=("gbt",), seed=4, gbts=gbts, n_jobs=2
    )
    fresh = downstream(*noisy, dims_per_fov={0: [0]}, classifiers=("gbt",), seed=4, n_jobs=1)
    scores = dci.dci(*noisy, gbts=gbts)
    assert reused == fresh
    assert reused["gbt_full_per_fov"] == scores["dci_informativeness_test_per_fov"]
    assert 0.5 < reused["gbt_full"] < 0.95


def test_mlp_and_hist_backend():
    codes_train, factors_train, codes_test, factors_test = split(5)
    two_fovs = (codes_train, factors_train[:, :2], codes_test, factors_test[:, :2])
    mlp = downstream(*two_fovs, dims_per_fov={1: [1]}, classifiers=("mlp",), n_jobs=1)
    # Two ReLU layers separate 2-3 ordered classes 1 apart with noise 0.05 exactly.
    assert mlp["mlp_full_per_fov"] == [1.0, 1.0] and mlp["mlp_pruned_per_fov"] == [None, 1.0]
    hist = downstream(*split(5), classifiers=("gbt",), gbt_backend="hist", n_jobs=1)
    # 255 quantile bins over 400 samples put the extreme samples of adjacent classes into
    # one bin: a few test samples near a class boundary are lost (the exact GBT: 1.0).
    assert min(hist["gbt_full_per_fov"]) >= 0.98


def test_rejects_bad_inputs(identity_gbts):
    data = split()
    with pytest.raises(ValueError, match="backend 'hist'"):
        downstream(*data, classifiers=("gbt",), gbt_backend="hist", gbts=identity_gbts)
    with pytest.raises(ValueError, match="subset of"):
        downstream(*data, classifiers=("svm",))
    with pytest.raises(ValueError, match=r"3 exact GBTs fitted on 3 dimensions, got 0"):
        downstream(*data, classifiers=("gbt",), gbts=[])
    with pytest.raises(ValueError, match=r"codes_test \(200, 2\)"):
        downstream(data[0], data[1], data[2][:, :2], data[3])
