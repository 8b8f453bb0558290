"""Multi-host runs on one machine: groups of processes with 4 virtual CPU devices each,
joined through jax.distributed (drl_jax.runtime), against a single-process run."""

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import ROOT

from drl_jax.train import checkpoint as ckpt

WORKER = Path(__file__).with_name("worker.py")
# Four models (seeds 0, 1 x beta 1, 2) of the sweep preset, a few steps of the dlib model.
SWEEP = (
    "sweep,sweep.seeds=(0, 1),model.architecture=dlib,train.batch_size=8,train.steps=4,"
    "train.steps_per_call=2,train.log_steps=2,train.ckpt_steps=2,train.image_steps=4,"
    "train.learning_rate=1e-3,method.hparams.warmup_steps=0.0"
)
MODELS = [f"ada_gvae_beta{b}_seed{s}" for b in (1, 2) for s in (0, 1)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(args, processes: int, devices: int) -> list[subprocess.Popen]:
    """Starts a group of `processes` workers with `devices` CPU devices each."""
    port = _free_port()
    group = []
    for index in range(processes):
        env = dict(
            os.environ,
            XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
            JAX_PLATFORMS="cpu",
            JAX_DISABLE_MOST_OPTIMIZATIONS="1",  # Tiny runs: compile fast.
            # A compilation cache of this test's own: with a shared one, a process that finds
            # its programs cached races ahead of one that compiles, and CPU collectives give
            # up after 30 s waiting for it (Gloo's key-value timeout).
            JAX_COMPILATION_CACHE_DIR=str(Path(args[1]).parent / "xla_cache"),
        )
        if processes > 1:
            env.update(
                DRL_JAX_COORDINATOR=f"localhost:{port}",
                DRL_JAX_NUM_PROCESSES=str(processes),
                DRL_JAX_PROCESS_ID=str(index),
            )
        group.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), *map(str, args)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return group


def _finish(group) -> list[str]:
    """Waits for a group; returns each process's stdout, failing with its stderr."""
    outputs = [p.communicate(timeout=600) for p in group]
    for process, (_, stderr) in zip(group, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    return [stdout for stdout, _ in outputs]


def _held(path) -> dict[int, list[np.ndarray]]:
    """model index -> parameter leaves, from a worker's process<i>.npz."""
    saved = np.load(path)
    models = {}
    for key in sorted(saved.files, key=lambda k: tuple(map(int, k.split("/")))):
        models.setdefault(int(key.split("/")[0]), []).append(saved[key])
    return models


def _assert_close(a, b):
    """Equal up to summation order: Adam moves a weight by up to lr = 1e-3 per step even
    for a gradient near 0, so a reordered sum may move it differently; 1/20 of a step."""
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=5e-5)


def _assert_close_but_sign_flips(a, b):
    """Equal up to reordered sums where a near-zero gradient may change sign: Adam then
    moves that weight by up to 2 lr per step the other way. All but 1 weight in 1,000
    within 1/20 of a step, and every weight within the 4 steps' reach."""
    for x, y in zip(a, b, strict=True):
        difference = np.abs(x - y)
        assert np.mean(difference > 5e-5) < 1e-3, np.sort(difference.ravel())[-5:]
        assert difference.max() < 2 * 4 * 1e-3


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs at once: the sweep on 2 processes x 4 devices (models over processes),
    one model on 2 processes x 4 devices (its batch over processes), and the sweep on one
    process with 8 devices."""
    root = tmp_path_factory.mktemp("multihost")
    plan = {
        "sweep": (SWEEP + ",train.model_shards=2", 2, 4),
        "data_parallel": (SWEEP + ",sweep.seeds=(0,),sweep.hparam_values=(1.0,)", 2, 4),
        "reference": (SWEEP + ",train.model_shards=2", 1, 8),
    }
    groups = {
        name: _start(["train", root / name, preset], processes, devices)
        for name, (preset, processes, devices) in plan.items()
    }
    return root, {name: _finish(group) for name, group in groups.items()}


def test_sweep_over_two_processes_writes_each_model_once_and_equals_one_process(runs):
    root, stdouts = runs
    # The (2 model x 4 data) mesh puts models 0-1 on process 0's devices, 2-3 on process 1's.
    assert "process 0 of 2 writes models [0, 1] of 4" in stdouts["sweep"][0]
    assert "process 1 of 2 writes models [2, 3] of 4" in stdouts["sweep"][1]
    reference = _held(root / "reference" / "process0.npz")
    held = [_held(root / "sweep" / f"process{i}.npz") for i in range(2)]
    assert sorted(held[0]) == [0, 1] and sorted(held[1]) == [2, 3]
    for m in range(4):
        _assert_close(held[m // 2][m], reference[m])
    for m, model in enumerate(MODELS):
        folder = root / "sweep" / "source" / "procedural_dsprites" / model
        # Written once: one log row per log step, checkpoints equal to the process's memory.
        rows = (folder / "train_log.jsonl").read_text().splitlines()
        assert len(rows) == 2
        assert (folder / "images" / "traversals_0000004.png").exists()
        variables, step = ckpt.load_variables(folder)
        assert step == 4
        _assert_close(jax.tree.leaves(variables["params"]), held[m // 2][m])


def test_one_model_over_two_processes_ends_identical_everywhere(runs):
    root, stdouts = runs
    # Replicated over both processes' devices (its batch split over all 8): process 0 owns it.
    assert "process 0 of 2 writes models [0] of 1" in stdouts["data_parallel"][0]
    assert "process 1 of 2 writes models [] of 1: none" in stdouts["data_parallel"][1]
    copies = [_held(root / "data_parallel" / f"process{i}.npz")[0] for i in range(2)]
    for a, b in zip(*copies, strict=True):
        np.testing.assert_array_equal(a, b)
    reference = _held(root / "reference" / "process0.npz")
    # = model 0 of the sweep (beta 1, seed 0). Its batch spans 8 devices here, so every
    # gradient is a sum of 8 partial sums, added in another order.
    _assert_close_but_sign_flips(copies[0], reference[0])


def test_evaluate_over_two_processes_writes_each_model_once_and_one_table(runs):
    root, _ = runs
    stdouts = _finish(_start(["evaluate", root / "sweep"], 2, 4))
    assert "process 0 of 2 evaluates models [0, 2] of 4" in stdouts[0]
    assert "process 1 of 2 evaluates models [1, 3] of 4" in stdouts[1]
    with open(root / "sweep" / "eval" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["model_id"] for row in rows) == MODELS
    for model in MODELS:
        assert (root / "sweep" / "eval" / model / "metrics.json").exists()
        assert (root / "sweep" / "eval" / model / "representations.npz").exists()
