"""Disentanglement metrics on numpy arrays, each a function (docs/method.md).

>>> import numpy as np
>>> from drl_jax import metrics
>>> factors = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
>>> round(metrics.mig(factors.astype(float), factors)["mig"], 3)
1.0

OMES takes codes [N, d] (or [M, N, d]) and FoV classes [N, F]; MIG, IRS, InfoMEC
and the MI family (DCIMIG, JEMMIG, MIG-sup) one split; DCI, SAP, modularity and
downstream a train and a test split; BetaVAE and FactorVAE an encoder and a
full-grid dataset to intervene on; the unsupervised scores codes alone; UDR the
codes of several models of the same inputs and their per-dimension KL.
`METRICS` is the per-model suite by name (`DEFAULT` the part evaluated by default,
`CROSS_MODEL` the metrics across models) and `score` runs it on one model's
`MetricInputs`.
"""

from drl_jax.metrics._beta_vae import beta_vae
from drl_jax.metrics._dci import dci
from drl_jax.metrics._downstream import downstream
from drl_jax.metrics._factor_vae import factor_vae
from drl_jax.metrics._infomec import infomec
from drl_jax.metrics._irs import irs
from drl_jax.metrics._mi_family import dcimig, jemmig, mi_family, mig_sup
from drl_jax.metrics._mig import mig
from drl_jax.metrics._modularity import modularity
from drl_jax.metrics._omes import (
    ALPHAS,
    POOLINGS,
    omes,
    omes_arrays,
    omes_from_association,
    omes_from_pair_codes,
    omes_report,
)
from drl_jax.metrics._sap import sap
from drl_jax.metrics._udr import udr
from drl_jax.metrics._unsupervised import unsupervised
from drl_jax.metrics.registry import (
    CROSS_MODEL,
    DEFAULT,
    METRICS,
    Metric,
    MetricInputs,
    MetricOptions,
    score,
)

__all__ = [
    "ALPHAS",
    "CROSS_MODEL",
    "DEFAULT",
    "METRICS",
    "POOLINGS",
    "Metric",
    "MetricInputs",
    "MetricOptions",
    "beta_vae",
    "dci",
    "dcimig",
    "downstream",
    "factor_vae",
    "infomec",
    "irs",
    "jemmig",
    "mi_family",
    "mig",
    "mig_sup",
    "modularity",
    "omes",
    "omes_arrays",
    "omes_from_association",
    "omes_from_pair_codes",
    "omes_report",
    "sap",
    "score",
    "udr",
    "unsupervised",
]
