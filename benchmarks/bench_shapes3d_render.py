"""Throughput of the procedural Shapes3D renderer, plus a grid of samples to look at.

    python benchmarks/bench_shapes3d_render.py [--batch 1024] [--supersample 1] [--out /tmp]

Prints one line (images/s: median of timed calls after compilation, and the
compile time) and writes OUT/shapes3d_samples.png, an 8 x 8 grid of renders
with random FoVs.
"""

import argparse
import pathlib
import statistics
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from drl_jax.data.procedural import shapes3d


def random_classes(key: jax.Array, batch: int) -> jax.Array:
    """Uniform FoV indices, int32 [batch, 6]."""
    keys = jax.random.split(key, len(shapes3d.FACTOR_SIZES))
    columns = [
        jax.random.randint(k, (batch,), 0, size)
        for k, size in zip(keys, shapes3d.FACTOR_SIZES, strict=True)
    ]
    return jnp.stack(columns, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--supersample", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp"))
    args = parser.parse_args()

    classes = random_classes(jax.random.key(0), args.batch)
    start = time.perf_counter()
    shapes3d.render(classes, supersample=args.supersample).block_until_ready()
    compile_s = time.perf_counter() - start
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        shapes3d.render(classes, supersample=args.supersample).block_until_ready()
        seconds.append(time.perf_counter() - start)
    images_per_s = args.batch / statistics.median(seconds)
    print(
        f"shapes3d.render batch={args.batch} supersample={args.supersample} "
        f"device={jax.devices()[0].platform}: {images_per_s:,.0f} images/s "
        f"(median of {args.repeats}), first call incl. compile {compile_s:.2f} s"
    )

    grid = np.asarray(shapes3d.render(classes[:64], supersample=args.supersample))
    grid = grid.reshape(8, 8, 64, 64, 3).transpose(0, 2, 1, 3, 4).reshape(512, 512, 3)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "shapes3d_samples.png"
    plt.imsave(path, grid)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
