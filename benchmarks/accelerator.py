"""One benchmark for whatever accelerator JAX sees: training, evaluation, metrics, memory.

  python benchmarks/accelerator.py [--size full] [--convs native,patches,s2d]
      [--budget_s 400] [--suite_models 4] [--suite_fraction 1] [--out DIR]

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
* the evaluate job's default suite (`EvaluationSettings()`, the metrics of
  `drl_jax.metrics.DEFAULT` with `MetricOptions()`: exact GBTs on the host, the MLPs
  as `mlp_backend="auto"` resolves) on `--suite_models` stacked checkpoints
  (bench_evaluate.py's `evaluation_costs`): seconds and images encoded per model for
  every stage and metric, BetaVAE and FactorVAE at `--suite_fraction` of their points
  (1: the defaults; less: extrapolated, marked so), and the projected time of 100
  checkpoints (the 100-model encoding above, the suite's BetaVAE and FactorVAE points
  and metrics per model times 100, compilation once); the suite scores one model (the
  job's `eval.workers` scores one per host core at once: the projection is an upper
  bound where the host's cores outnumber what one model's metrics use);
* peak device memory, where the device reports it.
Training cases start until 45% of `--budget_s` has passed (the rest are listed as
skipped); evaluation and the suite follow, whatever the time. On an H100-class GPU the
whole run is meant to take under 8 minutes at the default budget (an estimate: the
suite's host-side GBTs are the least known part; lower `--suite_fraction` or
`--budget_s` to shorten it). The fastest formulation per case is marked: set
convolutions.AUTO for the backend from it. `--size tiny` runs every part at toy sizes
(the test suite runs it on CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import bench_evaluate
import bench_train
import jax

from drl_jax import metrics
from drl_jax.data import registry
from drl_jax.evaluation import encoding
from drl_jax.evaluation.evaluate import EvaluationSettings
from drl_jax.models import convolutions
from drl_jax.models.architectures import make_vae

PAPER_STEPS = 400_000


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What each part runs: (models, batch pairs) training cases, evaluation sizes, and
    the suite's stacked checkpoints, how many of them are scored (one after another),
    samples (num_train of them train), OMES pairs per FoV and metric options."""

    architecture: str
    training: tuple[tuple[int, int], ...]
    steps_per_call: int
    calls: int
    eval_models: int
    eval_samples: int
    eval_pairs_per_fov: int
    suite_models: int
    suite_scored: int
    suite_samples: int
    suite_train: int
    suite_pairs_per_fov: int
    suite_options: metrics.MetricOptions = metrics.MetricOptions()


# Toy sizes: few intervention points, the downstream task's GBTs only, LightGBM's (the
# exact ones take 20 s here, the MLPs 5 s).
_TINY_OPTIONS = metrics.MetricOptions(
    beta_vae_train=20, beta_vae_eval=10, factor_vae_train=20, factor_vae_eval=10,
    factor_vae_variance=20, classifiers=("gbt",), gbt_backend="lightgbm",
)  # fmt: skip
SIZES = {
    "full": Sizes("paper", ((1, 64), (1, 256), (4, 64), (20, 64)), 4, 3, 100, 15_000, 5_000,
                  4, 1, 15_000, 10_000, 5_000),
    "tiny": Sizes("dlib", ((2, 4),), 1, 1, 3, 300, 20, 2, 1, 300, 200, 20, _TINY_OPTIONS),
}  # fmt: skip
PROJECTED_CHECKPOINTS = 100
TRAINING_SHARE = 0.45  # of --budget_s: training cases start until then


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


