"""The `report` job: tables and figures of every (source, target) pair of a transfer workdir."""

from __future__ import annotations

import ml_collections

from drl_jax.errors import UsageError
from drl_jax.jobs import common
from drl_jax.report import write_report
from drl_jax.workdir import layout


def run(config: ml_collections.ConfigDict) -> dict[str, str]:
    """Writes WORKDIR/transfer/<pair>/results/ for every pair; returns each mean table."""
    pairs = layout.pairs(config.workdir) if config.workdir else []
    if not pairs:
        raise UsageError(
            f"No transfer results under {config.workdir}/{layout.TRANSFER}: pass "
            "--config.workdir=DIR of a transfer run."
        )
    reports = {}
    with common.hold([pair.folder for pair in pairs]):
        for pair in pairs:
            reports[pair.name] = write_report(pair, tuple(config.shared_fovs))
            print(f"{pair.name}:\n{reports[pair.name]}")
    return reports
