"""Tables and figures of transfer results: `write_report` for one (source, target) pair
and `run(config)`, the `report` job, for every pair under a workdir."""

from drl_jax.report.report import run, write_report

__all__ = ["run", "write_report"]
