"""Throughput of the procedural dSprites renderer, after compilation.

    python benchmarks/bench_dsprites_render.py [--batch 1024] [--calls 20]

Prints one line: images/s of `drl_jax.data.procedural.dsprites.render`, the median over
`--calls` timed calls (each waited for with block_until_ready) on one fixed batch of uniformly
drawn FoV classes, and the device it ran on.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from drl_jax.data.procedural import dsprites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024, help="images per render call")
    parser.add_argument("--calls", type=int, default=20, help="timed calls; the median is kept")
    parser.add_argument("--seed", type=int, default=0, help="seed of the FoV classes")
    args = parser.parse_args()

    sizes = jnp.asarray(dsprites.FACTOR_SIZES)
    classes = jax.random.randint(jax.random.key(args.seed), (args.batch, 5), 0, sizes)
    dsprites.render(classes).block_until_ready()  # compile
    seconds = []
    for _ in range(args.calls):
        start = time.perf_counter()
        dsprites.render(classes).block_until_ready()
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(
        f"dsprites render: {args.batch / median:,.0f} images/s "
        f"(batch {args.batch}, median of {args.calls} calls, {median * 1e3:.2f} ms/call, "
        f"{jax.devices()[0].device_kind})"
    )


if __name__ == "__main__":
    main()
