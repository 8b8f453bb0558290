"""OMES against the published algorithm, ground-truth codes and its edge cases."""

import json

import numpy as np
import pytest

from drl_jax.metrics import _omes as omes_lib
from drl_jax.metrics._omes import ALPHAS, POOLINGS, omes, omes_arrays, omes_from_association


def published_omes(s: np.ndarray, alpha: float, pooling: str) -> tuple[float, list[float]]:
    """docs/method.md#omes steps 3-5 written as loops, on S of the active dimensions [m, n]."""
    m, n = s.shape
    per_fov = []
    for j in range(n):
        os_ = np.array([1 - np.mean(np.abs(np.eye(n)[j] - s[h])) for h in range(m)])
        mes = np.array([1 - np.mean(np.abs(np.eye(m)[h] - s[:, j])) for h in range(m)])
        w = s[:, j]

        def pool(score, w=w):
            if pooling == "max":
                return np.max(score * w)
            return np.sum(score * w * w) / np.sum(w) if np.sum(w) > 0 else 0.0

        per_fov.append(alpha * pool(os_) + (1 - alpha) * pool(mes))
    return float(np.mean(per_fov)), per_fov


def scores(s, active=None, measured=None):
    s = np.asarray(s, np.float32)
    active = np.ones(s.shape[0], bool) if active is None else np.asarray(active)
    measured = np.ones(s.shape[1], bool) if measured is None else np.asarray(measured)
    return {k: np.asarray(v) for k, v in omes_from_association(s, active, measured).items()}


@pytest.mark.parametrize("shape", [(5, 5), (10, 5), (8, 3)])
def test_identity_association_scores_one(shape):
    result = scores(np.eye(*shape))
    np.testing.assert_allclose(result["omes"], 1.0, atol=1e-6)
    assert list(result["best_dim"]) == list(range(shape[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_published_algorithm_on_random_matrices(seed):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0, 1, (10, 5)) ** 3  # sparse-ish, like trained models
    active = rng.uniform(size=10) > 0.3
    result = scores(s, active)
    for p, pooling in enumerate(POOLINGS):
        for a, alpha in enumerate(ALPHAS):
            expected, expected_per_fov = published_omes(s[active], alpha, pooling)
            np.testing.assert_allclose(result["omes"][p, a], expected, atol=1e-5)
            np.testing.assert_allclose(result["omes_per_fov"][p, a], expected_per_fov, atol=1e-5)


def test_association_is_one_minus_abs_pearson():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(2, 3, 50, 4))
    z2[..., 0] = 2 * z1[..., 0] + 1  # correlation 1 -> S = 0
    z2[..., 1] = -z1[..., 1]  # correlation -1 -> S = 0
    valid = np.ones((3, 50), bool)
    valid[2, 40:] = False
    s = np.asarray(omes_lib.association_matrix(z1, z2, valid))
    for j in range(3):
        n = valid[j].sum()
        for h in range(4):
            expected = 1 - abs(np.corrcoef(z1[j, :n, h], z2[j, :n, h])[0, 1])
            np.testing.assert_allclose(s[h, j], expected, atol=1e-5)
    np.testing.assert_allclose(s[:2], 0.0, atol=1e-5)


def grid_labels(sizes, num, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, num) for k in sizes], axis=1)


# FoVs with many classes: uniform interventions pair distinct classes, whose
# correlation is -1/(k-1), so a perfect code has S_jj = 1 - 1/(k-1) (0.95-0.97 here).
# 20,000 samples of these 14,400 states give thousands of pairs per FoV.
SIZES = (20, 24, 30)


@pytest.fixture(scope="module")
def ground_truth():
    labels = grid_labels(SIZES, 20_000)
    rng = np.random.default_rng(1)
    codes = labels / np.array(SIZES) + rng.normal(0, 0.005, labels.shape)
    codes = np.concatenate([codes, rng.normal(0, 1e-3, (len(codes), 2))], axis=1)  # 2 inactive
    return codes.astype(np.float32), labels


