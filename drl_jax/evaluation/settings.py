"""What an evaluation computes, and on how much data: `EvaluationSettings`.

The defaults are the paper's protocol (docs/method.md#evaluation-defaults);
configs/common.py `evaluation` declares the same keys with the same values (a test keeps
them equal). `record` gives the settings that change a result's numbers, as its
request record holds them (drl_jax.workdir.records).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from drl_jax.data.ground_truth import GridData, GroundTruthData
from drl_jax.metrics import METRICS, MetricOptions, registry
from drl_jax.metrics._downstream import resolve_mlp_backend
from drl_jax.models import convolutions

OMES_PAIRS = ("auto", "intervene", "mine")
# Settings that change only the numbers of some metrics: recorded (and compared on a
# rerun) only when one of those metrics is asked for.
_USED_BY = {
    "omes_pairs": ("omes", "downstream"),
    "omes_pairs_per_fov": ("omes", "downstream"),
    "max_pairs_per_fov": ("omes", "downstream"),
    "inactive_threshold": ("omes", "downstream"),
    "pruning": ("downstream",),
    "classifiers": ("downstream",),
    "mlp_backend": ("downstream",),
    "gbt_backend": ("downstream", "dci"),
    "udr_correlation": ("udr",),
    "udr_kl_threshold": ("udr",),
    "beta_vae_train": ("beta_vae",),
    "beta_vae_eval": ("beta_vae",),
    "factor_vae_train": ("factor_vae",),
    "factor_vae_eval": ("factor_vae",),
    "factor_vae_variance": ("factor_vae",),
}
# Settings that never change a number (how work is split): not part of a request.
_NOT_RECORDED = ("chunk_size", "memory_budget_gb", "n_jobs", "workers")


@dataclasses.dataclass(frozen=True)
class EvaluationSettings:
    """What is evaluated and on how many samples (defaults: docs/method.md#evaluation-defaults).

    Attributes:
      metrics: names from `drl_jax.metrics.METRICS` (and "udr", ranked across models).
      num_samples: encoded samples (representations.npz); the first num_train train
        the classifiers, the rest test them.
      chunk_size: images encoded per device call (at most: fewer where the memory budget
        asks for it).
      memory_budget_gb: device memory an encoding call may use, GB; 0: half the device's
        memory where JAX reports it, a quarter of the host's on CPU. Models and images are
        split into calls that fit (`encoding.plan_chunks`), with the same results.
      conv: the encoder's convolution formulation (models/convolutions.py; same results).
      seed: the samples' and interventions' PRNG seed.
      omes_pairs: "intervene" (full grids), "mine" (pairs in the samples' labels) or
        "auto" (intervene where the dataset is a full grid).
      omes_pairs_per_fov: intervention pairs per FoV.
      workers: models scored at once on the host (threads), while the device encodes
        the next ones; 0: one per CPU core, 1: one model after another. The cores are
        shared among the workers (classifier and BLAS threads), and the numbers are the
        same for any count.
      options: how the metrics are computed.
    """

    metrics: tuple[str, ...] = registry.DEFAULT
    num_samples: int = 15_000
    num_train: int = 10_000
    chunk_size: int = 500
    memory_budget_gb: float = 0.0
    conv: str = "auto"
    seed: int = 0
    omes_pairs: str = "auto"
    omes_pairs_per_fov: int = 5_000
    workers: int = 0
    options: MetricOptions = MetricOptions()

    def __post_init__(self):
        object.__setattr__(self, "metrics", tuple(self.metrics))
        registry.check_names(self.metrics)
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0: one per CPU core), got {self.workers}.")
        if self.omes_pairs not in OMES_PAIRS:
            raise ValueError(f"omes_pairs must be one of {OMES_PAIRS}, got {self.omes_pairs!r}.")
        if not 2 <= self.num_train <= self.num_samples - 2:
            raise ValueError(
                f"num_train={self.num_train} must leave at least 2 of num_samples="
                f"{self.num_samples} on each side of the split."
            )

    def metrics_for(self, data: GroundTruthData) -> tuple[str, ...]:
        """The metrics computed on `data`: grid metrics only on full FoV grids."""
        is_grid = isinstance(data, GridData)
        return tuple(
            m for m in self.metrics if is_grid or m not in METRICS or not METRICS[m].needs_grid
        )

    def omes_pairs_for(self, data: GroundTruthData) -> str:
        """ "intervene" or "mine": the pairs of OMES and of each FoV's OMES-best dimension."""
        if self.omes_pairs != "auto":
            return self.omes_pairs
        return "intervene" if isinstance(data, GridData) else "mine"

    def record(self, data: GroundTruthData) -> dict[str, Any]:
        """The settings that change the numbers on `data`, choices such as "auto" resolved
        to what runs: the `settings` of a request record (drl_jax.workdir.records)."""
        metrics = self.metrics_for(data)
        values = {
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
            **dataclasses.asdict(self.options),
            "metrics": list(metrics),
            "conv": convolutions.resolve(self.conv),
            "omes_pairs": self.omes_pairs_for(data),
            "mlp_backend": resolve_mlp_backend(self.options.mlp_backend),
        }
        del values["options"]
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in values.items()
            if name not in _NOT_RECORDED
            and (name not in _USED_BY or set(_USED_BY[name]) & set(metrics))
        }
