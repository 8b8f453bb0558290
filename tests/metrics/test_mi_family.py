"""DCIMIG, JEMMIG and MIG-sup (drl_jax/metrics/_mi_family.py): reference values, closed
forms and ground-truth codes."""

import numpy as np
import pytest
from conftest import mixed_fov_codes
from sklearn.preprocessing import minmax_scale

from drl_jax.metrics import info
from drl_jax.metrics._mi_family import _min_max_bins, dcimig, jemmig, mi_family, mig_sup

SIZES = (2, 3, 4, 5, 6, 4)


def grid_factors(n: int, sizes=SIZES, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


def reference_inputs():
    """The inputs of the reference values below: conftest's mixed codes and the same codes on
    a grid, where many values sit exactly on bin edges."""
    factors, codes = mixed_fov_codes()
    grid = np.hstack([7.0 * np.round(1.5 * codes[:, :4]) - 3.0, np.round(30 * codes[:, 4:])])
    return factors, codes, grid


# Reference values: ubisoft/ubisoft-laforge-disentanglement-metrics at commit
# 05d5667c129bc1445c343a651d26ccd2926fdde6, src/metrics/dcimig.py, jemmig.py, mig_sup.py
# (with src/utils.py), run unmodified with pyitlib 0.3.1, numpy 2.4.6, scikit-learn 1.9.1 as
# `metric(factors, codes, continuous_factors=False, nb_bins=num_bins)` on
# `reference_inputs()`. Values: (dcimig, jemmig, mig_sup).
REFERENCE = {
    ("codes", 10): (0.8074541513836938, 0.5735814279852155, 0.3140640444306871),
    ("codes", 7): (0.764264089971786, 0.5925069995093403, 0.3514116870141101),
    ("grid", 10): (0.7553327973437157, 0.5961095879330239, 0.32543492430528137),
    # With info.discretize's bins instead, DCIMIG here would be 0.7341.
    ("grid", 7): (0.7224953718782438, 0.5926191328471198, 0.35301507637286095),
}


@pytest.mark.parametrize("name, num_bins", list(REFERENCE))
def test_matches_reference(name, num_bins):
    factors, codes, grid = reference_inputs()
    result = mi_family({"codes": codes, "grid": grid}[name], factors, num_bins=num_bins)
    got = (result["dcimig"], result["jemmig"], result["mig_sup"])
    np.testing.assert_allclose(got, REFERENCE[name, num_bins], rtol=0, atol=1e-6)


def test_constant_dimension():
    factors, codes, _ = reference_inputs()
    result = mi_family(np.hstack([codes, np.full((1000, 1), 2.5)]), factors)
    # The same reference run on these codes gives the DCIMIG and JEMMIG of `codes` alone and
    # MIG-sup NaN (0 / 0); here the constant dimension's gap is 0.
    np.testing.assert_allclose(
        [result["dcimig"], result["jemmig"]], REFERENCE["codes", 10][:2], rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(result["mig_sup"], REFERENCE["codes", 10][2] * 5 / 6, atol=1e-6)
    assert result["mig_sup_per_dim"][5] == 0.0


def test_binning_is_minmax_scale_then_digitize():
    rng = np.random.default_rng(1)
    codes = np.hstack(
        [
            rng.normal(size=(600, 2)),
            7.0 * rng.integers(0, 13, (600, 2)) - 3.0,  # values on bin edges
            np.round(rng.normal(size=(600, 1)), 1),
            np.full((600, 1), -4.0),  # constant: all in the first bin
        ]
    )
    for num_bins in (2, 3, 7, 10, 20):
        scaled = minmax_scale(codes)
        expected = np.digitize(scaled, np.linspace(0, 1, num_bins + 1)[:-1], right=False)
        np.testing.assert_array_equal(_min_max_bins(codes, num_bins), expected)
    # Equal-width bins in exact arithmetic, but not info.discretize's rounding at the edges.
    assert np.any(_min_max_bins(codes, 10) != info.discretize(codes, 10))


def test_closed_form():
    # Three binary FoVs on a full grid (exactly independent); z0 copies v0, z1 = 2 v1 + v2
    # holds v1 and v2 together (4 values, 4 distinct bins).
    factors = np.array(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij")).reshape(3, -1).T
    factors = np.tile(factors, (25, 1))
    codes = np.stack([factors[:, 0], 2 * factors[:, 1] + factors[:, 2]], axis=1).astype(float)
    result = mi_family(codes, factors)
    ln2 = np.log(2)
    np.testing.assert_allclose(result["mutual_info"], [[ln2, 0, 0], [0, ln2, ln2]], atol=1e-12)
    np.testing.assert_allclose(result["code_entropy"], [ln2, 2 * ln2], atol=1e-12)
    # MIG-sup: z0's normalised MIs are (1, 0, 0), z1's (0, 1/2, 1/2).
    np.testing.assert_allclose(result["mig_sup_per_dim"], [1, 0], atol=1e-12)
    # DCIMIG: z0's gap ln 2 goes to v0, z1's gap 0 to v1: ln 2 / (3 ln 2).
    np.testing.assert_allclose(result["dcimig_per_fov"], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(result["dcimig"], 1 / 3, atol=1e-12)
    # JEMMIG: v0 is z0 exactly (1); for v1, H(v1, z1) - I(v1; z1) = 2 ln 2 - ln 2.
    shared = 1 - ln2 / (ln2 + np.log(10))
    np.testing.assert_allclose(result["jemmig_per_fov"], [1, shared, shared], atol=1e-12)
    np.testing.assert_allclose(result["jemmig"], (1 + 2 * shared) / 3, atol=1e-12)


def test_single_functions_agree_with_family():
    factors, codes, _ = reference_inputs()
    family = mi_family(codes, factors, num_bins=7)
    for function in (dcimig, jemmig, mig_sup):
        single = function(codes, factors, num_bins=7)
        assert single == {key: family[key] for key in single}


def test_ground_truth_codes():
    factors = grid_factors(2000)
    rng = np.random.default_rng(5)

    def scores(codes):
        result = mi_family(codes, factors)
        return np.array([result["dcimig"], result["jemmig"], result["mig_sup"]])

    # Identity: each class is one bin, so I(z_j; v_j) = H(v_j) = H(z_j); what is left is the
    # plug-in bias of the MI with the other FoVs (below 0.02 of the smallest entropy here).
    identity = factors.astype(float)
    assert np.all(scores(identity) >= 0.98)
    # On a full grid the FoVs are exactly independent: exactly 1.
    full = np.stack(np.meshgrid(*[np.arange(s) for s in (3, 4, 5)], indexing="ij"), -1)
    full = full.reshape(-1, 3)
    for function, key in ((dcimig, "dcimig"), (jemmig, "jemmig"), (mig_sup, "mig_sup")):
        np.testing.assert_allclose(function(full.astype(float), full)[key], 1.0, atol=1e-12)
    # Uniform noise: MI is bias only, and its 10 bins are near-uniform, so H(v, z) is close
    # to H(v) + ln 10, JEMMIG's normaliser.
    assert np.all(scores(rng.uniform(size=(2000, 6))) <= 0.05)
    # Duplicated codes [x, x]: each dimension still holds one FoV (MIG-sup) and each FoV's
    # best gap is unchanged (DCIMIG), but JEMMIG's second-best MI now equals the best, and
    # H(v, z*) = H(v), so JEMMIG_j = 1 - H(v_j) / (H(v_j) + ln 10) exactly.
    duplicated = mi_family(np.hstack([identity, identity]), factors)
    assert duplicated["dcimig"] >= 0.98 and duplicated["mig_sup"] >= 0.98
    entropy = info.entropy(factors)
    np.testing.assert_allclose(
        duplicated["jemmig_per_fov"], 1 - entropy / (entropy + np.log(10)), atol=1e-12
    )
    # Mixing FoVs 4 and 5 into two dims, z = (v4 + v5, v4 - v5): those dims are no longer
    # about one FoV each (gaps 0.19 here, not 0: v4 has 6 classes, v5 4).
    mixed = identity.copy()
    mixed[:, 4], mixed[:, 5] = identity[:, 4] + identity[:, 5], identity[:, 4] - identity[:, 5]
    assert max(mi_family(mixed, factors)["mig_sup_per_dim"][4:]) <= 0.25
    # Constant codes: no information. JEMMIG then takes dimension 0 (H = 0) for every FoV.
    constant = mi_family(np.zeros((2000, 6)), factors)
    assert constant["dcimig"] == 0.0 and constant["mig_sup"] == 0.0
    np.testing.assert_allclose(
        constant["jemmig_per_fov"], 1 - entropy / (entropy + np.log(10)), atol=1e-12
    )


def test_rejects_bad_inputs():
    factors = grid_factors(100)
    with pytest.raises(ValueError, match=r"\(99, 6\).*\(100, 6\)"):
        mi_family(np.zeros((99, 6)), factors)
    with pytest.raises(ValueError, match="NaN"):
        dcimig(np.full((100, 6), np.nan), factors)
    with pytest.raises(ValueError, match=r"JEMMIG needs at least 2 code dimensions.*\(100, 1\)"):
        jemmig(np.zeros((100, 1)), factors)
    with pytest.raises(ValueError, match=r"MIG-sup needs .* 2 FoVs.*\(100, 1\)"):
        mig_sup(np.zeros((100, 3)), factors[:, :1])
    with pytest.raises(ValueError, match=r"DCIMIG needs .* 2 FoVs"):
        dcimig(np.zeros((100, 3)), factors[:, :1])
    with pytest.raises(ValueError, match=r"single observed class.*\[1\]"):
        mi_family(np.zeros((100, 2)), np.stack([factors[:, 0], np.zeros(100, int)], axis=1))
    with pytest.raises(ValueError, match="num_bins"):
        mi_family(np.zeros((100, 6)), factors, num_bins=1)
    with pytest.raises(ValueError, match="integral"):
        mig_sup(np.zeros((100, 2)), factors[:, :2] + 0.5)
