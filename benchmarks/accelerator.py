"""One benchmark for whatever accelerator JAX sees: training, evaluation, metrics, memory.

  python benchmarks/accelerator.py [--size full] [--convs native,patches,s2d]
      [--budget_s 420] [--out DIR]

No network and no install step (the package and its dependencies installed already).
Writes one markdown table, `accelerator_<device>.md` in `--out` (default: the current
folder), and prints it:
* training (paper architecture, Ada-GVAE, Adam, clip 1.0, batches rendered on the
  device from procedural dSprites; bench_train.py's `measure_training`): images/s of
  one model at batch 64 and 256 pairs and of sweeps of M = 4 and 20 models at batch
  64, for each convolution formulation (models/convolutions.py), with the time 400k
  steps (the paper's protocol) take per model and per 20-model sweep;
* evaluation of 100 stacked checkpoints (bench_evaluate.py's `measure`): encode 15,000
  samples and 5,000 OMES intervention pairs per FoV (procedural Shapes3D), OMES for all;
* the metric suite of one model on 15,000 samples with the fast backends (LightGBM
  GBTs, the JAX MLPs), seconds per metric;
* peak device memory, where the device reports it.
Cases are run in that order until `--budget_s` seconds have passed; the rest are listed
as skipped, so a full run ends soon after the budget. The fastest formulation per case
is marked: set convolutions.AUTO for the backend from it. `--size tiny` runs every
part at toy sizes (the test suite runs it on CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import bench_evaluate
import bench_train
import jax
import numpy as np

from drl_jax import metrics
from drl_jax.data import registry
from drl_jax.evaluation import encoding
from drl_jax.models import convolutions
from drl_jax.models.architectures import make_vae

PAPER_STEPS = 400_000


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What each part runs: (models, batch pairs) training cases, evaluation sizes."""

    architecture: str
    training: tuple[tuple[int, int], ...]
    steps_per_call: int
    calls: int
    eval_models: int
    eval_samples: int
    eval_pairs_per_fov: int
    suite_samples: int
    suite_train: int


SIZES = {
    "full": Sizes("paper", ((1, 64), (1, 256), (4, 64), (20, 64)), 4, 3, 100, 15_000, 5_000,
                  15_000, 10_000),
    "tiny": Sizes("dlib", ((2, 4),), 1, 1, 3, 300, 20, 300, 200),
}  # fmt: skip


def training_rows(sizes: Sizes, convs: list[str], deadline: float) -> list[list[str]]:
    """One row per (models, batch, formulation): rates, or 'skipped' past the deadline."""
    data = registry.load("procedural_dsprites")
    rows, fastest = [], {}
    for models, batch in sizes.training:
        for conv in convs:
            case = [conv, str(models), str(batch)]
            if time.perf_counter() > deadline:
                rows.append(case + ["skipped: time budget"] + [""] * 5)
                continue
            result = bench_train.measure_training(
                data, sizes.architecture, conv, batch, models, sizes.steps_per_call, sizes.calls
            )
            step_s = result["step_s"]
            fastest.setdefault((models, batch), []).append((step_s, len(rows)))
            rows.append(case + [
                f"{result['compile_s']:.1f}",
                f"{1000 * step_s:.1f}",
                f"{2 * batch * models / step_s:,.0f}",
                f"{models * result['flops'] / step_s / 1e12:.2f}",
                f"{PAPER_STEPS * step_s / models / 3600:.2f} h",
                f"{PAPER_STEPS * step_s / 3600:.2f} h" if models == 20 else "",
            ])  # fmt: skip
    for timings in fastest.values():
        index = min(timings)[1]
        rows[index][0] = f"**{rows[index][0]}**"
    return rows


