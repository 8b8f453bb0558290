"""Training and encoding throughput, against the PyTorch reference network in the same run.

  python benchmarks/bench_train.py [--architectures paper,dlib] [--convs auto]
      [--sweeps 1,4] [--batch 64] [--steps_per_call 16] [--calls 2] [--against torch]

Each case builds the jitted K-step train step the train job runs (Ada-GVAE, Adam, clip
1.0, batches sampled and rendered on the device from procedural dSprites, `--batch`
pairs per model and step: pairs count as two images), compiles it once (untimed,
reported apart), then times `--calls` calls of K steps (K = 16 by default; the jobs run
50-100, and a call has a fixed cost beyond its steps). Sweeps of M models are one
program. Per case: ms per step, images per second, GFLOP per step of one model (XLA's
count of a one-step program, `train.step.flops_per_step`), the achieved GFLOP/s, and
the time 400k steps (the paper's protocol) would take at that rate. `--convs` takes
convolution formulations (models/convolutions.py: native, patches, s2d) or auto.

`--against torch` (pip install 'drl_jax[bench]') times benchmarks/torch_reference.py's
network and step (the same layers and objective, written from docs/models.md; fixed
random images, so it does less work per step than drl_jax's step, which renders its
batch) with the same batch and thread count (torch.set_num_threads(os.cpu_count()): XLA
uses every core) and prints the ratio, drl_jax / PyTorch. The same for the encoder's
forward pass (what evaluation runs), batch 500, one model.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

from drl_jax.data import registry
from drl_jax.evaluation import encoding
from drl_jax.models import convolutions
from drl_jax.models.architectures import make_vae
from drl_jax.models.methods import get_method
from drl_jax.train.state import create_sweep_state, create_train_state, make_optimizer
from drl_jax.train.step import flops_per_step, make_sweep_train_steps

PAPER_STEPS = 400_000
ENCODE_BATCH = 500


def measure_training(data, architecture, conv, batch, models, steps_per_call, calls) -> dict:
    """Seconds per step, compile seconds and one model's FLOPs per step for one case."""
    vae = make_vae(architecture, data.channels, 10, conv)
    method, optimizer = get_method("ada_gvae"), make_optimizer(1e-4, 1.0)
    hparams = {"beta": np.ones(models, np.float32), "warmup_steps": np.zeros(models, np.float32)}
    keys = np.stack([jax.random.key_data(jax.random.key(seed)) for seed in range(models)])
    state = create_sweep_state(keys, vae, method, optimizer, hparams, (64, 64, data.channels))
    train_steps = make_sweep_train_steps(vae, method, optimizer, batch, steps_per_call)
    start = time.perf_counter()
    compiled = train_steps.lower(state, data).compile()
    compile_seconds = time.perf_counter() - start
    state, metrics = compiled(state, data)  # Warm-up call.
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(calls):
        state, metrics = compiled(state, data)
    jax.block_until_ready(metrics)
    seconds = (time.perf_counter() - start) / (calls * steps_per_call)
    single = create_train_state(
        jax.random.key(0), vae, method, optimizer, {"beta": 1.0, "warmup_steps": 0.0},
        (64, 64, data.channels),
    )  # fmt: skip
    flops = flops_per_step(vae, method, optimizer, batch, single, data)
    return {"step_s": seconds, "compile_s": compile_seconds, "flops": flops}


def measure_encoding(data, architecture, conv, calls=3) -> float:
    """Encoder-forward images per second of one model at batch ENCODE_BATCH."""
    vae = make_vae(architecture, data.channels, 10, conv)
    images = data.sample(jax.random.key(0), ENCODE_BATCH)[0]
    variables = jax.tree.map(lambda x: x[None], vae.init(jax.random.key(1), images, False))
    jax.block_until_ready(encoding.encode_means(vae, variables, images))
    start = time.perf_counter()
    for _ in range(calls):
        codes = encoding.encode_means(vae, variables, images)
    jax.block_until_ready(codes)
    return calls * ENCODE_BATCH / (time.perf_counter() - start)


def _row(cells, widths):
    return "".join(
        f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default="paper,dlib")
    parser.add_argument("--convs", default="auto")
    parser.add_argument("--sweeps", default="1,4")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps_per_call", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--against", choices=["torch"], default=None)
    args = parser.parse_args()
    data = registry.load("procedural_dsprites")
    threads = os.cpu_count()
    torch_reference = None
    if args.against == "torch":
        import torch_reference  # noqa: PLC0415 (optional: needs torch)
    print(
        f"machine: {platform.processor() or platform.machine()}, {threads} CPUs, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}; jax {jax.__version__}"
        + (
            f", torch {torch_reference.torch.__version__} ({threads} threads)"
            if torch_reference
            else ""
        )
    )
    print(f"Ada-GVAE, batch {args.batch} pairs per model, procedural_dsprites in the step, "
          f"K = {args.steps_per_call} steps per call")  # fmt: skip
    widths = (30, 10, 10, 10, 11, 9, 12, 10, 8)
    print(_row(("case", "compile s", "ms/step", "images/s", "GFLOP/step", "GFLOP/s",
                "400k steps", "torch i/s", "ratio"), widths))  # fmt: skip
    for architecture in args.architectures.split(","):
        torch_rate = None
        if torch_reference:
            torch_rate = torch_reference.time_train(
                architecture, data.channels, args.batch, threads=threads, steps=5
            )["images_per_s"]
        for conv in args.convs.split(","):
            name = convolutions.resolve(conv) + (" (auto)" if conv == "auto" else "")
            for models in map(int, args.sweeps.split(",")):
                result = measure_training(
                    data, architecture, conv, args.batch, models, args.steps_per_call, args.calls
                )
                images = 2 * args.batch * models / result["step_s"]
                hours = PAPER_STEPS * result["step_s"] / models / 3600
                label = f"{architecture} {name}" + (f", M={models}" if models > 1 else "")
                reference = torch_rate if models == 1 else None
                print(_row((
                    label, f"{result['compile_s']:.1f}", f"{1000 * result['step_s']:.0f}",
                    f"{images:.0f}", f"{result['flops'] / 1e9:.1f}",
                    f"{models * result['flops'] / 1e9 / result['step_s']:.1f}",
                    f"{hours:.0f} h/model", f"{reference:.0f}" if reference else "",
                    f"{images / reference:.2f}" if reference else "",
                ), widths), flush=True)  # fmt: skip
    print(f"\nencoder forward, batch {ENCODE_BATCH}, one model (images/s)")
    for architecture in args.architectures.split(","):
        torch_rate = None
        if torch_reference:
            torch_rate = torch_reference.time_encode(
                architecture, data.channels, ENCODE_BATCH, threads=threads
            )["images_per_s"]
        for conv in args.convs.split(","):
            rate = measure_encoding(data, architecture, conv)
            line = f"{architecture} {convolutions.resolve(conv)}: {rate:.0f}"
            if torch_rate:
                line += f"   torch {torch_rate:.0f}   ratio {rate / torch_rate:.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
