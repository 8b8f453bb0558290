"""The association-matrix files of one model: `association_matrix.csv` and its heatmap.

CSV layout: columns `dim`, `active` (true/false), then one per FoV; one row per
latent dimension with S[h, j] (docs/method.md#omes, before removing inactive rows).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

import numpy as np
from etils import epath

from drl_jax import figures
from drl_jax.errors import UsageError
from drl_jax.workdir import write_atomic

CSV, PNG = "association_matrix.csv", "association_matrix.png"
_HOLDS = "a header dim,active,<FoV names> and one row per latent dimension"


def association_csv(s: np.ndarray, active: np.ndarray, names: Sequence[str]) -> str:
    """S [d, F] and active bool [d] as the CSV text."""
    text = io.StringIO()
    text.write(",".join(["dim", "active", *names]) + "\n")
    for h, row in enumerate(np.asarray(s)):
        values = ",".join(f"{v:.6f}" for v in row)
        text.write(f"{h},{str(bool(active[h])).lower()},{values}\n")
    return text.getvalue()


def write(
    folder: epath.PathLike, omes_arrays: Mapping[str, np.ndarray], names: Sequence[str], title: str
) -> None:
    """Writes folder/association_matrix.csv and .png from one model's OMES arrays."""
    folder = epath.Path(folder)
    s, active = omes_arrays["association"], omes_arrays["active"]
    write_atomic(folder / CSV, association_csv(s, active, names))
    figures.association_heatmap(s, active, names, folder / PNG, title=title)


def read(path: epath.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Reads an association_matrix.csv.

    Returns:
      (S float64 [d, F], active bool [d], FoV names [F]).
    """
    path = epath.Path(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    if not rows or rows[0][:2] != ["dim", "active"] or len(rows) < 2:
        raise UsageError(f"{path} is not an association matrix: it should hold {_HOLDS}.")
    names, body = rows[0][2:], [row for row in rows[1:] if row]
    try:
        if any(len(row) != len(names) + 2 or row[1] not in ("true", "false") for row in body):
            raise ValueError("a row has the wrong length or activity flag")
        s = np.array([[float(v) for v in row[2:]] for row in body])
    except ValueError as error:
        raise UsageError(f"{path}: {error} (a truncated file?); it should hold {_HOLDS}.") from None
    return s, np.array([row[1] == "true" for row in body]), names
