"""The metric registry: fits shared between metrics belong to one call's options, and the
pruned dimensions do not depend on the metric list."""

import numpy as np
import pytest

from drl_jax.metrics import MetricInputs, MetricOptions, dci, score
from drl_jax.metrics import _dci as dci_module


def mixed_inputs(seed=0, n=600):
    """Codes that read three FoVs through noise and a mixture, split 400 / 200."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, (n, 3))
    codes = factors + rng.normal(0, 0.7, (n, 3))
    codes = np.hstack([codes, codes[:, :1] + codes[:, 1:2], rng.normal(size=(n, 1))])
    return MetricInputs(codes, factors, num_train=400)


def test_scoring_twice_with_other_options_fits_again():
    inputs = mixed_inputs()
    first = score(inputs, ("dci",), MetricOptions(gbt_backend="exact", seed=0, n_jobs=1))[0]
    second = score(inputs, ("dci",), MetricOptions(gbt_backend="lightgbm", seed=0, n_jobs=1))[0]
    # Each call's DCI is that of its own backend, as the function computes it alone.
    alone = dci(*inputs.train, *inputs.test, backend="lightgbm", seed=0, n_jobs=1)
    assert second["dci"]["dci_disentanglement"] == pytest.approx(alone["dci_disentanglement"])
    assert first["dci"]["dci_importance"] != second["dci"]["dci_importance"]
    again = score(inputs, ("dci",), MetricOptions(gbt_backend="exact", seed=0, n_jobs=1))[0]
    assert again["dci"] == first["dci"]


def test_one_gbt_fit_per_call_shared_by_dci_and_downstream(monkeypatch):
    calls = []
    fit = dci_module.fit_gbts

    def counted(*args, **kwargs):
        calls.append(kwargs["backend"])
        return fit(*args, **kwargs)

    monkeypatch.setattr(dci_module, "fit_gbts", counted)
    options = MetricOptions(gbt_backend="lightgbm", classifiers=("gbt",), n_jobs=1)
    score(mixed_inputs(), ("dci", "downstream"), options)
    assert calls == ["lightgbm"]


def test_pruned_dimensions_do_not_depend_on_the_metric_list():
    inputs = mixed_inputs()
    options = MetricOptions(gbt_backend="lightgbm", classifiers=("gbt",), n_jobs=1)
    alone = score(inputs, ("downstream",), options)[0]["downstream"]
    with_omes = score(inputs, ("omes", "downstream"), options)[0]["downstream"]
    assert alone["pruned_dims"] == with_omes["pruned_dims"]
    assert alone["gbt_pruned"] == with_omes["gbt_pruned"]