def evaluation_rows(sizes: Sizes) -> list[list[str]]:
    """Seconds and images/s of encoding samples and pairs of M stacked models, and OMES."""
    data = registry.load("procedural_shapes3d")
    vae = make_vae(sizes.architecture, data.channels, 10)
    chunks = encoding.plan_chunks(
        vae, sizes.eval_models, data.channels, 500, encoding.memory_budget()
    )
    variables = bench_evaluate.stacked_models(vae, sizes.eval_models, data.channels)
    result = bench_evaluate.measure(
        vae, variables, data, sizes.eval_samples, sizes.eval_pairs_per_fov, chunks
    )
    split = f"calls of {chunks.models} models x {chunks.images} images"
    return [
        [f"encode {sizes.eval_samples:,} samples (+ ELBO decode), {split}",
         f"{result['samples_s']:.2f}", f"{result['sample_images'] / result['samples_s']:,.0f}"],
        [f"encode {sizes.eval_pairs_per_fov:,} intervention pairs per FoV",
         f"{result['pairs_s']:.2f}", f"{result['pair_images'] / result['pairs_s']:,.0f}"],
        [f"OMES of all {sizes.eval_models} models, one call", f"{result['omes_s']:.3f}", ""],
    ]  # fmt: skip


def suite_rows(sizes: Sizes) -> list[list[str]]:
    """Seconds per metric of one model's codes (a noisy mixture of Shapes3D's FoVs)."""
    data = registry.load("procedural_shapes3d")
    factors = np.asarray(data.space.sample(jax.random.key(2), sizes.suite_samples))
    rng = np.random.default_rng(0)
    scaled = factors / np.maximum(np.array(data.space.sizes) - 1, 1)
    codes = scaled @ rng.normal(size=(len(data.space.sizes), 10))
    codes += 0.1 * rng.normal(size=codes.shape)
    inputs = metrics.MetricInputs(codes, factors, num_train=sizes.suite_train)
    options = metrics.MetricOptions(gbt_backend="lightgbm", mlp_backend="jax")
    names = ("omes", "mig", "dci", "sap", "modularity", "downstream")
    _, seconds = metrics.score(inputs, names, options)
    rows = [[name, f"{seconds[name]:.1f}"] for name in names]
    return rows + [["total", f"{sum(seconds.values()):.1f}"]]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def peak_memory() -> str:
    """Peak bytes in use on the first device, where it reports them."""
    stats = jax.local_devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" not in stats:
        return "not reported by this device"
    return f"{stats['peak_bytes_in_use'] / 2**30:.1f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=tuple(SIZES), default="full")
    parser.add_argument("--convs", default=",".join(convolutions.FORMULATIONS))
    parser.add_argument("--budget_s", type=float, default=420.0)
    parser.add_argument("--out", default=".")
    args = parser.parse_args()
    sizes = SIZES[args.size]
    start = time.perf_counter()
    device = jax.devices()[0]
    name = f"{device.device_kind} ({device.platform}, {jax.device_count()} device(s))"
    training = training_rows(sizes, args.convs.split(","), start + args.budget_s)
    evaluation = evaluation_rows(sizes)
    suite = suite_rows(sizes)
    report = "\n\n".join([
        f"# drl_jax on {name}",
        f"jax {jax.__version__}, {os.cpu_count()} host CPUs, size `{args.size}`, "
        f"{time.perf_counter() - start:.0f} s in all; peak device memory {peak_memory()}.",
        f"## Training ({sizes.architecture} architecture, Ada-GVAE; fastest formulation "
        "per case in bold)",
        table(["conv", "models", "batch (pairs)", "compile s", "ms/step", "images/s",
               "TFLOP/s", "400k steps per model", "400k steps, 20-model sweep"], training),
        f"## Evaluation of {sizes.eval_models} stacked checkpoints (procedural Shapes3D)",
        table(["part", "seconds", "images/s"], evaluation),
        f"## Metric suite, one model, {sizes.suite_samples:,} samples (LightGBM, JAX MLP)",
        table(["metric", "seconds"], suite),
    ])  # fmt: skip
    slug = "".join(c if c.isalnum() else "_" for c in device.device_kind.lower()).strip("_")
    path = os.path.join(args.out, f"accelerator_{slug}.md")
    with open(path, "w") as file:
        file.write(report + "\n")
    print(report)
    print(f"\nWritten to {path}")


if __name__ == "__main__":
    main()
