"""The paper's transfer tables from per-model metrics.json files (docs/transfer.md#results-tables).

For a (source, target) pair: per target FoV and "All", the mean over models
before fine-tuning with the change after it in parentheses, in percent, e.g.
`51.3 (+16.7)`; a second table gives the standard deviations over models.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

ALL = "All"
# The machine-readable table's columns (csv_rows): values in [0, 1], NaN written as "".
CSV_HEADER = ("fov", "metric", "before", "after", "change", "std_before", "std_after")


def fov_names(metrics: dict[str, Any]) -> list[str]:
    """The FoV names of a metrics.json: its OMES association's keys, else fov0, fov1, ...
    (as many as its MIG per-FoV scores)."""
    if "omes" in metrics:
        return list(metrics["omes"]["association"])
    return [f"fov{j}" for j in range(len(metrics.get("mig", {}).get("mig_per_fov", ())))]


def paired(before: Sequence[dict], after: Sequence[dict]) -> list[dict]:
    """The `before` metrics of the models that also have `after` ones (all of them while none
    has), so that a mean and its change are over the same models."""
    finished = {m["request"]["model"]["model_id"] for m in after}
    return [m for m in before if m["request"]["model"]["model_id"] in finished] or list(before)


def _downstream(key):
    def per_fov(m, j):
        values = m.get("downstream", {}).get(f"{key}_per_fov")
        return None if values is None else values[j]

    def overall(m):
        return m.get("downstream", {}).get(key)

    return per_fov, overall


def _omes_part(part):
    def per_fov(m, j):
        if "omes" not in m:
            return None
        return list(m["omes"][part]["max"].values())[j]

    def overall(m):
        if "omes" not in m:
            return None
        values = [v for v in m["omes"][part]["max"].values() if v is not None]
        return float(np.mean(values)) if values else None

    return per_fov, overall


def _omes_score(m, j):
    return None if "omes" not in m else list(m["omes"]["per_fov"]["max"]["0.5"].values())[j]


def _mig_fov(m, j):
    return m["mig"]["mig_per_fov"][j] if "mig" in m else None


# column -> (label, per-FoV getter (metrics, j), "All" getter (metrics)); None = not computed.
COLUMNS = {
    "gbt_full": ("GBT full", *_downstream("gbt_full")),
    "gbt_pruned": ("GBT pruned", *_downstream("gbt_pruned")),
    "mlp_full": ("MLP full", *_downstream("mlp_full")),
    "mlp_pruned": ("MLP pruned", *_downstream("mlp_pruned")),
    "omes": ("OMES", _omes_score, lambda m: m["omes"]["max"]["0.5"] if "omes" in m else None),
    "os": ("OS", *_omes_part("os")),
    "mes": ("MES", *_omes_part("mes")),
    "dci": ("DCI", lambda m, j: None, lambda m: m.get("dci", {}).get("dci_disentanglement")),
    "mig": ("MIG", _mig_fov, lambda m: m.get("mig", {}).get("mig")),
}


def collect(metrics: Sequence[dict[str, Any]], fovs: Sequence[str]) -> dict[str, np.ndarray]:
    """column -> float [models, F + 1] (the last column "All"); NaN where not computed."""
    table = {}
    for column, (_, per_fov, overall) in COLUMNS.items():
        rows = []
        for m in metrics:
            values = [per_fov(m, j) for j in range(len(fovs))] + [overall(m)]
            rows.append([np.nan if v is None else float(v) for v in values])
        table[column] = np.asarray(rows, np.float64).reshape(len(metrics), len(fovs) + 1)
    return table


def summarize(before: dict, after: dict) -> dict[str, dict[str, np.ndarray]]:
    """Means and standard deviations over models, before and after, per column [F + 1]."""

    def stats(values):
        with warnings.catch_warnings():  # an all-NaN column (metric not computed) stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(values, axis=0), np.nanstd(values, axis=0)

    summary = {}
    for column in COLUMNS:
        mean_before, std_before = stats(before[column])
        mean_after, std_after = stats(after[column])
        summary[column] = {
            "before": mean_before,
            "after": mean_after,
            "change": mean_after - mean_before,
            "std_before": std_before,
            "std_after": std_after,
        }
    return summary


def cell(before: float, change: float) -> str:
    """A mean and its change as the paper prints them, in percent: `51.3 (+16.7)`; '-' = NaN."""
    if np.isnan(before):
        return "-"
    if np.isnan(change):
        return f"{100 * before:.1f}"
    return f"{100 * before:.1f} ({100 * change:+.1f})"


def _std_cell(before: float, after: float) -> str:
    if np.isnan(before):
        return "-"
    return f"{100 * before:.1f} / {100 * after:.1f}"


def rows(summary, fovs: Sequence[str], shared: Sequence[str], kind: str) -> list[list[str]]:
    """Header + a row per FoV and All: kind 'mean' (`mean (+change)`) or 'std' (`a / b`)."""
    header = ["FoV"] + [COLUMNS[c][0] for c in COLUMNS]
    body = []
    for j, name in enumerate([*fovs, ALL]):
        label = f"{name}*" if name in shared else name
        cells = []
        for column in COLUMNS:
            s = summary[column]
            if kind == "mean":
                cells.append(cell(s["before"][j], s["change"][j]))
            else:
                cells.append(_std_cell(s["std_before"][j], s["std_after"][j]))
        body.append([label, *cells])
    return [header, *body]


def markdown(table: list[list[str]]) -> str:
    header, *body = table
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def csv_rows(summary, fovs: Sequence[str]) -> list[list[str]]:
    """One row per (FoV or All, column) under CSV_HEADER: mean/std before and after, in [0, 1]."""
    table = []
    for j, name in enumerate([*fovs, ALL]):
        for column in COLUMNS:
            s = summary[column]
            values = [s[k][j] for k in CSV_HEADER[2:]]
            table.append([name, column, *["" if np.isnan(v) else f"{v:.6f}" for v in values]])
    return table


def summary_csv(summary, fovs: Sequence[str]) -> str:
    """Machine-readable: CSV_HEADER and csv_rows."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([CSV_HEADER, *csv_rows(summary, fovs)])
    return text.getvalue()
