"""The paper's tables and figures from evaluated models' metrics.json files."""

from drl_jax.report.report import write_report

__all__ = ["write_report"]
