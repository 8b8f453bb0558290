"""Downstream GBT/MLP accuracy on full and pruned ground-truth codes."""

import jax
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from drl_jax.metrics import _dci as dci
from drl_jax.metrics import _downstream as downstream_module
from drl_jax.metrics import mlp as mlp_module
from drl_jax.metrics._downstream import downstream, pruned_dims

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


def blurred(split_seed: int, noise_seed: int, fovs: list[int]):
    """split(split_seed)'s codes plus N(0, 0.5^2), so that accuracy does not saturate."""
    codes_train, factors_train, codes_test, factors_test = split(split_seed)
    rng = np.random.default_rng(noise_seed)
    return (
        codes_train + 0.5 * rng.normal(size=codes_train.shape),
        factors_train[:, fovs],
        codes_test + 0.5 * rng.normal(size=codes_test.shape),
        factors_test[:, fovs],
    )


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


@pytest.mark.parametrize("backend", tuple(dci.GBT_BACKENDS))
def test_reuses_dci_gbts_in_parallel(backend):
    noisy = blurred(1, 2, [0, 1])
    gbts = dci.fit_gbts(*noisy[:2], backend=backend, seed=4, n_jobs=1)
    options = {"dims_per_fov": {0: [0]}, "classifiers": ("gbt",), "gbt_backend": backend}
    reused = downstream(*noisy, **options, seed=4, gbts=gbts, n_jobs=2)
    fresh = downstream(*noisy, **options, seed=4, n_jobs=1)
    scores = dci.dci(*noisy, gbts=gbts)
    assert reused == fresh
    assert reused["gbt_full_per_fov"] == scores["dci_informativeness_test_per_fov"]
    assert 0.5 < reused["gbt_full"] < 0.95


def test_mlp_backend():
    codes_train, factors_train, codes_test, factors_test = split(5)
    two_fovs = (codes_train, factors_train[:, :2], codes_test, factors_test[:, :2])
    mlp = downstream(*two_fovs, dims_per_fov={1: [1]}, classifiers=("mlp",), n_jobs=1)
    # Two ReLU layers separate 2-3 ordered classes 1 apart with noise 0.05 exactly.
    assert mlp["mlp_full_per_fov"] == [1.0, 1.0] and mlp["mlp_pruned_per_fov"] == [None, 1.0]


@pytest.fixture(scope="module")
def mlp_data():
    """Blurred codes [N, 3] of the FoVs with 3 and 4 classes (test accuracy 0.65 to 0.85).

    350 training samples: minibatches of 200 and 150, so the padded last batch counts.
    """
    codes_train, factors_train, codes_test, factors_test = blurred(3, 4, [1, 2])
    return codes_train[:350], factors_train[:350], codes_test, factors_test


# Both FoVs see dims [0, 1]: the 3-class FoV keeps its code (dim 1), the 4-class one loses its
# (dim 2) and drops to chance, 1/4.
MLP_PRUNING = {"dims_per_fov": {0: [0], 1: [1]}, "pruning": "union"}


@pytest.fixture(scope="module")
def jax_mlp(mlp_data):
    """The jax MLPs on mlp_data, full and pruned, and the input_mask shape of each program run."""
    calls = []
    fit = mlp_module._fit_predict_mlps

    def recording(*args):
        calls.append(args[5].shape)
        return fit(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlp_module, "_fit_predict_mlps", recording)
        result = downstream(
            *mlp_data, **MLP_PRUNING, classifiers=("mlp",), mlp_backend="jax", n_jobs=1
        )
    return result, calls


def test_jax_mlp_is_one_deterministic_program(jax_mlp, mlp_data):
    result, calls = jax_mlp
    assert calls == [(4, 3)]  # 2 FoVs x (full, pruned) nets over d = 3 in one call
    again = downstream(*mlp_data, **MLP_PRUNING, classifiers=("mlp",), mlp_backend="jax")
    assert again == result


def test_jax_mlp_close_to_sklearn(jax_mlp, mlp_data):
    result = jax_mlp[0]
    reference = downstream(*mlp_data, **MLP_PRUNING, classifiers=("mlp",), n_jobs=2)
    # Same net, loss, optimizer and stopping rule (3 and 4 classes: softmax in both);
    # other random draws (init, shuffles) and float32. Two such nets disagree on a few
    # of the 200 test samples near class boundaries: over 4 data seeds of this set-up
    # per-FoV accuracies differed by at most 0.025.
    for variant in ("full", "pruned"):
        ours, theirs = result[f"mlp_{variant}_per_fov"], reference[f"mlp_{variant}_per_fov"]
        np.testing.assert_allclose(ours, theirs, atol=0.05)
    assert 0.6 < min(result["mlp_full_per_fov"]) and max(result["mlp_full_per_fov"]) < 0.95
    assert abs(result["mlp_full"] - reference["mlp_full"]) <= 0.03


