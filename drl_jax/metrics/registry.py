"""The metric suite by name (docs/method.md): what each metric needs and how it is computed.

`METRICS` maps a name to a `Metric`; `score(inputs, names, options)` computes the
named metrics of one model's representation (`MetricInputs`) with typed
`MetricOptions`. Metrics share what they derive: the GBTs DCI fits are the
downstream task's full-code GBTs (same backend), and OMES's best dimension per FoV
is what the pruned downstream task keeps. OMES arrays computed for many models at
once (`omes_arrays`, `omes_from_pair_codes`) can be handed in; otherwise OMES mines
pairs from the inputs' labels.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from drl_jax.data.ground_truth import GridData, GroundTruthData
from drl_jax.data.pairs import MAX_PAIRS_PER_FOV
from drl_jax.metrics import (
    _beta_vae,
    _dci,
    _downstream,
    _factor_vae,
    _infomec,
    _irs,
    _mi_family,
    _mig,
    _modularity,
    _omes,
    _sap,
    _udr,
    _unsupervised,
    interventions,
)


@dataclasses.dataclass(frozen=True)
class MetricOptions:
    """How the metrics are computed (docs/method.md#evaluation-defaults).

    Attributes:
      seed: `random_state` of every classifier.
      n_jobs: joblib workers for the classifiers (-1: all cores).
      pruning: pruned downstream inputs: "per_fov" (the paper) or "union" (the reference).
      classifiers: downstream classifiers, a subset of ("gbt", "mlp").
      gbt_backend: "exact" (sklearn) or "lightgbm" (README, "The metric suite").
      mlp_backend: "sklearn", "jax" (sklearn's protocol, every net of a model, or in the
        evaluation of all models encoded together, in one jitted program; README "The
        metric suite") or "auto": jax on GPU and TPU, sklearn on CPU.
      beta_vae_train, beta_vae_eval: BetaVAE points.
      factor_vae_train, factor_vae_eval, factor_vae_variance: FactorVAE points and the
        images of its global variance estimate.
      max_pairs_per_fov: cap on the pairs OMES mines from labels.
      inactive_threshold: std (ddof=1) under which OMES drops a dimension.
      udr_correlation: UDR's similarity of two models' dimensions, "lasso" or "spearman".
      udr_kl_threshold: UDR leaves out dimensions whose mean KL is at most this (nats).
    """

    seed: int = 0
    n_jobs: int = -1
    pruning: str = "per_fov"
    classifiers: tuple[str, ...] = _downstream.CLASSIFIERS
    gbt_backend: str = "exact"
    mlp_backend: str = "auto"
    beta_vae_train: int = 10_000
    beta_vae_eval: int = 5_000
    factor_vae_train: int = 10_000
    factor_vae_eval: int = 5_000
    factor_vae_variance: int = 10_000
    max_pairs_per_fov: int = MAX_PAIRS_PER_FOV
    inactive_threshold: float = _omes.INACTIVE_STD
    udr_correlation: str = "lasso"
    udr_kl_threshold: float = _udr.KL_THRESHOLD

    def __post_init__(self):
        object.__setattr__(self, "classifiers", tuple(self.classifiers))
        choices = {
            "pruning": (self.pruning, _downstream.PRUNINGS),
            "gbt_backend": (self.gbt_backend, _downstream.GBT_BACKENDS),
            "mlp_backend": (self.mlp_backend, _downstream.MLP_BACKENDS),
            "udr_correlation": (self.udr_correlation, _udr.CORRELATIONS),
        }
        for name, (value, valid) in choices.items():
            if value not in valid:
                raise ValueError(f"{name} must be one of {valid}, got {value!r}.")
        if not self.classifiers or not set(self.classifiers) <= set(_downstream.CLASSIFIERS):
            raise ValueError(
                f"classifiers must be a non-empty subset of {_downstream.CLASSIFIERS}, got "
                f"{self.classifiers}."
            )


@dataclasses.dataclass(frozen=True)
class MetricInputs:
    """One model's representation of N samples, and what the metrics may draw on.

    Attributes:
      codes: float [N, d] encoder means.
      factors: int [N, F] the samples' FoV classes.
      num_train: the first num_train samples train classifiers, the rest test them.
      factor_names: F names (default fov0, fov1, ...).
      data: the dataset the samples came from; BetaVAE and FactorVAE intervene on it
        through `encode` and are left out unless it is a full grid (GridData).
      encode: images float32 [B, 64, 64, C] -> codes [B, d] (a jax.tree_util.Partial).
      key: PRNG key of the intervention metrics.
      omes: this model's OMES arrays (one model's slice of `omes_arrays` or
        `omes_from_pair_codes`), when computed for many models at once; otherwise OMES
        and each FoV's OMES-best dimension come from pairs mined in the labels.
      elbo_terms: `reconstruction` and `kl` float [N] (nats, beta = 1), from encoding.
      mlp_accuracy: the downstream task's jax-MLP test accuracies, when trained for many
        models in one program (`downstream_mlp_nets`, `mlp.mlp_accuracy_models`); otherwise
        the downstream metric trains this model's own.
      intervention_points: "beta_vae" / "factor_vae" -> this model's points, when drawn for
        many models at once (`intervention_points` with their stacked encoder, this
        model's slice); otherwise each is drawn through `encode` with `key`.
    """

    codes: np.ndarray
    factors: np.ndarray
    num_train: int
    factor_names: tuple[str, ...] = ()
    data: GroundTruthData | None = None
    encode: Callable[[jax.Array], jax.Array] | None = None
    key: jax.Array | None = None
    omes: Mapping[str, np.ndarray] | None = None
    elbo_terms: Mapping[str, np.ndarray] | None = None
    mlp_accuracy: Mapping[tuple[str, str, int], float] | None = None
    intervention_points: Mapping[str, Mapping[str, Any]] | None = None

    def __post_init__(self):
        num_samples, num_factors = np.shape(self.factors)[0], np.shape(self.factors)[-1]
        if not 2 <= self.num_train <= num_samples - 2:
            raise ValueError(
                f"num_train={self.num_train} must leave at least 2 of the {num_samples} "
                "samples on each side of the train/test split."
            )
        if not self.factor_names:
            names = tuple(f"fov{j}" for j in range(num_factors))
            object.__setattr__(self, "factor_names", names)
        if len(self.factor_names) != num_factors:
            raise ValueError(f"{len(self.factor_names)} factor names for {num_factors} FoVs.")

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.codes[: self.num_train], self.factors[: self.num_train]

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.codes[self.num_train :], self.factors[self.num_train :]


class Shared:
    """What several metrics derive from one model's inputs under one MetricOptions, made
    once per `score` call: the GBTs per FoV (DCI's importances are the downstream task's
    full-code GBTs) and the OMES arrays (the pruned downstream task keeps each FoV's
    OMES-best dimension)."""

    def __init__(self, inputs: MetricInputs, options: MetricOptions):
        self.inputs, self.options = inputs, options

    @functools.cached_property
    def gbts(self) -> list:
        """One GBT per FoV of `options.gbt_backend` on the training split."""
        options = self.options
        return _dci.fit_gbts(
            *self.inputs.train,
            backend=options.gbt_backend,
            seed=options.seed,
            n_jobs=options.n_jobs,
        )

    @functools.cached_property
    def omes_arrays(self) -> Mapping[str, np.ndarray]:
        """The inputs' OMES arrays, else those of pairs mined from the labels."""
        if self.inputs.omes is not None:
            return self.inputs.omes
        options = self.options
        mined = _omes.omes_arrays(
            self.inputs.codes,
            self.inputs.factors,
            max_pairs_per_fov=options.max_pairs_per_fov,
            seed=options.seed,
            inactive_threshold=options.inactive_threshold,
        )
        return {name: value[0] for name, value in mined.items()}


class Metric(NamedTuple):
    """compute(inputs, options, shared) -> the metric's dict; `needs_grid`: it intervenes on
    a full FoV grid through the encoder (left out for labelled datasets)."""

    compute: Callable[[MetricInputs, MetricOptions, Shared], dict[str, Any]]
    needs_grid: bool = False


def _omes_metric(inputs: MetricInputs, options: MetricOptions, shared: Shared) -> dict[str, Any]:
    return _omes.omes_report(shared.omes_arrays, inputs.factor_names)


def _dci_metric(inputs: MetricInputs, options: MetricOptions, shared: Shared) -> dict[str, Any]:
    return _dci.dci(*inputs.train, *inputs.test, seed=options.seed, gbts=shared.gbts)


def _pruned_dims_per_fov(omes: Mapping[str, np.ndarray]) -> dict[int, list[int]]:
    """What the pruned downstream task keeps: each FoV's OMES-best dimension, if any."""
    return {j: [int(h)] for j, h in enumerate(omes["best_dim"]) if h >= 0}


def downstream_mlp_nets(
    omes: Mapping[str, np.ndarray], num_codes: int, options: MetricOptions
) -> dict[tuple[str, int], list[int]]:
    """The downstream metric's MLPs for a model with these OMES arrays (one model's):
    (variant, FoV j) -> the dimensions each reads, as `mlp.mlp_accuracy_models` takes them."""
    num_factors = len(omes["best_dim"])
    dims_per_fov = _pruned_dims_per_fov(omes)
    return _downstream.mlp_nets(num_codes, num_factors, dims_per_fov, options.pruning)


def _downstream_metric(
    inputs: MetricInputs, options: MetricOptions, shared: Shared
) -> dict[str, Any]:
    return _downstream.downstream(
        *inputs.train,
        *inputs.test,
        dims_per_fov=_pruned_dims_per_fov(shared.omes_arrays),
        pruning=options.pruning,
        classifiers=options.classifiers,
        gbt_backend=options.gbt_backend,
        mlp_backend=options.mlp_backend,
        seed=options.seed,
        n_jobs=options.n_jobs,
        gbts=shared.gbts if "gbt" in options.classifiers else None,
        mlp_accuracy=inputs.mlp_accuracy,
    )


INTERVENTION_METRICS = ("beta_vae", "factor_vae")


def intervention_points(
    name: str, data: GridData, encode: Callable, key: jax.Array, options: MetricOptions
) -> dict[str, jax.Array]:
    """The points the suite's BetaVAE or FactorVAE (`name`) scores: `interventions`'
    samplers with the metric's own key (folded from the inputs' `key`) and `options`'
    counts. `encode`: one model's (codes [B, d]) or M models' at once ([M, B, d]: the
    images drawn and rendered once, the arrays with a leading M axis)."""
    if name == "beta_vae":
        return interventions.beta_vae_samples(
            data, encode, jax.random.fold_in(key, 1),
            num_train=options.beta_vae_train, num_eval=options.beta_vae_eval,
        )  # fmt: skip
    if name == "factor_vae":
        return interventions.factor_vae_samples(
            data, encode, jax.random.fold_in(key, 2),
            num_train=options.factor_vae_train, num_eval=options.factor_vae_eval,
            num_variance_estimate=options.factor_vae_variance,
        )  # fmt: skip
    raise ValueError(f"{name!r} is not one of {INTERVENTION_METRICS}.")


def _points(name: str, inputs: MetricInputs, options: MetricOptions) -> dict[str, Any]:
    """The inputs' points for `name` where drawn for many models at once, else drawn here."""
    if inputs.intervention_points is not None and name in inputs.intervention_points:
        return inputs.intervention_points[name]
    return intervention_points(name, inputs.data, inputs.encode, inputs.key, options)


def _beta_vae_metric(inputs: MetricInputs, options: MetricOptions, _: Shared) -> dict[str, Any]:
    return _beta_vae.beta_vae_score(**_points("beta_vae", inputs, options), seed=options.seed)


def _factor_vae_metric(inputs: MetricInputs, options: MetricOptions, _: Shared) -> dict[str, Any]:
    return _factor_vae.factor_vae_score(**_points("factor_vae", inputs, options))


def _elbo_metric(inputs: MetricInputs, options: MetricOptions, _: Shared) -> dict[str, float]:
    del options
    if inputs.elbo_terms is None:
        raise ValueError(
            "elbo needs the reconstruction and KL terms of encoding the samples "
            "(MetricInputs.elbo_terms; the evaluation computes them)."
        )
    reconstruction = float(np.mean(inputs.elbo_terms["reconstruction"]))
    kl = float(np.mean(inputs.elbo_terms["kl"]))
    return {"elbo": -(reconstruction + kl), "reconstruction": reconstruction, "kl": kl}


METRICS: dict[str, Metric] = {
    "omes": Metric(_omes_metric),
    "mig": Metric(lambda inputs, options, shared: _mig.mig(*inputs.train)),
    "dci": Metric(_dci_metric),
    "sap": Metric(
        lambda inputs, options, shared: _sap.sap(*inputs.train, *inputs.test, seed=options.seed)
    ),
    "modularity": Metric(
        lambda inputs, options, shared: _modularity.modularity(
            *inputs.train, *inputs.test, seed=options.seed
        )
    ),
    "downstream": Metric(_downstream_metric),
    "beta_vae": Metric(_beta_vae_metric, needs_grid=True),
    "factor_vae": Metric(_factor_vae_metric, needs_grid=True),
    "elbo": Metric(_elbo_metric),
    "irs": Metric(lambda inputs, options, shared: _irs.irs(*inputs.train)),
    "unsupervised": Metric(
        lambda inputs, options, shared: _unsupervised.unsupervised(inputs.train[0])
    ),
    "mi_family": Metric(lambda inputs, options, shared: _mi_family.mi_family(*inputs.train)),
    "infomec": Metric(
        lambda inputs, options, shared: _infomec.infomec(*inputs.train, seed=options.seed)
    ),
}
# Metrics of several models at once, computed after every model's own metrics (the
# evaluation's udr_step): UDR ranks the seeds of one setting against each other.
CROSS_MODEL = ("udr",)
# The suite evaluated by default (EvaluationSettings.metrics, configs/common.py): every
# metric but InfoMEC (opt-in: its logistic regressions are the dearest host work after the
# downstream classifiers, and its InfoE overlaps their explicitness; README, "The metric
# suite") and UDR (a score relative to the other seeds of a setting evaluated with it).
DEFAULT = tuple(name for name in METRICS if name != "infomec")


def check_names(names: Sequence[str]) -> None:
    """Raises ValueError naming the unknown metrics and listing the known ones."""
    known = (*METRICS, *CROSS_MODEL)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"Unknown metrics {unknown}; valid: {', '.join(known)}.")


def score(
    inputs: MetricInputs, names: Sequence[str], options: MetricOptions = MetricOptions()
) -> tuple[dict[str, Any], dict[str, float]]:
    """Computes the named metrics (in METRICS order) of one model's representation.

    Grid metrics are left out for datasets that are not full grids, and CROSS_MODEL ones
    (which need other models) here. Wall seconds are
    given per metric; a fit shared by several metrics counts for the first.

    Returns:
      (results by metric name, wall seconds by metric name).
    """
    check_names(names)
    results, seconds = {}, {}
    shared = Shared(inputs, options)
    for name, metric in METRICS.items():
        if name not in names or (metric.needs_grid and not isinstance(inputs.data, GridData)):
            continue
        start = time.perf_counter()
        results[name] = metric.compute(inputs, options, shared)
        seconds[name] = time.perf_counter() - start
    return results, seconds
