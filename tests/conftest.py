"""Fixtures shared by the whole test suite."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# One on-disk XLA cache for the session and its subprocesses, every program in it however
# quick to compile: identical programs (the train step of several tests, a job's programs
# in its rerun) compile once. Set before anything imports jax.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".pytest_cache" / "xla"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# LLVM's cheap pipeline: the suite's tiny programs compile faster (test_evaluate.py in 12 %
# less time) and run about as fast; XLA's own optimizations stay on, and every number a
# test compares is computed so.
os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_llvm_disable_expensive_passes=true"]
).strip()


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
        pytest.skip(
            f"the project's shared sample data (real dSprites/COIL images, the paper's Fig. 1 "
            f"matrices; not shipped with the repository) is absent at {path}: "
            f"set DRL_JAX_SHARED_DATA to a copy"
        )
    return path


def mixed_fov_codes():
    """Seeded inputs of golden metric values (tests/metrics/test_mi_family.py,
    test_infomec.py): three FoVs of 3, 4 and 5 classes (the last skewed) for N = 1,000
    samples, and five codes: three noisy FoVs, one mixture of two, one nearly constant.

    Returns:
      (factors int [1000, 3], codes float [1000, 5]).
    """
    import numpy as np

    rng = np.random.default_rng(0)
    n = 1000
    factors = np.stack(
        [
            rng.integers(0, 3, n),
            rng.integers(0, 4, n),
            rng.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
        ],
        axis=1,
    )
    noise = rng.normal(size=(n, 5))
    codes = np.stack(
        [
            factors[:, 0] + 0.3 * noise[:, 0],
            2.0 * factors[:, 1] + 0.5 * noise[:, 1],
            factors[:, 2] + 0.4 * noise[:, 2],
            factors[:, 0] - factors[:, 1] + 0.5 * noise[:, 3],
            0.05 * noise[:, 4],
        ],
        axis=1,
    )
    return factors, codes


@pytest.fixture(scope="module")
def compile_fast():
    """XLA's cheap optimization passes (`jax_disable_most_optimizations`) for a module's
    tests and the jobs they start (`pytestmark = pytest.mark.usefixtures("compile_fast")`):
    for tests of jobs' stages, files and restarts at tiny sizes, where compiling takes most
    of the time. Every number such a test compares is computed so."""
    import jax

    previous = jax.config.values["jax_disable_most_optimizations"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
        jax.config.update("jax_disable_most_optimizations", True)
        yield
    jax.config.update("jax_disable_most_optimizations", previous)


def random_stacked_variables(vae, channels: int, models: int, seed: int = 0) -> dict:
    """Variables of `models` stacked models [M, ...] of `vae` for C=`channels` images, each
    entry drawn from N(0, 0.05^2) with numpy: no compiled initialiser (a VAE without batch
    statistics; the models differ)."""
    import jax
    import numpy as np

    from drl_jax.evaluation.encoding import _variable_shapes

    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda x: rng.normal(0, 0.05, (models, *x.shape)).astype(np.float32),
        _variable_shapes(vae, channels),
    )


def load_config(name: str, arg: str | None = None):
    """configs/<name>.py's get_config(arg), as the CLI builds it (unlocked for tests)."""
    import importlib.util
    import sys

    if str(ROOT / "configs") not in sys.path:  # config files import configs/common.py
        sys.path.insert(0, str(ROOT / "configs"))
    spec = importlib.util.spec_from_file_location(f"config_{name}", ROOT / "configs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg)


# The files that run whole jobs (subprocesses, several compiled train steps), costliest
# first (CPU seconds of a cold run: 170, 100, 85, 70, 60, 50, 50, 40, 35, 30). Each worker
# takes whole files (`--dist loadfile --no-loadscope-reorder`) in collection order, a new
# one as it runs out: these go first, so the quick files fill in around them at the end.
SLOWEST_FILES = (
    "multihost/test_multihost.py",
    "benchmarks/test_accelerator.py",
    "test_evaluate.py",
    "test_transfer.py",
    "train/test_loop.py",
    "evaluation/test_encoding.py",
    "test_main.py",
    "models/test_architectures.py",
    "train/test_step.py",
    "metrics/test_dci.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.path.relative_to(ROOT / "tests").as_posix()
        return SLOWEST_FILES.index(path) if path in SLOWEST_FILES else len(SLOWEST_FILES)

    items.sort(key=rank)  # stable: the order inside each file and among the rest is kept
