"""DCI: hand-made importance matrices with closed forms, and GBTs on ground-truth codes."""

import numpy as np
import pytest
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier

from drl_jax.metrics import _dci as dci

SIZES = (2, 3, 4)  # small FoVs: 800 trees per fit keep each fit at about a second
N_TRAIN, N_TEST = 500, 300


def split(seed: int = 0):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, N_TRAIN + N_TEST) for s in SIZES], axis=1)
    return factors[:N_TRAIN], factors[N_TRAIN:]


def scores(importance):
    result = dci.scores_from_importance(np.asarray(importance, float))
    return result["dci_disentanglement"], result["dci_completeness"]


def test_scores_from_hand_made_importance():
    diagonal = np.diag(np.full(5, 5.0))
    np.testing.assert_allclose(scores(diagonal), (1.0, 1.0), atol=1e-9)
    np.testing.assert_allclose(scores([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), (1.0, 1.0), atol=1e-9)
    np.testing.assert_allclose(scores(np.ones((4, 3))), (0.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(scores(np.zeros((10, 10))), (0.0, 0.0), atol=1e-7)
    # Two codes per FoV (10 codes): each FoV's importance is split 1:1 among 10 codes.
    np.testing.assert_allclose(
        scores(np.vstack([diagonal, diagonal])), (1.0, 1.0 - np.log(2) / np.log(10)), atol=1e-9
    )
    # One code for two FoVs (10 FoVs): each code's importance is split 1:1 among 10 FoVs.
    np.testing.assert_allclose(
        scores(np.hstack([diagonal, diagonal])), (1.0 - np.log(2) / np.log(10), 1.0), atol=1e-9
    )
    # Missed FoVs (2 codes, 5 FoVs; 3 FoVs have no code): D and C only see importance.
    np.testing.assert_allclose(scores(diagonal[:2]), (1.0, 1.0), atol=1e-9)


def test_scores_match_scipy_on_a_random_matrix():
    importance = np.random.default_rng(0).uniform(size=(7, 4))
    per_code = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=4)
    per_fov = 1.0 - scipy.stats.entropy(importance + 1e-11, base=7)
    expected_d = np.sum(per_code * importance.sum(axis=1) / importance.sum())
    expected_c = np.sum(per_fov * importance.sum(axis=0) / importance.sum())
    np.testing.assert_allclose(scores(importance), (expected_d, expected_c), rtol=1e-12)


def test_dci_matches_direct_sklearn_computation():
    factors_train, factors_test = (f[:, :2] for f in split(1))  # FoVs of 2 and 3 classes
    rng = np.random.default_rng(2)
    mixing = rng.normal(size=(2, 3))
    codes_train = factors_train @ mixing + 0.5 * rng.normal(size=(N_TRAIN, 3))
    codes_test = factors_test @ mixing + 0.5 * rng.normal(size=(N_TEST, 3))
    models = [
        GradientBoostingClassifier(random_state=3).fit(codes_train, f) for f in factors_train.T
    ]
    importance = np.stack([m.feature_importances_ for m in models], axis=1)
    accuracy = [
        np.mean(m.predict(codes_test) == f) for m, f in zip(models, factors_test.T, strict=True)
    ]
    result = dci.dci(codes_train, factors_train, codes_test, factors_test, seed=3, n_jobs=1)
    np.testing.assert_allclose(result["dci_importance"], importance, rtol=1e-12)
    np.testing.assert_allclose(result["dci_informativeness_test_per_fov"], accuracy)
    np.testing.assert_allclose(
        (result["dci_disentanglement"], result["dci_completeness"]), scores(importance)
    )


def test_ground_truth_codes():
    factors_train, factors_test = split(4)
    rng = np.random.default_rng(5)

    def run(codes_of):
        return dci.dci(
            codes_of(factors_train), factors_train, codes_of(factors_test), factors_test, n_jobs=1
        )

    identity = run(lambda f: f + 0.05 * rng.normal(size=f.shape))
    assert identity["dci_disentanglement"] >= 0.95
    assert identity["dci_completeness"] >= 0.95
    assert identity["dci_informativeness_test"] == 1.0

    # Per-sample permutation of FoV values over the dims: importance spread evenly.
    shuffled = run(lambda f: np.array([rng.permutation(row) for row in f], dtype=float))
    assert shuffled["dci_disentanglement"] <= 0.2
    assert shuffled["dci_completeness"] <= 0.2

    # Duplicated codes [x, x], d = 2F = 6: each code still serves one FoV (D ~ 1), and
    # each FoV's importance is split between its two copies, at random tie-breaks
    # p : 1 - p. With p = 1/2 completeness is 1 - ln 2 / ln 6 = 0.6131; a split in
    # [0.25, 0.75] raises it by at most (ln 2 - H(0.25)) / ln 6 = 0.073.
    duplicated = run(lambda f: np.hstack([f, f]).astype(float))
    assert duplicated["dci_disentanglement"] >= 0.99
    target = 1.0 - np.log(2) / np.log(2 * len(SIZES))
    assert target - 1e-6 <= duplicated["dci_completeness"] <= target + 0.073


def test_lightgbm_backend_on_ground_truth_codes():
    factors_train, factors_test = split(4)
    rng = np.random.default_rng(5)
    noise = 0.05 * rng.normal(size=(N_TRAIN + N_TEST, len(SIZES)))
    codes_train, codes_test = factors_train + noise[:N_TRAIN], factors_test + noise[N_TRAIN:]
    data = (codes_train, factors_train, codes_test, factors_test)
    exact = dci.dci(*data, n_jobs=1)
    fast = dci.dci(*data, backend="lightgbm", n_jobs=1)
    # Both put all importance on each FoV's own code. With a bin per training value its
    # thresholds fall between adjacent classes, as sklearn's do (at LightGBM's default
    # 255 bins they sat at a bin edge next to a class, and later trees patched the odd
    # sample with splits on other codes: D and C 0.965 to 0.99).
    assert exact["dci_disentanglement"] >= 0.99
    assert fast["dci_disentanglement"] >= 0.99 and fast["dci_completeness"] >= 0.99
    assert fast["dci_informativeness_test"] >= 0.99
    importance = np.asarray(fast["dci_importance"])
    np.testing.assert_allclose(importance.sum(axis=0), 1.0, rtol=1e-12)
    assert np.all(np.argmax(importance, axis=0) == np.arange(len(SIZES)))

    # Duplicated codes [x, x]: LightGBM breaks the tie between two equal features by
    # index, always, so each FoV's importance sits on its first copy and completeness
    # is 1 (the exact GBT's random tie-breaks give about 1 - ln 2 / ln 6, see above).
    duplicated = np.hstack([factors_train, factors_train]).astype(float)
    duplicated_test = np.hstack([factors_test, factors_test]).astype(float)
    copies = dci.dci(duplicated, factors_train, duplicated_test, factors_test, backend="lightgbm")
    assert copies["dci_disentanglement"] >= 0.99 and copies["dci_completeness"] >= 0.99


def _many_class_codes(num_classes: int, per_class: int, seed: int):
    """One FoV of K classes: code [K per_class, 2] = (class / K + N(0, 0.001^2), N(0, 1)),
    separable on its first dimension (Bayes accuracy 0.99 at K = 183)."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(num_classes), per_class))
    codes = np.stack(
        [labels / num_classes + 1e-3 * rng.normal(size=len(labels)), rng.normal(size=len(labels))],
        axis=1,
    )
    return codes, labels[:, None]


@pytest.mark.parametrize("num_classes", [2, 6, 40, 100, 183])
def test_lightgbm_agrees_with_exact_on_many_classes(num_classes):
    # 2 to 183 classes: every registered dataset's FoVs (Cars3D's 183 cars, COIL-100's
    # 100 objects), 20 training samples per class as in the presets. LightGBM's defaults
    # gave 0.13 test accuracy at 100 classes and 0.05 at 183 (module docstring).
    codes_train, labels_train = _many_class_codes(num_classes, 20, seed=num_classes)
    codes_test, labels_test = _many_class_codes(num_classes, 10, seed=1000 + num_classes)
    accuracy = {}
    for backend in dci.GBT_BACKENDS:
        (model,) = dci.fit_gbts(codes_train, labels_train, backend=backend, n_jobs=1)
        accuracy[backend] = [
            np.mean(model.predict(codes) == labels[:, 0])
            for codes, labels in ((codes_train, labels_train), (codes_test, labels_test))
        ]
    assert accuracy["exact"][1] >= 0.97
    # README, "The metric suite": test accuracy within 0.035 per FoV of the exact GBT.
    np.testing.assert_allclose(accuracy["lightgbm"], accuracy["exact"], atol=0.035)


def test_lightgbm_fit_is_deterministic():
    factors_train, factors_test = split(6)
    rng = np.random.default_rng(7)
    codes_train = factors_train + 0.5 * rng.normal(size=factors_train.shape)  # not separable
    one = dci.fit_gbts(codes_train, factors_train, backend="lightgbm", seed=3, n_jobs=1)
    two = dci.fit_gbts(codes_train, factors_train, backend="lightgbm", seed=3, n_jobs=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a.feature_importances_, b.feature_importances_)
        np.testing.assert_array_equal(a.predict_proba(codes_train), b.predict_proba(codes_train))
    assert 0.5 < np.mean(one[2].predict(codes_train) == factors_train[:, 2]) < 1.0


def test_parallel_fit_is_deterministic_and_reusable():
    factors_train, factors_test = split(6)
    codes_train, codes_test = factors_train + 0.0, factors_test + 0.0
    gbts = dci.fit_gbts(codes_train, factors_train, seed=7, n_jobs=2)
    reused = dci.dci(codes_train, factors_train, codes_test, factors_test, gbts=gbts)
    fresh = dci.dci(codes_train, factors_train, codes_test, factors_test, seed=7, n_jobs=1)
    assert reused == fresh
    with pytest.raises(ValueError, match="3 classifiers fitted on 3 dimensions"):
        dci.dci(codes_train, factors_train, codes_test, factors_test, gbts=gbts[:2])


def test_rejects_bad_inputs():
    factors_train, factors_test = split()
    with pytest.raises(ValueError, match=r"codes_train \(500, 3\).*codes_test \(300, 2\)"):
        dci.dci(factors_train + 0.0, factors_train, factors_test[:, :2] + 0.0, factors_test)
    with pytest.raises(ValueError, match=r"d, F >= 2.*\(500, 1\)"):
        dci.dci(factors_train[:, :1] + 0.0, factors_train, factors_test[:, :1] + 0.0, factors_test)
    with pytest.raises(ValueError, match=r"\(499, 3\).*\(500, 3\)"):
        dci.fit_gbts(np.zeros((499, 3)), factors_train)
    with pytest.raises(ValueError, match=r"backend must be one of \('exact', 'lightgbm'\)"):
        dci.fit_gbts(factors_train + 0.0, factors_train, backend="hist")
    with pytest.raises(ValueError, match=r"d, F >= 2.*\(4, 1\)"):
        dci.scores_from_importance(np.ones((4, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        dci.scores_from_importance(-np.eye(3))
