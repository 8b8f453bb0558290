"""The `report` job: tables and figures of every (source, target) pair of a transfer workdir."""

from __future__ import annotations

import ml_collections
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.report import write_report


def run(config: ml_collections.ConfigDict) -> dict[str, str]:
    """Writes WORKDIR/transfer/<pair>/results/ for every pair; returns each mean table."""
    root = epath.Path(config.workdir) / "transfer"
    if not config.workdir or not root.exists():
        raise UsageError(
            f"No transfer results under {root}: pass --config.workdir=DIR of a transfer run."
        )
    reports = {}
    for pair_dir in sorted(d for d in root.iterdir() if "__to__" in d.name):
        reports[pair_dir.name] = write_report(pair_dir, tuple(config.shared_fovs))
        print(f"{pair_dir.name}:\n{reports[pair_dir.name]}")
    return reports
