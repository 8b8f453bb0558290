"""Process setup before any job: the XLA compilation cache and multi-host initialisation.

Compiled programs are cached on disk (JAX's persistent compilation cache) in
$JAX_COMPILATION_CACHE_DIR, else ~/.cache/drl_jax/xla, so a rerun or a resumed run
reuses the compiled programs instead of recompiling them (a train step is the costliest
to compile).

Multi-host runs use JAX's own multi-controller runtime, set up from the environment:

* Explicit: DRL_JAX_COORDINATOR=host:port, DRL_JAX_NUM_PROCESSES=n, DRL_JAX_PROCESS_ID=i
  (optional DRL_JAX_LOCAL_DEVICE_IDS=0,1,...).
* TPU VM pod slices and SLURM jobs (under `srun`, more than one task): JAX detects
  the cluster itself, `jax.distributed.initialize()` with no arguments.
* Otherwise a single process: nothing to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

# XLA options for programs that run once or rarely (a state's initialisation, the pictures
# of an image step): compile them fast rather than make them run fast. On CPU, LLVM's
# optimisation of the initialisers' random draws is costly for every parameter shape and
# buys nothing for a program that runs once. Pass as
# `jax.jit(..., compiler_options=RUN_RARELY)`; the hot programs (train step, encoding,
# metrics) keep XLA's defaults.
RUN_RARELY = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def cluster_kind() -> str | None:
    """'explicit', 'slurm', 'tpu' or None (single process), from the environment."""
    if os.environ.get("DRL_JAX_COORDINATOR"):
        return "explicit"
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_STEP_NODELIST" in os.environ:
        return "slurm"
    if len([h for h in os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1:
        return "tpu"
    return None


def initialize() -> None:
    """Enables the compilation cache and joins a multi-host run when there is one."""
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(Path.home() / ".cache/drl_jax/xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    _join_cluster()


def _join_cluster() -> None:
    """Calls jax.distributed.initialize() when this process is part of a multi-host run."""
    kind = cluster_kind()
    if kind is None or jax.distributed.is_initialized():
        return
    if kind == "explicit":
        local = os.environ.get("DRL_JAX_LOCAL_DEVICE_IDS")
        jax.distributed.initialize(
            coordinator_address=os.environ["DRL_JAX_COORDINATOR"],
            num_processes=int(os.environ["DRL_JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["DRL_JAX_PROCESS_ID"]),
            local_device_ids=[int(i) for i in local.split(",")] if local else None,
        )
    else:
        jax.distributed.initialize()
