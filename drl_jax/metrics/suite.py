"""The whole metric suite of one model (SPEC section 2), by metric name.

`score(...)` runs the requested metrics on a model's codes (train/test split)
and, for the intervention metrics (BetaVAE, FactorVAE), on fresh batches drawn
from a full-grid dataset through the model's encoder. The GBTs are fitted once
per model and shared by DCI and the downstream task. Wall seconds per metric are
returned beside the scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from drl_jax.data.ground_truth import GridData, GroundTruthData
from drl_jax.metrics import (
    beta_vae,
    dci,
    downstream,
    factor_vae,
    interventions,
    mig,
    modularity,
    sap,
)

METRICS = (
    "omes",
    "mig",
    "dci",
    "sap",
    "modularity",
    "downstream",
    "beta_vae",
    "factor_vae",
    "elbo",
)
GRID_ONLY = ("beta_vae", "factor_vae")


def check_names(names: Sequence[str]) -> None:
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise ValueError(f"Unknown metrics {unknown}; valid: {', '.join(METRICS)}.")


def association_dims(association: Mapping[str, int | None], names: Sequence[str]) -> dict:
    """OMES's FoV -> best dimension as {FoV index: [dim]} (FoVs without one left out)."""
    return {j: [association[n]] for j, n in enumerate(names) if association.get(n) is not None}


def score(
    codes: np.ndarray,
    factors: np.ndarray,
    num_train: int,
    *,
    metrics: Sequence[str],
    data: GroundTruthData,
    encode: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    association: Mapping[str, int | None] | None,
    options: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, float]]:
    """Scores codes [N, d] of samples with FoV classes factors [N, F].

    Args:
      num_train: the first num_train samples train classifiers, the rest test them.
      metrics: names from METRICS ("omes" and "elbo" are computed by the caller).
      data: the dataset the samples came from (BetaVAE/FactorVAE draw from it; they
        are skipped for datasets that are not full grids).
      encode: images [B, 64, 64, C] -> codes [B, d] (a jax.tree_util.Partial).
      key: PRNG key of the intervention metrics.
      association: OMES's FoV -> best dimension, for the pruned downstream task.
      options: seed, n_jobs, pruning, classifiers, gbt_backend ("exact", "lightgbm" or
        "hist"; DCI uses lightgbm GBTs for "lightgbm" and exact ones otherwise),
        mlp_backend ("sklearn" or "jax"), beta_vae_train, beta_vae_eval,
        factor_vae_train, factor_vae_eval, factor_vae_variance.

    Returns:
      (results by metric name, wall seconds by metric name).
    """
    check_names(metrics)
    wanted = set(metrics)
    split = (codes[:num_train], factors[:num_train], codes[num_train:], factors[num_train:])
    seed, n_jobs = options["seed"], options["n_jobs"]
    results, seconds = {}, {}

    def timed(name, function):
        start = time.perf_counter()
        results[name] = function()
        seconds[name] = time.perf_counter() - start

    if "mig" in wanted:
        timed("mig", lambda: mig.mig(split[0], split[1]))
    gbts, gbt_backend = None, options["gbt_backend"]
    dci_backend = "lightgbm" if gbt_backend == "lightgbm" else "exact"
    shared = gbt_backend == dci_backend  # downstream's full-code GBTs are DCI's
    if "dci" in wanted or ("downstream" in wanted and shared):
        start = time.perf_counter()
        gbts = dci.fit_gbts(split[0], split[1], backend=dci_backend, seed=seed, n_jobs=n_jobs)
        seconds["gbt_fit"] = time.perf_counter() - start
    if "dci" in wanted:
        timed("dci", lambda: dci.dci(*split, seed=seed, gbts=gbts))
    if "sap" in wanted:
        timed("sap", lambda: sap.sap(*split, seed=seed))
    if "modularity" in wanted:
        timed("modularity", lambda: modularity.modularity(*split, seed=seed))
    if "downstream" in wanted:
        dims = association_dims(association or {}, data.factor_names)
        timed(
            "downstream",
            lambda: downstream.downstream(
                *split,
                dims_per_fov=dims,
                pruning=options["pruning"],
                classifiers=tuple(options["classifiers"]),
                gbt_backend=gbt_backend,
                mlp_backend=options["mlp_backend"],
                seed=seed,
                n_jobs=n_jobs,
                gbts=gbts if shared else None,
            ),
        )
    if isinstance(data, GridData) and "beta_vae" in wanted:

        def run_beta_vae():
            samples = interventions.beta_vae_samples(
                data,
                encode,
                jax.random.fold_in(key, 1),
                num_train=options["beta_vae_train"],
                num_eval=options["beta_vae_eval"],
            )
            return beta_vae.beta_vae_score(**samples, seed=seed)

        timed("beta_vae", run_beta_vae)
    if isinstance(data, GridData) and "factor_vae" in wanted:

        def run_factor_vae():
            samples = interventions.factor_vae_samples(
                data,
                encode,
                jax.random.fold_in(key, 2),
                num_train=options["factor_vae_train"],
                num_eval=options["factor_vae_eval"],
                num_variance_estimate=options["factor_vae_variance"],
            )
            return factor_vae.factor_vae_score(**samples)

        timed("factor_vae", run_factor_vae)
    return results, seconds
