"""Training and encoding throughput, against the PyTorch reference network in the same run.

  python benchmarks/bench_train.py [--architectures paper,dlib] [--convs auto]
      [--sweeps 1,4] [--batch 64] [--steps_per_call 16] [--calls 2] [--against torch]
      [--rounds 7] [--encode_calls 3] [--in_flight 0] [--encode_only]

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
uses every core) and prints the ratio, drl_jax / PyTorch.

Then the encoder's forward pass (what evaluation runs: posterior means of one model,
batch 500, the same images on both sides, PyTorch in eval mode under inference_mode):
`--rounds` rounds (default 7), each timing `--encode_calls` batches of every side back
to back, the side that goes first rotating. One call per side is no measurement on a
machine whose cores other work shares: a round's ratio compares the sides under the
same load. The sides: drl_jax (`encoding.encode_means`, which on CPU runs the batch in
blocks of `architectures.INFERENCE_BLOCK` images, one call at a time); drl_jax with
`--in_flight` calls at once from as many host threads (default: one per core; XLA:CPU
runs each convolution on one thread, so one call leaves cores idle; the evaluate job's
`eval.workers` threads run the encoders of several models so); PyTorch on the whole
batch, as a user calls it; PyTorch over the same blocks as drl_jax (its best batch
size: blocks help it too). Printed per architecture and formulation: each side's median
images/s, the median of the per-round ratios with their spread (min-max), and the load
average before and after. `--encode_only` skips the training table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import time

import jax
import numpy as np

from drl_jax.data import registry
from drl_jax.evaluation import encoding
from drl_jax.models import convolutions
from drl_jax.models.architectures import INFERENCE_BLOCK, make_vae
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


def encoder_forward(data, architecture, conv, batch=ENCODE_BATCH):
    """(run, images): run() encodes `images` [batch, 64, 64, C] (procedural dSprites) to
    posterior means with one freshly initialised model, compiled, outputs ready on return."""
    vae = make_vae(architecture, data.channels, 10, conv)
    images = data.sample(jax.random.key(0), batch)[0]
    variables = jax.tree.map(lambda x: x[None], vae.init(jax.random.key(1), images, False))

    def run():
        return jax.block_until_ready(encoding.encode_means(vae, variables, images))

    run()  # compile
    return run, np.asarray(images)


def measure_encoding(data, architecture, conv, calls=3) -> float:
    """Encoder-forward images per second of one model at batch ENCODE_BATCH (one timing)."""
    run, images = encoder_forward(data, architecture, conv)
    return calls * len(images) / _seconds(run, calls)


def _seconds(run, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return time.perf_counter() - start


def torch_encoder_forward(torch_reference, architecture: str, images: np.ndarray, block=None):
    """run() for benchmarks/torch_reference.py's encoder on the same images (NCHW), eval
    mode, under inference_mode, the batch whole or in blocks of `block` images; seeded,
    warmed up."""
    torch = torch_reference.torch
    torch.manual_seed(0)
    model = torch_reference.make_model(architecture, images.shape[-1]).eval()
    nchw = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    x = torch.empty(nchw.shape).copy_(nchw)  # NCHW's strides (torch.rand's), whatever C is

    def run():
        with torch.inference_mode():
            if block is None:
                return model.encode_mean(x)
            return torch.cat([model.encode_mean(part) for part in x.split(block)])

    for _ in range(2):
        run()
    return run


def compare_encoding(runs: dict, rounds: int, calls: int) -> dict:
    """Interleaved timings of the encoder forwards in `runs` (name -> (run, batch)): in
    each round every side runs `calls` batches, the order rotating from round to round.
    Returns name -> images/s per round (lists of `rounds`)."""
    names = list(runs)
    rates = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            run, batch = runs[name]
            rates[name].append(calls * batch / _seconds(run, calls))
    return rates


def spread(values) -> str:
    """'median (min-max)' of values."""
    return f"{np.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def encoder_table(
    data, architectures, convs, rounds, calls, torch_reference, threads, in_flight
) -> None:
    """Prints the interleaved encoder-forward comparison (module docstring)."""
    block = INFERENCE_BLOCK.get(jax.default_backend())
    print(
        f"\nencoder forward, batch {ENCODE_BATCH}, one model: {rounds} rounds of {calls} "
        f"batches per side, order rotating; load average before {os.getloadavg()[0]:.1f}"
    )
    sides = {"jax": "drl_jax", "at once": f"{in_flight} at once", "torch": "torch"}
    if torch_reference and block:
        sides["torch blocks"] = f"torch {block}s"
    ratios = [("jax", "torch"), ("jax", "torch blocks"), ("at once", "torch blocks")]
    ratios = [(a, b) for a, b in ratios if a in sides and b in sides]
    widths = (22,) + (12,) * len(sides) + (24,) * len(ratios)
    print(_row(["case", *sides.values()] + [f"{sides[a]}/{sides[b]}" for a, b in ratios], widths))
    print(_row([""] + ["images/s"] * len(sides) + ["median (min-max)"] * len(ratios), widths))
    previous = None
    if torch_reference:
        previous = torch_reference.torch.get_num_threads()
        torch_reference.torch.set_num_threads(threads)
    pool = concurrent.futures.ThreadPoolExecutor(in_flight)
    try:
        for architecture in architectures:
            for conv in convs:
                run, images = encoder_forward(data, architecture, conv)

                def at_once(run=run):
                    for future in [pool.submit(run) for _ in range(in_flight)]:
                        future.result()

                runs = {"jax": (run, len(images)), "at once": (at_once, in_flight * len(images))}
                if torch_reference:
                    for side, side_block in (("torch", None), ("torch blocks", block)):
                        if side in sides:
                            torch_run = torch_encoder_forward(
                                torch_reference, architecture, images, side_block
                            )
                            runs[side] = (torch_run, len(images))
                rates = compare_encoding(runs, rounds, calls)
                name = convolutions.resolve(conv) + (" (auto)" if conv == "auto" else "")
                cells = [f"{architecture} {name}"] + [f"{np.median(rates[k]):.0f}" for k in sides]
                for a, b in ratios:
                    cells.append(spread([x / y for x, y in zip(rates[a], rates[b], strict=True)]))
                print(_row(cells, widths), flush=True)
    finally:
        pool.shutdown()
        if previous is not None:
            torch_reference.torch.set_num_threads(previous)
    print(f"load average after {os.getloadavg()[0]:.1f}")


def _row(cells, widths):
    return "".join(
        f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def training_table(data, args, torch_reference, threads) -> None:
    """Prints the training cases (module docstring), one PyTorch call per architecture."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default="paper,dlib")
    parser.add_argument("--convs", default="auto")
    parser.add_argument("--sweeps", default="1,4")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps_per_call", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--against", choices=["torch"], default=None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--encode_calls", type=int, default=3)
    parser.add_argument("--encode_only", action="store_true", help="only the encoder table")
    parser.add_argument("--in_flight", type=int, default=0, help="0: one per CPU core")
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
        + f"; {time.strftime('%Y-%m-%d')}"
    )
    if not args.encode_only:
        training_table(data, args, torch_reference, threads)
    encoder_table(
        data, args.architectures.split(","), args.convs.split(","), args.rounds,
        args.encode_calls, torch_reference, threads, args.in_flight or threads,
    )  # fmt: skip


if __name__ == "__main__":
    main()
