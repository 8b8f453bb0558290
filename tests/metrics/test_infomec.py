"""InfoMEC (drl_jax/metrics/_infomec.py): reference values, closed forms, ground-truth codes."""

import numpy as np
import pytest
from conftest import mixed_fov_codes

from drl_jax.metrics._infomec import infomec


def reference_inputs():
    """The inputs of the reference values below: conftest's mixed codes (the fifth, with a
    range under 1/20 of the largest, is inactive), and the same codes rounded."""
    factors, codes = mixed_fov_codes()
    return factors, codes, np.round(codes)


# Reference values: kylehkhsu/latent_quantization at commit
# 9a420a33505e03914f9b4fbfcafd221d25b8162f, disentangle/metrics/infomec.py,
# `compute_infomec(factors, codes, discrete_latents)` on `reference_inputs()` (codes, and
# np.round(codes) as float with discrete_latents=True), scikit-learn 1.9.1, numpy 2.4.6,
# with two edits for those versions: `multi_class='multinomial'` dropped (the default) and
# `[0]` after `mutual_info_classif(...)` (numpy 2 no longer stores a length-1 array in a
# float). Its estimator's random_state is None, but on tie-free codes the 1e-10 noise moves
# nothing: two runs agreed to the last digit, and this code matches to 1e-14. InfoE gets
# 1e-4: the regression stops at lbfgs's tolerance, which may land differently across
# scikit-learn versions.
REFERENCE = {
    False: {
        "infom": 0.8480455059096269,
        "infoc": 0.7880665440450758,
        "infoe": 0.8890782057629284,
        "nmi": [  # to 10 decimals
            [0.8517351658, 0.0, 0.0, 0.2065498503, 0.0],
            [0.0046617874, 0.9542780474, 0.0025597599, 0.3351899598, 0.0],
            [0.0, 0.0032641557, 0.7679292391, 0.0105016844, 0.0061960549],
        ],
    },
    True: {
        "infom": 0.8279874894194088,
        "infoc": 0.7621928498267087,
        "infoe": 0.8354079459581986,
        "nmi": [  # to 10 decimals
            [0.737677944, 0.0084061316, 0.0040988313, 0.1943572428, 0.0],
            [0.0035575962, 0.8647937705, 0.0061227014, 0.3059755625, 0.0],
            [0.0060631036, 0.0147488601, 0.6767639252, 0.0137997597, 0.0],
        ],
    },
}


