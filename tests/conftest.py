"""Fixtures shared by the whole test suite."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample data folder: $DRL_JAX_SHARED_DATA, else shared/data beside the repo root.

    Skips the test where the folder is absent (it is never part of the repository).
    """
    configured = os.environ.get("DRL_JAX_SHARED_DATA")
    if configured:
        path = Path(configured)
    else:
        path = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real sample data folder {path} is absent (set DRL_JAX_SHARED_DATA)")
    return path
