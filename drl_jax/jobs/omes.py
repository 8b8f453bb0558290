"""The `omes` job: score a stored representation (representations.npz + classes.csv).

Writes WORKDIR/omes.json (layout in README), WORKDIR/association_matrix.csv
(S, one row per latent dimension, inactive rows marked) and
WORKDIR/association_matrix.png (annotated heatmap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ml_collections
from etils import epath

from drl_jax import metrics
from drl_jax.evaluation import association, representations
from drl_jax.jobs import common
from drl_jax.workdir import read_json, records, write_config, write_json


def run(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """Runs the job; returns the omes.json content."""
    common.require(
        config.input,
        "No input: pass --config.input=DIR, a folder holding representations.npz and classes.csv.",
    )
    common.require(config.workdir, "No output folder: pass --config.workdir=OUT.")
    workdir = epath.Path(config.workdir)
    loaded = representations.read(config.input, config.mode)  # checks the files first
    inputs = [
        epath.Path(config.input) / name for name in (representations.NPZ, representations.CSV)
    ]
    request = {
        "input": {"folder": str(config.input), **records.file_digests(config.input, inputs)},
        "settings": {
            key: config[key] for key in ("mode", "max_pairs_per_fov", "seed", "inactive_threshold")
        },
    }
    with common.hold([workdir]):
        return _score(config, workdir, request, *loaded)


def _score(config, workdir: epath.Path, request: dict, codes, labels, names) -> dict[str, Any]:
    path = workdir / "omes.json"
    previous = read_json(path) if path.exists() and not config.overwrite else None
    reuse, why = records.reuse_decision(previous, request)
    if reuse:
        print(f"{path}: reused (same input files and settings). {why}".rstrip())
        return previous
    if why:
        print(f"{path}: {why}")
    arrays = metrics.omes_arrays(
        codes,
        labels,
        max_pairs_per_fov=config.max_pairs_per_fov,
        seed=config.seed,
        inactive_threshold=config.inactive_threshold,
    )
    arrays = {key: value[0] for key, value in arrays.items()}
    report = metrics.omes_report(arrays, names)
    report = {"request": request, "versions": records.versions(), **report}
    write_config(workdir, config.to_dict())
    title = f"S of {epath.Path(config.input).name} ({config.mode})"
    association.write(workdir, arrays, names, title)
    write_json(workdir / "omes.json", report)  # last: marks the job done
    print(summary(report, names))
    print(f"Wrote omes.json, association_matrix.csv and association_matrix.png to {workdir}")
    return report


def summary(report: dict[str, Any], names: Sequence[str]) -> str:
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