def test_ground_truth_codes_score_high(ground_truth):
    codes, labels = ground_truth
    report = omes(codes, labels, ["a", "b", "c"])
    assert report["max"]["0.5"] > 0.9 and report["avg"]["0.5"] > 0.9
    assert report["association"] == {"a": 0, "b": 1, "c": 2}
    assert report["inactive"] == [3, 4]
    assert min(report["n_pairs"].values()) > 2_000
    # Known answer: S_jj = 1 - 1/(k-1) up to sampling noise: the standard error of a
    # correlation from P pairs is at most 1/sqrt(P), so allow 3 of them.
    result = omes_arrays(codes, labels)
    tolerance = 3 / np.sqrt(result["n_pairs"][0].min())
    expected = [1 - 1 / (k - 1) for k in SIZES]
    np.testing.assert_allclose(np.diag(result["association"][0][:3]), expected, atol=tolerance)


def test_rotation_scores_far_lower(ground_truth):
    codes, labels = ground_truth
    rotation = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]
    mixed = codes.copy()
    mixed[:, :3] = (codes[:, :3] - 0.5) @ rotation
    assert omes(mixed, labels)["max"]["0.5"] < omes(codes, labels)["max"]["0.5"] - 0.3


def test_permuting_and_rescaling_dimensions_changes_nothing(ground_truth):
    codes, labels = ground_truth
    order = np.array([3, 0, 2, 4, 1])
    scale = np.array([2.0, 10.0, 7.0, 4.0, 1.5], np.float32)  # inactive dims stay < 0.05
    changed = codes[:, order] * scale - 5.0
    a, b = omes_arrays(codes, labels), omes_arrays(changed, labels)
    np.testing.assert_allclose(a["omes"], b["omes"], atol=1e-5)
    np.testing.assert_allclose(a["association"][0][order], b["association"][0], atol=1e-5)
    inverse = np.argsort(order)
    assert list(b["best_dim"][0]) == list(inverse[a["best_dim"][0]])


def test_pure_noise_scores_the_chance_level():
    # Noise changes every dimension across every pair: S is all ones, so each dimension
    # "encodes" every FoV: OS = 1/n, MES = 1/m, OMES(alpha) = alpha/n + (1-alpha)/m,
    # which tends to 0 as FoVs and dimensions grow (0.1 at 10 FoVs and 10 dims). Sampled
    # correlations of independent codes are not exactly 0 (|corr| ~ 0.8/sqrt(pairs) ~ 0.02),
    # and max pooling picks the largest, hence the tolerance.
    labels = grid_labels(SIZES, 20_000)
    codes = np.random.default_rng(5).normal(size=(20_000, 10)).astype(np.float32)
    report = omes(codes, labels)
    n, m = len(SIZES), 10
    for alpha in ("0.0", "0.5", "1.0"):
        expected = float(alpha) / n + (1 - float(alpha)) / m
        assert abs(report["max"][alpha] - expected) < 0.03
        assert abs(report["avg"][alpha] - expected) < 0.03


def test_model_axis_equals_separate_calls(ground_truth):
    codes, labels = ground_truth
    noise = np.random.default_rng(9).normal(size=codes.shape).astype(np.float32)
    stack = np.stack([codes, noise, codes * 3])
    batched = omes_arrays(stack, labels)
    for m in range(3):
        single = omes_arrays(stack[m], labels)
        for key in ("omes", "omes_per_fov", "association", "best_dim"):
            np.testing.assert_allclose(batched[key][m], single[key][0], atol=1e-5)


