"""Training throughput: one model at several batch sizes, and sweeps of M models as one program.

  python benchmarks/bench_train.py [--architecture paper] [--method ada_gvae]
      [--batch_sizes 32,64,128,256] [--sweeps 1,4,16] [--steps_per_call 2] [--calls 2]

Each case builds the jitted K-step train step (`make_sweep_train_steps`, the one the
train job runs, batches sampled and rendered on the device from procedural dSprites),
compiles it once (untimed: reported apart), then times `--calls` calls of K steps.
Prints per case: ms per step, images per second (pairs count two images), the FLOPs
XLA counts for one step, the achieved GFLOP/s, and the time 400k steps (the paper's
protocol) would take at that rate. Sweeps run at batch 64 per model on the mesh of all
devices (models split over the model axis when the device count allows).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

from drl_jax.data import registry
from drl_jax.models.architectures import make_vae
from drl_jax.models.methods import get_method
from drl_jax.train.state import create_sweep_state, make_optimizer
from drl_jax.train.step import make_mesh, make_sweep_train_steps

PAPER_STEPS = 400_000


def measure(data, architecture, method, batch_size, models, steps_per_call, calls) -> dict:
    """Seconds per step, compile seconds and XLA's FLOP count per step for one case."""
    vae = make_vae(architecture, data.channels, 10)
    optimizer = make_optimizer(1e-4, 1.0)
    shards = models if jax.device_count() % models == 0 else 1
    mesh = make_mesh(shards)
    keys = np.stack([jax.random.key_data(jax.random.key(seed)) for seed in range(models)])
    hparams = {
        name: np.full(models, value, np.float32)
        for name, value in {"beta": 1.0, "warmup_steps": 0.0}.items()
        if name in method.hparam_names
    }
    state = create_sweep_state(keys, vae, method, optimizer, hparams, (64, 64, data.channels), mesh)
    train_steps = make_sweep_train_steps(
        vae, method, optimizer, batch_size, steps_per_call, mesh=mesh
    )
    start = time.perf_counter()
    compiled = train_steps.lower(state, data).compile()
    compile_seconds = time.perf_counter() - start
    flops = (compiled.cost_analysis() or {}).get("flops", float("nan")) / steps_per_call
    state, metrics = compiled(state, data)  # Warm-up call.
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(calls):
        state, metrics = compiled(state, data)
    jax.block_until_ready(metrics)
    seconds = (time.perf_counter() - start) / (calls * steps_per_call)
    return {"step_s": seconds, "compile_s": compile_seconds, "flops": flops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="paper")
    parser.add_argument("--method", default="ada_gvae")
    parser.add_argument("--batch_sizes", default="32,64,128,256")
    parser.add_argument("--sweeps", default="1,4,16")
    parser.add_argument("--steps_per_call", type=int, default=2)
    parser.add_argument("--calls", type=int, default=2)
    args = parser.parse_args()
    data = registry.load("procedural_dsprites")
    method = get_method(args.method)
    images_per_item = 2 if method.needs_pairs else 1
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}; jax {jax.__version__}"
    )
    print(f"{args.architecture} architecture, {args.method}, procedural_dsprites in the step")
    header = (
        f"{'case':<22}{'compile s':>10}{'ms/step':>10}{'images/s':>10}"
        f"{'GFLOP/step':>11}{'GFLOP/s':>9}{'400k steps':>12}"
    )
    print(header)
    cases = [(f"1 model, batch {b}", b, 1) for b in map(int, args.batch_sizes.split(","))]
    cases += [(f"sweep M={m}, batch 64", 64, m) for m in map(int, args.sweeps.split(","))]
    for name, batch_size, models in cases:
        result = measure(
            data, args.architecture, method, batch_size, models, args.steps_per_call, args.calls
        )
        images = batch_size * images_per_item * models / result["step_s"]
        hours = PAPER_STEPS * result["step_s"] / 3600
        print(
            f"{name:<22}{result['compile_s']:>10.1f}{1000 * result['step_s']:>10.0f}"
            f"{images:>10.0f}{result['flops'] / 1e9:>11.1f}"
            f"{result['flops'] / 1e9 / result['step_s']:>9.1f}{hours:>10.1f} h",
            flush=True,
        )


if __name__ == "__main__":
    main()
