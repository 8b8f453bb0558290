"""README's Python examples and the public packages' docstring examples run as written."""

import doctest

import pytest
from conftest import ROOT

import drl_jax.data
import drl_jax.metrics
import drl_jax.metrics._irs
import drl_jax.metrics._mi_family
import drl_jax.metrics._mig
import drl_jax.metrics._omes
import drl_jax.metrics._udr
import drl_jax.metrics._unsupervised
import drl_jax.models

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_readme_examples():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, optionflags=FLAGS)
    assert result.failed == 0
    assert result.attempted >= 25  # every example block was found


def test_docs_examples():
    """The worked OMES example of docs/method.md gives the numbers it states."""
    path = ROOT / "docs" / "method.md"
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    "module",
    [
        drl_jax.data,
        drl_jax.models,
        drl_jax.metrics,
        drl_jax.metrics._omes,
        drl_jax.metrics._mig,
        drl_jax.metrics._irs,
        drl_jax.metrics._mi_family,
        drl_jax.metrics._udr,
        drl_jax.metrics._unsupervised,
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=FLAGS)
    assert result.failed == 0 and result.attempted > 0