def test_constant_dimensions_and_all_inactive_are_defined():
    labels = grid_labels((5, 6), 400)
    codes = np.zeros((400, 3), np.float32)
    codes[:, 0] = labels[:, 0]
    report = omes(codes, labels, ["x", "y"])
    assert report["inactive"] == [1, 2]
    assert report["association"]["x"] == 0
    assert report["per_fov"]["max"]["0.5"]["y"] == 0.0  # y is encoded nowhere
    assert np.isfinite(report["max"]["0.5"])
    all_inactive = omes(np.full((400, 3), 2.0, np.float32), labels, ["x", "y"])
    assert all_inactive["max"]["0.5"] == 0.0 and all_inactive["avg"]["0.5"] == 0.0
    assert all_inactive["association"] == {"x": None, "y": None}
    assert all_inactive["inactive"] == [0, 1, 2]


def test_single_valued_fov_and_too_few_pairs_are_unmeasured():
    labels = grid_labels((12, 1, 10), 3_000)
    codes = np.concatenate([labels, np.random.default_rng(0).normal(size=(3000, 1))], 1)
    report = omes(codes.astype(np.float32), labels, ["a", "single", "c"])
    assert report["n_pairs"]["single"] == 0
    assert report["per_fov"]["max"]["0.5"]["single"] is None
    measured = [report["per_fov"]["max"]["0.5"][n] for n in ("a", "c")]
    np.testing.assert_allclose(report["max"]["0.5"], np.mean(measured), atol=1e-6)
    # Two pairs only: a correlation of two points is meaningless, so unmeasured.
    few = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    result = omes(np.eye(4, 2, dtype=np.float32) + few, few, ["p", "q"])
    assert result["n_pairs"] == {"p": 2, "q": 2}
    assert result["max"]["0.5"] == 0.0 and result["per_fov"]["max"]["0.5"]["p"] is None


def test_integral_float_labels_are_accepted_and_others_rejected(ground_truth):
    codes, labels = ground_truth
    as_float = omes_arrays(codes, labels.astype(np.float64))
    np.testing.assert_allclose(as_float["omes"], omes_arrays(codes, labels)["omes"])
    bad = labels.astype(np.float64)
    bad[7, 2] = 3.5
    with pytest.raises(ValueError, match=r"index \(7, 2\) is 3.5"):
        omes(codes, bad)


@pytest.mark.parametrize(
    "codes, labels, match",
    [
        (np.full((4, 2), np.nan), np.zeros((4, 1), int), "NaN or inf"),
        (np.zeros((4, 2)), np.zeros((5, 1), int), "with the same N"),
        (np.zeros((4,)), np.zeros((4, 1), int), r"\[N, d\]"),
        (np.zeros((4, 2)), np.array([["a"]] * 4), "integer FoV classes"),
    ],
)
def test_bad_inputs_raise_clear_errors(codes, labels, match):
    with pytest.raises(ValueError, match=match):
        omes(codes, labels)


def test_paper_fig1_association_matrices_give_the_published_omes(shared_data):
    """Golden values: the two 10 x 5 matrices S of the paper's Fig. 1 (Noisy-dSprites) and the
    OMES they give (shared/data/omes_reference, 4 decimals; every dimension active)."""
    golden = json.loads((shared_data / "omes_reference" / "fig1_noisy_dsprites.json").read_text())
    expected = golden["expected_omes"]
    for model, s in golden["matrices"].items():
        s = np.asarray(s, np.float32)
        result = omes_from_association(s, np.ones(len(s), bool), np.ones(s.shape[1], bool))
        for p, pooling in enumerate(POOLINGS):
            for alpha, value in expected[model][pooling].items():
                got = float(result["omes"][p, ALPHAS.index(float(alpha))])
                assert round(got, 4) == value, (model, pooling, alpha, got)
    per_fov = expected["unsupervised_beta6_per_fov_max_alpha_0.5"]
    s = np.asarray(golden["matrices"]["unsupervised_beta6"], np.float32)
    result = omes_from_association(s, np.ones(10, bool), np.ones(5, bool))
    got = np.asarray(result["omes_per_fov"])[POOLINGS.index("max"), ALPHAS.index(0.5)]
    assert dict(zip(golden["fovs"], [round(float(v), 3) for v in got], strict=True)) == per_fov
