"""UDR (drl_jax/metrics/_udr.py): disentanglement_lib's numbers, known answers, bad input."""

import jax
import numpy as np
import pytest
import scipy.stats
from sklearn.linear_model import Lasso

from drl_jax.metrics import _udr
from drl_jax.metrics._udr import udr


def golden_inputs():
    """4 models x 300 inputs x 5 dims: noisy copy, permuted/scaled/sign-flipped copy,
    rotation, and a model with two collapsed dims; KL per dim straddles 0.005 and 0.01."""
    rng = np.random.RandomState(0)
    n, d = 300, 5
    base = rng.randn(n, d)
    rotation = np.linalg.qr(rng.randn(d, d))[0]
    codes = np.stack(
        [
            base + 0.1 * rng.randn(n, d),
            -base[:, [2, 0, 4, 1, 3]] * [1.0, 2.0, 0.5, 1.0, 3.0] + 0.2 * rng.randn(n, d),
            base @ rotation + 0.1 * rng.randn(n, d),
            np.concatenate([base[:, :3] + 0.3 * rng.randn(n, 3), 0.01 * rng.randn(n, 2)], axis=1),
        ]
    )
    kl = np.array(
        [
            [1.0, 0.9, 1.1, 0.8, 1.2],
            [0.7, 1.3, 0.9, 0.008, 1.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
            [1.1, 0.9, 0.6, 0.006, 0.02],
        ]
    )
    return codes, kl


# disentanglement_lib 86a644d, evaluation/udr/metrics/udr.py, run once on golden_inputs()
# in a scratch venv (gin stood in by identity decorators; scikit-learn 1.9.1):
# `compute_udr_sklearn(None, [None] * 4, np.random.RandomState(0), 10, 300,
# correlation_matrix=..., kl_filter_threshold=...)` with `_generate_representation_dataset`
# patched to return (list(codes), list(kl)). A threshold of 0.005 keeps dims that dlib has
# already zeroed (KL 0.006 and 0.008 <= 0.01): Lasso weights 0, Spearman NaN.
GOLDEN = {  # (correlation, kl_threshold): (model_scores, pairwise)
    ("lasso", 0.01): (
        [0.5722162753670583, 0.4222099263622544, 0.3697865785948147, 0.4222099263622545],
        [
            [0.0, 0.778756862801, 0.369786578595, 0.572262864705],
            [0.778569993186, 0.0, 0.371773469798, 0.422209926362],
            [0.374087633983, 0.389938776628, 0.0, 0.335238693644],
            [0.572216275367, 0.422209926362, 0.326306736029, 0.0],
        ],
    ),
    ("lasso", 0.005): (
        [0.5086366892151629, 0.3507848884685548, 0.33429771786010654, 0.3377679410898036],
        [
            [0.0, 0.69222832249, 0.369786578595, 0.508637093512],
            [0.692235931427, 0.0, 0.33429771786, 0.33776794109],
            [0.374087633983, 0.350784888469, 0.0, 0.30672866696],
            [0.508636689215, 0.33776794109, 0.297675667158, 0.0],
        ],
    ),
    ("spearman", 0.01): (
        [0.5482164818853357, 0.41772272301986474, 0.34914143619938365, 0.41772272301986474],
        [
            [0.0, 0.77073732841, 0.349141436199, 0.548216481885],
            [0.77073732841, 0.0, 0.356400896358, 0.41772272302],
            [0.349141436199, 0.356400896358, 0.0, 0.31175753984],
            [0.548216481885, 0.41772272302, 0.31175753984, 0.0],
        ],
    ),
    ("spearman", 0.005): (
        [0.331912947561906, 0.14255173949110356, 0.14255173949110356, 0.10786019458557601],
        [
            [0.0, 0.331912947562, 0.349141436199, 0.239578731714],
            [0.331912947562, 0.0, 0.142551739491, 0.0],
            [0.349141436199, 0.142551739491, 0.0, 0.107860194586],
            [0.239578731714, 0.0, 0.107860194586, 0.0],
        ],
    ),
}


@pytest.mark.parametrize("setting", sorted(GOLDEN))
def test_matches_disentanglement_lib(setting):
    correlation, threshold = setting
    expected_scores, expected_pairwise = GOLDEN[setting]
    result = udr(*golden_inputs(), correlation=correlation, kl_threshold=threshold)
    np.testing.assert_allclose(result["model_scores"], expected_scores, rtol=0, atol=1e-3)
    np.testing.assert_allclose(result["pairwise"], expected_pairwise, rtol=0, atol=1e-3)
    assert result["num_kept_dims"] == ([5, 4, 5, 4] if threshold == 0.01 else [5, 5, 5, 5])


def copies_and_a_rotation(seed=3, n=300, d=5):
    """Codes of one model, two permuted, scaled, shifted and sign-flipped copies, and a
    random rotation of it."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, d))
    models = [base]
    for _ in range(2):
        scale = rng.choice([-1.0, 1.0], d) * rng.uniform(0.5, 3.0, d)
        models.append(base[:, rng.permutation(d)] * scale + rng.uniform(-2, 2, d))
    models.append(base @ np.linalg.qr(rng.normal(size=(d, d)))[0])
    return np.stack(models), np.ones((4, d))


def test_copies_reach_the_ceiling_and_a_rotation_ranks_last():
    codes, kl = copies_and_a_rotation()
    lasso = udr(codes, kl)
    # Lasso of a standardised copy: the matching weight is 1 - alpha = 0.9 and every other
    # one is 0 (their correlations, ~1/sqrt(N), are below alpha), so each row and column
    # of R holds one 0.9 and scores 0.9^2 / 0.9.
    np.testing.assert_allclose(
        np.array(lasso["pairwise"])[:3, :3], 0.9 * (1 - np.eye(3)), atol=1e-5
    )
    # Spearman keeps the chance correlations: a column scores 1 / (1 + sum of the others).
    spearman = udr(codes, kl, correlation="spearman")
    strength = np.abs(scipy.stats.spearmanr(codes[0], codes[1])[0][:5, 5:])
    expected = 0.5 * (
        np.mean(strength.max(0) ** 2 / strength.sum(0))
        + np.mean(strength.max(1) ** 2 / strength.sum(1))
    )
    np.testing.assert_allclose(spearman["pairwise"][0][1], expected, atol=1e-5)
    assert expected > 0.8
    for result in (lasso, spearman):
        scores = result["model_scores"]
        assert np.argmin(scores) == 3 and scores[3] < min(scores[:3]) - 0.4


def test_kl_filter():
    # dlib's test_metric_kl: only the first dimension is informative (KL 1), the rest
    # uniform noise with KL 0.
    rng = np.random.default_rng(4)
    shared = rng.normal(size=(300, 1))
    codes = np.stack([np.hstack([shared, rng.random((300, 4))]) for _ in range(2)])
    kl = np.zeros((2, 5))
    kl[:, 0] = 1.0
    np.testing.assert_allclose(udr(codes, kl)["model_scores"], 0.9, atol=1e-5)
    # Keeping the zeroed dims (threshold below 0.01): Lasso rows of zeros count 0, so
    # one kept column of 5 scores 0.9 (score_x 0.9 / 5, score_y 0.9 / 5: 0.18) ...
    np.testing.assert_allclose(udr(codes, kl, kl_threshold=-1.0)["model_scores"], 0.18, atol=1e-5)
    # ... and the Spearman NaNs of the constant columns void every row and column.
    assert udr(codes, kl, correlation="spearman", kl_threshold=-1.0)["model_scores"] == [0.0, 0.0]
    # A model with no dimension above the threshold scores 0 (dlib raises).
    kl[1] = 0.0
    result = udr(codes, kl)
    assert result["model_scores"] == [0.0, 0.0] and result["num_kept_dims"] == [1, 0]


def test_relative_strength_of_hand_built_matrices():
    # dlib's test_relative_strength_disentanglement, with exact values, and a NaN entry
    # (a constant column's Spearman correlation), which voids its row and its column.
    with_nan = [[np.nan, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    cases = [
        (np.eye(3), 1.0),
        ([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], 2 / 3),
        (np.ones((3, 3)), 1 / 3),
        (np.zeros((3, 3)), 0.0),
        (with_nan, 2 / 3),
    ]
    kept = np.ones((1, 3), bool)
    for matrix, expected in cases:
        strength = np.asarray(matrix, np.float32)[None, None]
        np.testing.assert_allclose(
            _udr._relative_strength(strength, kept)[0, 0], expected, atol=1e-6
        )
    # Left-out dimensions lose their rows and columns, NaN included.
    kept = np.array([[False, True, True]])
    strength = np.asarray(with_nan, np.float32)[None, None]
    np.testing.assert_allclose(_udr._relative_strength(strength, kept)[0, 0], 1.0, atol=1e-6)


def test_average_ranks_match_scipy():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 257)).astype(np.float32)
    x[0] = np.round(x[0] * 2)  # ties
    x[1] = 0.0
    x[1, ::3] = -0.0  # equal to 0.0
    x[2] = 7.0  # all tied
    x[3, :4] = [np.inf, -np.inf, 1e-30, -1e-30]  # (XLA flushes subnormals to 0)
    ranks = jax.jit(_udr.average_ranks)(x)
    np.testing.assert_array_equal(ranks, scipy.stats.rankdata(x, axis=-1))


def test_lasso_matches_sklearn_on_correlated_codes():
    rng = np.random.default_rng(6)
    mixing = np.eye(4) + 0.6 * rng.normal(size=(4, 4))  # correlated dims
    codes = np.stack([rng.normal(size=(400, 4)) @ mixing for _ in range(2)])
    codes[1] += codes[0] @ rng.normal(size=(4, 4))
    standard = (codes - codes.mean(1, keepdims=True)) / codes.std(1, keepdims=True)
    unit = np.transpose(standard, (0, 2, 1)).reshape(8, 400) / np.sqrt(400)
    correlation = (unit @ unit.T).reshape(2, 4, 2, 4).astype(np.float32)
    strength = np.asarray(jax.jit(_udr._lasso_strength)(correlation))
    for i, j in ((0, 1), (1, 0), (0, 0)):
        fit = Lasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(standard[i], standard[j])
        np.testing.assert_allclose(strength[i, j], np.abs(fit.coef_.T), atol=2e-4)


def test_compiles_once_per_shape_and_variant(monkeypatch):
    traces = []
    original = _udr._relative_strength

    def counting(strength, kept):  # runs only while tracing
        traces.append(strength.shape)
        return original(strength, kept)

    monkeypatch.setattr(_udr, "_relative_strength", counting)
    codes = np.random.default_rng(7).normal(size=(3, 41, 2))
    for kl, threshold in ((np.ones((3, 2)), 0.01), (np.full((3, 2), 0.005), 0.001)):
        udr(codes, kl, kl_threshold=threshold)
        udr(codes.astype(np.float64) * 2, kl, kl_threshold=threshold)
    assert len(traces) == 1


def test_rejects_bad_inputs():
    codes, kl = golden_inputs()
    with pytest.raises(ValueError, match=r"\(4, 300, 5\).*\(4, 4\)"):
        udr(codes, kl[:, :4])
    with pytest.raises(ValueError, match=r"\(300, 5\)"):
        udr(codes[0], kl[0])
    with pytest.raises(ValueError, match="at least 2 models"):
        udr(codes[:1], kl[:1])
    with pytest.raises(ValueError, match="lasso"):
        udr(codes, kl, correlation="pearson")
    with pytest.raises(ValueError, match="finite"):
        udr(np.full_like(codes, np.nan), kl)
