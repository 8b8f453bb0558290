"""The `study` job: every metrics.json of a workdir in one table, the paper's summary tables
across its transfers, and the metric-analysis figures (drl_jax.report.study)."""

from __future__ import annotations

import ml_collections

from drl_jax.errors import UsageError
from drl_jax.jobs import common
from drl_jax.report import StudyResult, write_study
from drl_jax.workdir import layout


def run(config: ml_collections.ConfigDict) -> StudyResult:
    """Writes WORKDIR/study/ (unless no input changed since the last study); returns where."""
    if not config.workdir:
        raise UsageError("No workdir: pass --config.workdir=DIR (a folder holding metrics.json).")
    with common.hold([layout.study_dir(config.workdir)]):
        result = write_study(config.workdir, force=config.force)
    if result.up_to_date:
        print(f"Study up to date (no metrics.json changed): {result.folder / 'README.md'}")
    else:
        print(f"{result.summary}Study: {result.folder / 'README.md'}")
    return result
