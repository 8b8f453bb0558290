"""The reference code's representation files round-trip and bad files are named."""

import numpy as np
import pytest

from drl_jax.errors import UsageError
from drl_jax.evaluation import representations


def test_round_trip(tmp_path):
    mean = np.arange(12, dtype=np.float32).reshape(4, 3)
    labels = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])
    representations.write(tmp_path, mean, mean * 2, labels, ["shape", "scale"])
    codes, read_labels, names = representations.read(tmp_path, "sampled")
    np.testing.assert_array_equal(codes, mean * 2)
    np.testing.assert_array_equal(read_labels, labels)
    assert names == ["shape", "scale"]


def test_integral_floats_accepted_and_fractions_rejected(tmp_path):
    np.savez(tmp_path / "representations.npz", mean=np.zeros((2, 2)), sampled=np.zeros((2, 2)))
    (tmp_path / "classes.csv").write_text("shape,scale\n9.0,1\n2,3.0\n")
    assert representations.read(tmp_path)[1].tolist() == [[9, 1], [2, 3]]
    (tmp_path / "classes.csv").write_text("shape,scale\n9.5,1\n2,3\n")
    with pytest.raises(UsageError, match="line 2, FoV 'shape': '9.5'"):
        representations.read(tmp_path)


def test_row_mismatch_and_nan_are_named(tmp_path):
    np.savez(tmp_path / "representations.npz", mean=np.zeros((3, 2)), sampled=np.zeros((3, 2)))
    (tmp_path / "classes.csv").write_text("a\n1\n2\n")
    with pytest.raises(UsageError, match="2 rows but .* has 3"):
        representations.read(tmp_path)
    mean = np.zeros((2, 2))
    mean[1, 0] = np.nan
    np.savez(tmp_path / "representations.npz", mean=mean, sampled=mean)
    with pytest.raises(UsageError, match=r"NaN or inf \(first at index \(1, 0\)\)"):
        representations.read(tmp_path)
