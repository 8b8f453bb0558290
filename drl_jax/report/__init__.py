"""The paper's tables and figures from evaluated models' metrics.json files: per transfer
(write_report) and across a whole workdir (write_study)."""

from drl_jax.report.report import write_report
from drl_jax.report.study import StudyResult, write_study

__all__ = ["StudyResult", "write_report", "write_study"]