def evaluation_rows(sizes: Sizes) -> tuple[list[list[str]], float]:
    """Seconds and images/s of encoding samples and pairs of M stacked models, and OMES;
    and the seconds per model of all three."""
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
    rows = [
        [f"encode {sizes.eval_samples:,} samples (+ ELBO decode), {split}",
         f"{result['samples_s']:.2f}", f"{result['sample_images'] / result['samples_s']:,.0f}"],
        [f"encode {sizes.eval_pairs_per_fov:,} intervention pairs per FoV",
         f"{result['pairs_s']:.2f}", f"{result['pair_images'] / result['pairs_s']:,.0f}"],
        [f"OMES of all {sizes.eval_models} models, one call", f"{result['omes_s']:.3f}", ""],
    ]  # fmt: skip
    total = result["samples_s"] + result["pairs_s"] + result["omes_s"]
    return rows, total / sizes.eval_models


def suite_rows(sizes: Sizes, models: int, fraction: float, encode_per_model_s: float):
    """The evaluate job's stages and default suite on `models` stacked checkpoints, per
    model (bench_evaluate.evaluation_costs), then the total, the compilation and the
    projection to PROJECTED_CHECKPOINTS checkpoints."""
    data = registry.load("procedural_shapes3d")
    settings = EvaluationSettings(
        num_samples=sizes.suite_samples,
        num_train=sizes.suite_train,
        omes_pairs_per_fov=sizes.suite_pairs_per_fov,
        options=sizes.suite_options,
    )
    result = bench_evaluate.evaluation_costs(
        sizes.architecture, data, settings, models, fraction, scored=sizes.suite_scored
    )
    rows = [
        [r.part, f"{r.seconds:.1f}", f"{r.images:,}" if r.images else "", r.note]
        for r in result["rows"]
    ]
    images = sum(r.images for r in result["rows"])
    n = PROJECTED_CHECKPOINTS
    per_model = encode_per_model_s + result["after_omes_s"] + result["metrics_s"]
    projected = n * per_model + result["compile_s"]
    rows += [
        ["total per model", f"{result['per_model_s']:.1f}", f"{images:,}", ""],
        ["compilation, once", f"{result['compile_s']:.1f}", "", ""],
        [f"{n} checkpoints", f"{projected:.0f}", "",
         f"{projected / 3600:.2f} h: encoding as in the evaluation above, "
         f"BetaVAE/FactorVAE points and metrics {n} x "
         f"{result['after_omes_s'] + result['metrics_s']:.1f} s, compilation once"],
    ]  # fmt: skip
    return rows, result


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
    parser.add_argument("--budget_s", type=float, default=400.0)
    parser.add_argument("--suite_models", type=int, default=None, help="default: the size's")
    parser.add_argument("--suite_fraction", type=float, default=1.0)
    parser.add_argument("--out", default=".")
    args = parser.parse_args()
    sizes = SIZES[args.size]
    suite_models = args.suite_models or sizes.suite_models
    start = time.perf_counter()
    device = jax.devices()[0]
    name = f"{device.device_kind} ({device.platform}, {jax.device_count()} device(s))"
    training = training_rows(sizes, args.convs.split(","), start + TRAINING_SHARE * args.budget_s)
    evaluation, encode_per_model_s = evaluation_rows(sizes)
    suite, result = suite_rows(sizes, suite_models, args.suite_fraction, encode_per_model_s)
    chunks = result["chunks"]
    options = "MetricOptions()" if sizes.suite_options == metrics.MetricOptions() else "toy options"
    points = (
        "at the options' points"
        if args.suite_fraction == 1
        else f"at {args.suite_fraction:g} of their points, extrapolated"
    )
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
        f"## The evaluate job's default suite, {suite_models} stacked checkpoints "
        f"({sizes.architecture}, {result['conv']}, calls of {chunks.models} models x "
        f"{chunks.images} images; {options}; seconds and images encoded per model, "
        f"{sizes.suite_scored} scored; BetaVAE and FactorVAE {points})",
        table(["stage / metric", "seconds", "images", "note"], suite),
    ])  # fmt: skip
    slug = "".join(c if c.isalnum() else "_" for c in device.device_kind.lower()).strip("_")
    path = os.path.join(args.out, f"accelerator_{slug}.md")
    with open(path, "w") as file:
        file.write(report + "\n")
    print(report)
    print(f"\nWritten to {path}")


if __name__ == "__main__":
    main()
