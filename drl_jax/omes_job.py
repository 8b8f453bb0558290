"""The OMES job: score a stored representation (representations.npz + classes.csv).

Writes WORKDIR/omes.json (layout in README), WORKDIR/association_matrix.csv
(S, one row per latent dimension, inactive rows marked) and
WORKDIR/association_matrix.png (annotated heatmap).
"""

from __future__ import annotations

import io
from typing import Any

import ml_collections
import numpy as np
from etils import epath

from drl_jax import representations
from drl_jax.errors import UsageError
from drl_jax.metrics import omes as omes_lib
from drl_jax.report import figures
from drl_jax.workdir import read_json, save_config, write_atomic, write_json


def run(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """Runs the job; returns the omes.json content."""
    if not config.input:
        raise UsageError(
            "No input: pass --config.input=DIR, a folder holding representations.npz and "
            "classes.csv."
        )
    if not config.workdir:
        raise UsageError("No output folder: pass --config.workdir=OUT.")
    workdir = epath.Path(config.workdir)
    if (workdir / "omes.json").exists() and not config.overwrite:
        print(f"{workdir / 'omes.json'} exists; pass --config.overwrite=True to recompute.")
        return read_json(workdir / "omes.json")
    codes, labels, names = representations.read(config.input, config.mode)
    result = omes_lib.omes_arrays(
        codes,
        labels,
        max_pairs_per_fov=config.max_pairs_per_fov,
        seed=config.seed,
        inactive_threshold=config.inactive_threshold,
    )
    result = {key: value[0] for key, value in result.items()}
    report = omes_lib.to_json(result, names)
    save_config(workdir, config)
    write_json(workdir / "omes.json", report)
    write_atomic(workdir / "association_matrix.csv", association_csv(result, names))
    figures.association_heatmap(
        result["association"],
        result["active"],
        names,
        workdir / "association_matrix.png",
        title=f"S of {epath.Path(config.input).name} ({config.mode})",
    )
    print(summary(report, names))
    print(f"Wrote omes.json, association_matrix.csv and association_matrix.png to {workdir}")
    return report


def association_csv(result: dict[str, np.ndarray], names: list[str]) -> str:
    """S as CSV: columns dim, active, then one per FoV; every latent dimension a row."""
    text = io.StringIO()
    text.write(",".join(["dim", "active", *names]) + "\n")
    for h, row in enumerate(result["association"]):
        values = ",".join(f"{v:.6f}" for v in row)
        text.write(f"{h},{str(bool(result['active'][h])).lower()},{values}\n")
    return text.getvalue()


def summary(report: dict[str, Any], names: list[str]) -> str:
    """A plain-text table: OMES, OS and MES per FoV at alpha 0.5, both poolings."""

    def cell(value):
        return "   -  " if value is None else f"{value:6.3f}"

    lines = [f"{'FoV':<16}{'OMES max':>10}{'OMES avg':>10}{'OS max':>8}{'MES max':>8}{'dim':>5}"]
    for name in names:
        dim = report["association"][name]
        lines.append(
            f"{name:<16}{cell(report['per_fov']['max']['0.5'][name]):>10}"
            f"{cell(report['per_fov']['avg']['0.5'][name]):>10}"
            f"{cell(report['os']['max'][name]):>8}{cell(report['mes']['max'][name]):>8}"
            f"{'-' if dim is None else dim:>5}"
        )
    lines.append(f"{'all':<16}{report['max']['0.5']:>10.3f}{report['avg']['0.5']:>10.3f}")
    if report["inactive"]:
        lines.append(f"inactive dimensions: {report['inactive']}")
    return "\n".join(lines)