@pytest.mark.parametrize("discrete", [False, True])
def test_matches_reference(discrete):
    factors, codes, rounded = reference_inputs()
    result = infomec(rounded if discrete else codes, factors, discrete_latents=discrete)
    expected = REFERENCE[discrete]
    np.testing.assert_allclose(result["nmi"], expected["nmi"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["infom"], expected["infom"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["infoc"], expected["infoc"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["infoe"], expected["infoe"], rtol=0, atol=1e-4)
    assert result["active_dims"] == [True, True, True, True, False]
    assert result["infom_per_dim"][4] is None


def test_closed_forms():
    # A full grid over (v0, v1, w), FoVs (v0, v1): the plug-in MI of w with either FoV is
    # exactly 0, so w is an active dimension with no information (its share 0/0 scores 0).
    grid = np.stack(np.meshgrid(np.arange(3), np.arange(4), np.arange(2), indexing="ij"), -1)
    grid = np.tile(grid.reshape(-1, 3), (10, 1))
    factors = grid[:, :2]
    result = infomec(grid.astype(float), factors, discrete_latents=True)
    np.testing.assert_allclose(result["nmi"], [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    assert result["infom_per_dim"] == pytest.approx([1, 1, 0], abs=1e-12)
    assert result["infom"] == pytest.approx(2 / 3, abs=1e-12)
    assert result["infoc"] == pytest.approx(1.0, abs=1e-12)
    # Separable classes: the unpenalised regression drives the cross entropy towards 0
    # until its 100 iterations run out.
    assert result["infoe"] >= 0.99
    # One active dimension: InfoC has no chance level to rescale from, so it is 0.
    single = infomec(np.stack([grid[:, 0], np.zeros(len(grid))], 1), factors, discrete_latents=True)
    assert single["active_dims"] == [True, False]
    assert single["infom"] == pytest.approx(1.0) and single["infoc"] == 0.0


def test_null_model_is_uniform():
    # Codes with no information: the fitted regression is the null one, so InfoE is 0 for
    # every FoV, including the skewed one, because both cross entropies are ln K (balanced
    # class weights). Had the null been H(v) < ln K, the skewed FoV would score below 0.
    factors = reference_inputs()[0]
    for discrete in (False, True):
        result = infomec(np.zeros((1000, 3)), factors, discrete_latents=discrete)
        np.testing.assert_allclose(result["infoe_per_fov"], 0.0, atol=1e-12)
        # No active dimension: InfoM and InfoC are 0, not NaN.
        assert result["infom"] == 0.0 and result["infoc"] == 0.0
        assert result["active_dims"] == [False] * 3


def test_ground_truth_codes():
    rng = np.random.default_rng(3)
    factors = np.stack([rng.integers(0, s, 1000) for s in (3, 4, 5)], axis=1)
    # Identity: each dimension holds one FoV and nothing of the others (the k-NN estimate of
    # the cross terms is clipped at 0 or near it): InfoM, InfoC near 1 (0.99 here).
    identity = factors + 0.05 * rng.normal(size=factors.shape)
    result = infomec(identity, factors)
    assert result["infom"] >= 0.95 and result["infoc"] >= 0.95 and result["infoe"] >= 0.99
    exact = infomec(factors.astype(float), factors, discrete_latents=True)
    assert exact["infom"] >= 0.95 and exact["infoc"] >= 0.95 and exact["infoe"] >= 0.99
    # An inactive dimension (range under 1/20 of the largest) leaves InfoM and InfoC alone.
    padded = infomec(np.hstack([identity, 0.01 * rng.normal(size=(1000, 1))]), factors)
    assert padded["active_dims"] == [True, True, True, False]
    assert padded["infom"] == pytest.approx(result["infom"], abs=1e-9)
    assert padded["infoc"] == pytest.approx(result["infoc"], abs=1e-9)
    # Noise: no information and no explicitness. InfoM and InfoC are shares of estimator
    # noise here (0.66, 0.58 at this seed), not asserted.
    noise = infomec(rng.normal(size=(1000, 4)), factors)
    assert np.max(noise["nmi"]) <= 0.05 and noise["infoe"] <= 0.05


def test_seed():
    # Integer codes tie, so the estimator's tie-breaking noise (from `seed`) matters a little.
    factors = reference_inputs()[0]
    first = infomec(factors.astype(float), factors, seed=0)
    assert infomec(factors.astype(float), factors, seed=0) == first
    other = infomec(factors.astype(float), factors, seed=1)
    np.testing.assert_allclose(other["nmi"], first["nmi"], atol=0.02)


def test_rejects_bad_inputs():
    factors = reference_inputs()[0][:100]
    with pytest.raises(ValueError, match=r"\(99, 4\).*\(100, 3\)"):
        infomec(np.zeros((99, 4)), factors)
    with pytest.raises(ValueError, match="NaN"):
        infomec(np.full((100, 4), np.nan), factors)
    with pytest.raises(ValueError, match=r"at least 2 FoVs.*\(100, 1\)"):
        infomec(np.zeros((100, 4)), factors[:, :1])
    with pytest.raises(ValueError, match=r"single observed class.*\[1\]"):
        infomec(np.zeros((100, 2)), np.stack([factors[:, 0], np.zeros(100, int)], axis=1))
    with pytest.raises(ValueError, match="integral"):
        infomec(np.zeros((100, 2)), factors + 0.5)
