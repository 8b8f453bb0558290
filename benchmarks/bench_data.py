"""Data throughput: `observe` of a device table and of Coil100-Augmented's renderer; table sizes.

    python benchmarks/bench_data.py [--batch 1024] [--rows 65536] [--dataset NAME --data_dir D]

Prints one line per measurement:
* table lookup: `observe` (gather + uint8 -> float32) of a uint8 table, jitted, at
  `--batch`; a random table of `--rows` rows of 64 x 64 x 3 (the cost per batch
  does not depend on the number of rows), or a prepared grid dataset (`--dataset`).
* Coil100-Augmented renderer: `observe` of the device renderer over a random base
  table of COIL-100's full size (7,200 x 128 x 128 x 3 uint8).
* device bytes of each grid dataset's uint8 table (exact: states x 64 x 64 x C),
  and of Coil100-Augmented's base table.
images/s are the median of `--repeats` timed calls after compilation.
"""

import argparse
import math
import statistics
import time

import jax
import numpy as np

from drl_jax.data import tfds as drl_tfds
from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData, from_table
from drl_jax.data.tfds import coil_augment

# FoV sizes and channels of the grid datasets `drl_jax.data.tfds.load` returns as tables.
GRID_TABLES = {
    "dsprites": ((3, 6, 40, 32, 32), 1),
    "shapes3d": ((10, 10, 10, 8, 4, 15), 3),
    "mpi3d_toy (each mpi3d variant)": ((6, 6, 2, 3, 3, 40, 40), 3),
    "isaac3d": ((3, 4, 4, 8, 5, 4, 6, 4, 4), 3),
    "smallnorb (train + test)": ((5, 10, 9, 18, 6), 1),
    "coil100": ((100, 72), 3),
    "coil20": ((20, 72), 1),
}


def images_per_second(data: GridData, batch: int, repeats: int) -> tuple[float, float]:
    """(images/s of jitted `observe` on uniform FoV states, seconds of the first call)."""
    observe = jax.jit(lambda d, factors, key: d.observe(factors, key))
    keys = jax.random.split(jax.random.key(0), repeats + 1)
    factors = [data.space.sample(key, batch) for key in keys]
    start = time.perf_counter()
    observe(data, factors[0], keys[0]).block_until_ready()
    compile_s = time.perf_counter() - start
    seconds = []
    for key, states in zip(keys[1:], factors[1:], strict=True):
        start = time.perf_counter()
        observe(data, states, key).block_until_ready()
        seconds.append(time.perf_counter() - start)
    return batch / statistics.median(seconds), compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--dataset", default=None, help="a prepared grid dataset's load name")
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args()
    device = jax.devices()[0].platform
    rng = np.random.default_rng(0)

    if args.dataset:
        table = drl_tfds.load(args.dataset, args.data_dir)
        what = f"{args.dataset} (prepared)"
    else:
        space = FactorSpace(("row",), (args.rows,))
        table = from_table("random", space, rng.integers(0, 256, (args.rows, 64, 64, 3), np.uint8))
        what = f"random table {args.rows:,} x 64 x 64 x 3"
    rate, compile_s = images_per_second(table, args.batch, args.repeats)
    print(
        f"observe table lookup, {what}, batch={args.batch} device={device}: {rate:,.0f} images/s "
        f"(median of {args.repeats}), first call incl. compile {compile_s:.2f} s"
    )

    base_space = FactorSpace(("object", "pose"), (100, 72))
    base = rng.integers(0, 256, (base_space.num_states, 128, 128, 3), np.uint8)
    coil = coil_augment.from_base("coil100_augmented", base_space, base)
    rate, compile_s = images_per_second(coil, args.batch, args.repeats)
    print(
        f"observe coil100_augmented renderer, 7,200 base images 128 x 128 x 3, "
        f"batch={args.batch} device={device}: {rate:,.0f} images/s (median of {args.repeats}), "
        f"first call incl. compile {compile_s:.2f} s"
    )

    for name, (sizes, channels) in GRID_TABLES.items():
        states = math.prod(sizes)
        print(
            f"device table bytes {name}: {states * 64 * 64 * channels:,} "
            f"({states:,} x 64 x 64 x {channels} uint8)"
        )
    print(
        f"device table bytes coil100_augmented (base images): {base.nbytes:,} "
        "(7,200 x 128 x 128 x 3 uint8)"
    )


if __name__ == "__main__":
    main()
