"""The evaluate job's tables: `results.json` and `results.csv`, one row per (checkpoint,
dataset) evaluated under a folder, with its headline numbers (OMES at alpha 0.5;
accuracies and scores in [0, 1])."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from etils import epath

from drl_jax.workdir import layout, read_json, write_atomic, write_json

# column -> (metric, key) of a metrics.json.
_SCALARS = {
    "mig": ("mig", "mig"),
    "dci_disentanglement": ("dci", "dci_disentanglement"),
    "dci_completeness": ("dci", "dci_completeness"),
    "dci_informativeness": ("dci", "dci_informativeness_test"),
    "sap": ("sap", "sap"),
    "modularity": ("modularity", "modularity"),
    "explicitness": ("modularity", "explicitness_test"),
    "gbt_full": ("downstream", "gbt_full"),
    "gbt_pruned": ("downstream", "gbt_pruned"),
    "mlp_full": ("downstream", "mlp_full"),
    "mlp_pruned": ("downstream", "mlp_pruned"),
    "beta_vae": ("beta_vae", "beta_vae_eval"),
    "factor_vae": ("factor_vae", "factor_vae_eval"),
    "elbo": ("elbo", "elbo"),
    "reconstruction": ("elbo", "reconstruction"),
    "irs": ("irs", "irs"),
    "dcimig": ("mi_family", "dcimig"),
    "jemmig": ("mi_family", "jemmig"),
    "mig_sup": ("mi_family", "mig_sup"),
    "infom": ("infomec", "infom"),
    "infoc": ("infomec", "infoc"),
    "infoe": ("infomec", "infoe"),
    "gaussian_total_correlation": ("unsupervised", "gaussian_total_correlation"),
    "gaussian_wasserstein_correlation_norm": (
        "unsupervised",
        "gaussian_wasserstein_correlation_norm",
    ),
    "mutual_info_score": ("unsupervised", "mutual_info_score"),
    "udr": ("udr", "score"),
}


def mean_measured(per_fov: dict[str, float | None]) -> float | None:
    """The mean over the FoVs that have a value (None if none has)."""
    values = [v for v in per_fov.values() if v is not None]
    return float(np.mean(values)) if values else None


def results_row(metrics: dict[str, Any]) -> dict[str, Any]:
    """One flat row of a model's headline numbers from its metrics.json content."""
    request = metrics["request"]
    row = {
        "model_id": request["model"]["model_id"],
        "source": request["model"]["dataset"],
        "dataset": request["dataset"]["name"],
        "checkpoint": request["checkpoint"]["which"],
        "step": request["checkpoint"]["step"],
    }
    if "omes" in metrics:
        report = metrics["omes"]
        row |= {
            "omes_max": report["max"]["0.5"],
            "omes_avg": report["avg"]["0.5"],
            "os_max": mean_measured(report["os"]["max"]),
            "mes_max": mean_measured(report["mes"]["max"]),
        }
    for column, (metric, key) in _SCALARS.items():
        if metric in metrics and key in metrics[metric]:
            row[column] = metrics[metric][key]
    return row


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of dicts as CSV, the columns in order of first appearance."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def write_tables(root: epath.PathLike) -> list[dict]:
    """Writes root/results.json and results.csv: one row per metrics.json under root (every
    checkpoint on every dataset evaluated there; process 0). Files without a request
    record (written by an older drl_jax) are left out, said in one line."""
    metrics = [read_json(path) for path in layout.find_metrics(root)]
    rows = [results_row(m) for m in metrics if "request" in m]
    if len(rows) < len(metrics):
        print(
            f"{len(metrics) - len(rows)} metrics.json under {root} have no request record "
            "(an older drl_jax wrote them): left out of results.csv."
        )
    if jax.process_index() != 0 or not rows:
        return rows
    root = epath.Path(root)
    write_json(root / "results.json", rows)
    write_atomic(root / "results.csv", rows_to_csv(rows))
    return rows
