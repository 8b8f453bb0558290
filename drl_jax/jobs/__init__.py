"""The jobs the CLI runs, by name: each a module with `run(config)` that turns its ConfigDict
into typed arguments and calls the library (nothing below the jobs reads a ConfigDict).

Importing this package is light; a job's module (and JAX) loads when it runs.
"""

from __future__ import annotations

from typing import Any

NAMES = ("train", "evaluate", "omes", "transfer", "report", "study", "import_torch")


def run(config: Any) -> Any:
    """Runs job `config.job` (one of NAMES) and returns what it returns."""
    from drl_jax.jobs import evaluate, import_torch, omes, report, study, train, transfer

    runs = {
        "train": train.run,
        "evaluate": evaluate.run,
        "omes": omes.run,
        "transfer": transfer.run,
        "report": report.run,
        "study": study.run,
        "import_torch": import_torch.run,
    }
    if config.job not in runs:
        raise ValueError(f"Unknown job {config.job!r}; valid jobs: {', '.join(NAMES)}.")
    return runs[config.job](config)