def test_jax_mlp_pruned_equals_kept_dims_alone(jax_mlp, mlp_data):
    kept = [0, 1]
    data = (mlp_data[0][:, kept], mlp_data[1], mlp_data[2][:, kept], mlp_data[3])
    alone = downstream(*data, classifiers=("mlp",), mlp_backend="jax", n_jobs=1)
    # Zero-masked rows of w1 get no gradient and no L2 penalty, so the pruned net is the
    # kept-dims net up to w1's random draw (same shuffles, same other weights): over 4
    # data seeds accuracies differed by at most 0.005 (0.035 with 400 samples, dims [1, 2]).
    pruned = jax_mlp[0]["mlp_pruned_per_fov"]
    np.testing.assert_allclose(pruned, alone["mlp_full_per_fov"], atol=0.03)
    # The masked-away dim 2 carried the 4-class FoV: chance, 1/4 (+5 sd at 200 samples).
    assert pruned[0] > 0.6 and pruned[1] < 0.4


def test_auto_mlp_backend_is_jax_on_accelerators_only(monkeypatch):
    assert jax.default_backend() == "cpu"  # the test machine's
    assert downstream_module.resolve_mlp_backend("auto") == "sklearn"
    assert [downstream_module.resolve_mlp_backend(b) for b in ("sklearn", "jax")] == [
        "sklearn",
        "jax",
    ]
    with pytest.raises(ValueError, match=r"mlp_backend must be one of .*'torch'"):
        downstream_module.resolve_mlp_backend("torch")
    for accelerator in ("gpu", "tpu"):
        monkeypatch.setattr(jax, "default_backend", lambda name=accelerator: name)
        assert downstream_module.resolve_mlp_backend("auto") == "jax"
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    # downstream runs "auto" as resolved: sklearn's MLPs here (recorded, not fitted).
    fitted = []
    monkeypatch.setattr(
        downstream_module, "_fit_accuracy", lambda model, *_: fitted.append(model) or 0.5
    )
    result = downstream(*split(), classifiers=("mlp",), mlp_backend="auto", n_jobs=1)
    assert result["mlp_full_per_fov"] == [0.5] * 3
    assert [type(m).__name__ for m in fitted] == ["MLPClassifier"] * 3


def test_rejects_bad_inputs(identity_gbts):
    data = split()
    with pytest.raises(ValueError, match=r"gbt_backend one of \('exact', 'lightgbm'\).*'hist'"):
        downstream(*data, classifiers=("gbt",), gbt_backend="hist", gbts=identity_gbts)
    with pytest.raises(ValueError, match="gbt_backend 'lightgbm'.*GradientBoostingClassifier"):
        downstream(*data, classifiers=("gbt",), gbt_backend="lightgbm", gbts=identity_gbts)
    with pytest.raises(ValueError, match="subset of"):
        downstream(*data, classifiers=("svm",))
    with pytest.raises(ValueError, match="mlp_backend one of"):
        downstream(*data, classifiers=("mlp",), mlp_backend="torch")
    with pytest.raises(ValueError, match=r"3 GBTs of gbt_backend 'exact'.*fitted on 3 dim"):
        downstream(*data, classifiers=("gbt",), gbts=[])
    with pytest.raises(ValueError, match=r"codes_test \(200, 2\)"):
        downstream(data[0], data[1], data[2][:, :2], data[3])


def test_sklearn_mlp_fits_float32_codes_and_gbt_the_given_ones(monkeypatch, mlp_data):
    fitted = []
    fit_accuracy = downstream_module._fit_accuracy

    def recording(model, train, test):
        fitted.append((type(model).__name__, train[0].dtype, test[0].dtype))
        return fit_accuracy(model, train, test)

    monkeypatch.setattr(downstream_module, "_fit_accuracy", recording)
    downstream(*mlp_data, **MLP_PRUNING, n_jobs=1)  # one job: fits run in this process
    assert sorted(set(fitted)) == [
        ("GradientBoostingClassifier", np.float64, np.float64),
        ("MLPClassifier", np.float32, np.float32),
    ]
    assert len(fitted) == 8  # 2 FoVs x full/pruned x GBT/MLP
