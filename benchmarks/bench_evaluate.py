"""The evaluate job's cost per model at its defaults, with the real encoders.

  python benchmarks/bench_evaluate.py [--architectures paper,dlib] [--workers 0]
      [--models 0] [--fraction 0.1] [--dataset procedural_shapes3d] [--conv auto]
      [--checkpoints 100,300]
  python benchmarks/bench_evaluate.py --encode_only [--models 100] [--num_samples 15000]
      [--pairs_per_fov 5000]

Per architecture, M freshly initialised models of it (untrained weights: their values
do not change the cost) go through the evaluate job's stages as
drl_jax/evaluation/evaluate.py runs them, with `EvaluationSettings()` (the defaults:
15,000 samples, 5,000 OMES intervention pairs per FoV, the metrics of
`drl_jax.metrics.DEFAULT`, `MetricOptions()`):

* encode the samples with all M models (means, posterior draws, the ELBO's decoder
  pass), in calls of models x images planned within the memory budget;
* encode the OMES intervention pairs, and OMES of all M models in one call;
* where the downstream MLPs are the jax ones (`mlp_backend` "auto" on GPU and TPU), train
  those of all M models in one program, as the job does (timed with its compilation);
* draw BetaVAE's and FactorVAE's points for all M models (`encoding.
  encode_intervention_points`: each call's images rendered once and encoded by every
  model of the call);
* score every model: `drl_jax.metrics.score` on `MetricInputs` built as the job's
  `_evaluate_one` builds them (the encoder as a `Partial`, the group's OMES arrays,
  points and MLP accuracies, the ELBO terms), which returns each metric's wall seconds;
  the models on `--workers` threads as the job's `eval.workers` (0, the job's default:
  one per CPU core, each model's classifiers and BLAS then on cores // workers
  threads). M defaults to max(2, workers): one group of the job, which encodes
  `workers` models at a time.

BetaVAE and FactorVAE encode about 2.9 million images per model at the defaults
(10,000 + 5,000 points of 64 pairs; 10,000 + 5,000 points of 64 images plus 10,000
for the global variances, each rounded up to whole chunks of 64 points or 4,096
images): `--fraction` (default 0.1) draws their points at that share of the points and
variance images, and the cost at the defaults is extrapolated from the measured seconds
per encoded image; their scores' classifiers are timed at the defaults' sizes (on
points resampled from the measured ones). `--fraction 1` measures the defaults.
Compilation is timed apart: the encoding programs on one chunk, the intervention
programs as the difference of two calls at one chunk of points (a job compiles them
once per architecture).

Prints per stage the seconds and images encoded per model, per metric each model's
wall seconds (the median over the M models; with workers > 1 they overlap), the total
per model (encoding, plus the metrics' wall divided by the models scored at once) and
the projected time of `--checkpoints` checkpoints: per model times N, plus the
compilation once. Not counted: writing each model's files, and the job's overlap of
encoding the next models with scoring the last ones (so an upper bound). The first
line gives the machine, the date and the load average: other work on the same cores
lengthens every time.

`--encode_only` times only the encoding of `--models` stacked models (the first two
stages) at the given sizes, as `measure` (benchmarks/accelerator.py uses it).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import functools
import os
import platform
import time

import jax
import numpy as np
from jax.tree_util import Partial
from threadpoolctl import threadpool_limits

from drl_jax import metrics
from drl_jax.data import registry
from drl_jax.evaluation import encoding, evaluate
from drl_jax.evaluation.evaluate import EvaluationSettings
from drl_jax.metrics import _beta_vae, _factor_vae, interventions
from drl_jax.models import convolutions
from drl_jax.models.architectures import make_vae
from drl_jax.runtime import RUN_RARELY


def timed(fn):
    """(result, seconds) of fn() with its outputs ready; fn runs once before, to compile."""
    jax.block_until_ready(fn())
    start = time.perf_counter()
    result = jax.block_until_ready(fn())
    return result, time.perf_counter() - start


def once(fn):
    """(result, seconds) of one call of fn(), outputs ready."""
    start = time.perf_counter()
    result = jax.block_until_ready(fn())
    return result, time.perf_counter() - start


def stacked_models(vae, models: int, channels: int) -> dict:
    """Freshly initialised variables of `models` models, stacked [M, ...] (a program run
    once: compiled with the cheap passes)."""
    image = np.zeros((1, 64, 64, channels), np.float32)
    keys = jax.random.split(jax.random.key(0), models)
    init = jax.vmap(lambda key: vae.init(key, image, False))
    return jax.jit(init, compiler_options=RUN_RARELY)(keys)


def measure(vae, variables, data, num_samples: int, pairs_per_fov: int, chunks) -> dict:
    """Seconds (after compilation) of the evaluate job's encoding parts for M models:
    `samples_s` (encode + posterior draw + ELBO decode), `pairs_s` (the OMES
    intervention pairs), `omes_s` (OMES of all models in one call), and the images each
    encoded (`sample_images`, `pair_images`)."""
    key = jax.random.key(1)
    (encoded, _), samples_s = timed(
        lambda: encoding.encode_samples(vae, variables, data, key, num_samples, chunks)
    )
    (z1, z2, valid), pairs_s = timed(
        lambda: encoding.encode_interventions(vae, variables, data, key, pairs_per_fov, chunks)
    )
    batched = jax.vmap(metrics.omes_from_pair_codes, in_axes=(0, 0, None, 0))
    _, omes_s = timed(lambda: batched(z1, z2, valid, encoded["mean"]))
    models = jax.tree.leaves(variables)[0].shape[0]
    return {
        "samples_s": samples_s,
        "pairs_s": pairs_s,
        "omes_s": omes_s,
        "sample_images": models * num_samples,
        "pair_images": models * 2 * pairs_per_fov * data.space.num_factors,
    }


def _chunks_of(count: int, size: int) -> int:
    return -(-count // size)


def beta_vae_images(options: metrics.MetricOptions) -> int:
    """Images BetaVAE encodes per model: points of 64 pairs, in chunks of 64 points."""
    points = options.beta_vae_train + options.beta_vae_eval
    chunk = interventions.CHUNK_POINTS
    return _chunks_of(points, chunk) * chunk * interventions.BATCH_SIZE * 2


def factor_vae_images(options: metrics.MetricOptions) -> int:
    """Images FactorVAE encodes per model: points of 64 images, in chunks of 64 points,
    and the global variances' images, in chunks of 64 x 64."""
    points = options.factor_vae_train + options.factor_vae_eval
    chunk = interventions.CHUNK_POINTS
    per_chunk = chunk * interventions.BATCH_SIZE
    variance = _chunks_of(options.factor_vae_variance, per_chunk) * per_chunk
    return _chunks_of(points, chunk) * per_chunk + variance


def scaled(options: metrics.MetricOptions, fraction: float) -> metrics.MetricOptions:
    """`options` with BetaVAE's and FactorVAE's points and variance images times fraction."""
    if fraction == 1:
        return options
    names = ("beta_vae_train", "beta_vae_eval", "factor_vae_train", "factor_vae_eval",
             "factor_vae_variance")  # fmt: skip
    return dataclasses.replace(
        options, **{n: max(2, round(fraction * getattr(options, n))) for n in names}
    )


@dataclasses.dataclass
class Row:
    """One stage or metric: seconds and images encoded per model at the settings asked
    for; `note` says how the seconds were obtained where not measured directly."""

    part: str
    seconds: float
    images: int = 0
    note: str = ""


def evaluation_costs(
    architecture: str,
    data,
    settings: EvaluationSettings,
    models: int,
    fraction: float,
    conv: str = "auto",
    workers: int = 1,
    scored: int = 0,
) -> dict:
    """The evaluate job's stages for `models` stacked models of `architecture` (module
    docstring), the first `scored` of them (0: all) scored on `workers` host threads as
    the job's `eval.workers` scores them (1: one after another; more: each model's
    classifiers and BLAS on cores // workers threads).

    Returns `rows` (a Row per stage, per model; per metric, each model's wall seconds,
    the median over the scored models), `metrics_s` (the scoring's wall seconds per model: the
    metric rows' sum over the models scored at once), `after_omes_s` (the group stages
    after OMES per model: the jax MLPs, BetaVAE's and FactorVAE's points), `per_model_s`
    (the group stages plus metrics_s), `compile_s` (once per architecture in a job),
    `chunks`, `conv` and `at_once` (models scored at once)."""
    vae = make_vae(architecture, data.channels, 10, conv)
    budget = int(settings.memory_budget_gb * 1e9) or encoding.memory_budget()
    chunks = encoding.plan_chunks(vae, models, data.channels, settings.chunk_size, budget)
    variables = stacked_models(vae, models, data.channels)
    key = jax.random.key(settings.seed)
    model_keys = jax.random.split(jax.random.fold_in(key, 5), models)
    compile_s = 0.0

    # Encoding: a first call of each program on one chunk compiles them (timed apart).
    _, seconds = once(
        lambda: encoding.encode_samples(vae, variables, data, key, chunks.images, chunks)
    )
    compile_s += seconds
    (encoded, factors), samples_s = once(
        lambda: encoding.encode_samples(
            vae, variables, data, key, settings.num_samples, chunks, model_keys
        )
    )
    omes_key = jax.random.fold_in(key, 7)
    per_fov = settings.omes_pairs_per_fov
    _, seconds = once(
        lambda: encoding.encode_interventions(vae, variables, data, omes_key, 2, chunks)
    )
    compile_s += seconds
    (z1, z2, valid), pairs_s = once(
        lambda: encoding.encode_interventions(vae, variables, data, omes_key, per_fov, chunks)
    )
    one_model = functools.partial(
        metrics.omes_from_pair_codes, inactive_threshold=settings.options.inactive_threshold
    )
    batched = jax.jit(jax.vmap(one_model, in_axes=(0, 0, None, 0)))
    omes, omes_s = timed(lambda: batched(z1, z2, valid, encoded["mean"]))
    omes = jax.tree.map(np.asarray, omes)
    rows = [
        Row(f"encode {settings.num_samples:,} samples + ELBO decode", samples_s / models,
            settings.num_samples, f"{models} models a call"),
        Row(f"encode {per_fov:,} OMES pairs per FoV", pairs_s / models,
            2 * per_fov * data.space.num_factors),
        Row(f"OMES of the {models} models, one call", omes_s / models),
    ]  # fmt: skip
    mlp_accuracy = [None] * models
    if evaluate.mlps_in_one_program(settings):  # the jax MLPs: GPU and TPU by default
        mlp_accuracy, mlps_s = once(
            lambda: evaluate.mlp_accuracies(encoded["mean"], factors, omes, settings)
        )
        rows.append(Row(f"downstream MLPs of the {models} models, one program", mlps_s / models,
                        note="with its compilation"))  # fmt: skip

    # BetaVAE's and FactorVAE's points at `fraction` of the points, extrapolated to the
    # defaults: on GPU and TPU for all models in the group stage, as the job draws them
    # (images rendered once per call, encoded by every model of it); on CPU by each
    # model's scoring. Their programs compile per point count (a static argument) in
    # about the same time at any count: two calls at one chunk of points (compilation +
    # run, then the run) give the compilation, counted apart from the timed runs.
    defaults = settings.options
    measured = scaled(defaults, fraction)
    suite = settings.metrics_for(data)
    grid_metrics = tuple(n for n in metrics.registry.INTERVENTION_METRICS if n in suite)
    in_group = evaluate.points_in_group_stage(vae)
    metric_key = jax.random.fold_in(key, 11)  # the job's MetricInputs.key
    encode_means = functools.partial(encoding.encoder_means, vae)  # as the job's
    names = tuple(data.factor_names)
    points = [{} for _ in range(models)]

    def inputs(m: int) -> metrics.MetricInputs:
        model_variables = jax.tree.map(lambda x: x[m], variables)
        return metrics.MetricInputs(
            codes=encoded["mean"][m],
            factors=factors,
            num_train=settings.num_train,
            factor_names=names,
            data=data,
            encode=Partial(encode_means, model_variables),
            key=metric_key,
            omes={k: v[m] for k, v in omes.items()},
            elbo_terms={
                "reconstruction": encoded["reconstruction"][m],
                "kl": encoded["kl_per_dim"][m].sum(axis=-1),
            },
            mlp_accuracy=mlp_accuracy[m],
            intervention_points=points[m] if in_group else None,
        )

    def draw(name, options):
        if in_group:
            return encoding.encode_intervention_points(
                vae, variables, data, metric_key, options, (name,), budget
            )
        one = inputs(0)
        return [{name: metrics.registry.intervention_points(name, data, one.encode,
                                                            metric_key, options)}]  # fmt: skip

    small = dataclasses.replace(measured, **{n: interventions.CHUNK_POINTS for n in _POINTS})
    images = {"beta_vae": beta_vae_images, "factor_vae": factor_vae_images}
    compiling = {}
    for name in grid_metrics:
        first = once(lambda name=name: draw(name, small))[1]
        drawn, second = once(lambda name=name: draw(name, small))
        compiling[name] = max(0.0, first - second)
        compile_s += compiling[name]
        points[0] |= jax.device_get(drawn[0])  # on CPU: points to time the score's fit on
        if not in_group:
            continue
        drawn, seconds = once(lambda name=name: draw(name, measured))
        for m in range(models):
            points[m] |= drawn[m]
        full_images, measured_images = images[name](defaults), images[name](measured)
        run_s = max(0.0, seconds - compiling[name])
        note = f"{models} models a call"
        if fraction != 1:
            note += (
                f"; extrapolated: {run_s:.1f} s measured at {measured_images:,} images a "
                f"model ({1e3 * run_s / models / measured_images:.2f} ms per image and model)"
            )
        per_model_s = run_s / models * full_images / measured_images
        rows.append(Row(f"{name} points, images rendered once a call", per_model_s,
                        full_images, note))  # fmt: skip
    group_rows = len(rows)  # the stages run once for all models; the metrics follow per model

    scored = scored or models
    at_once = max(1, min(workers, scored))
    walls = _score_models([inputs(m) for m in range(scored)], suite, measured, workers)
    seconds = {name: float(np.median([w[name] for w in walls])) for name in suite}
    for name in suite:
        if name not in grid_metrics:
            rows.append(Row(name, seconds[name]))
            continue
        fit_full = _fit_seconds(name, points[0][name], defaults)
        if in_group:  # the score alone, its classifier at the defaults' point counts
            rows.append(Row(name, fit_full, note=f"score fitted on {name} points resampled "
                                                 "to the defaults' counts"))  # fmt: skip
            continue
        # Drawn in scoring: the measured time less the fit and the compilation (at the
        # measured point counts) is the points' encoding, extrapolated per image.
        full_images, measured_images = images[name](defaults), images[name](measured)
        fit_measured = _fit_seconds(name, points[0][name], measured)
        encode_s = max(0.0, seconds[name] - fit_measured - compiling[name])
        estimate = encode_s / measured_images * full_images + fit_full
        note = (
            f"points drawn in scoring: {seconds[name]:.1f} s measured at {measured_images:,} "
            f"images ({1e3 * encode_s / measured_images:.2f} ms per image, compilation and "
            f"fit taken off), extrapolated + fit at full size {fit_full:.2f} s"
        )
        rows.append(Row(name, estimate, full_images, note))
    metrics_s = sum(r.seconds for r in rows[group_rows:]) / at_once
    group_s = sum(r.seconds for r in rows[:group_rows])
    return {
        "rows": rows,
        "metrics_s": metrics_s,
        "after_omes_s": sum(r.seconds for r in rows[3:group_rows]),
        "per_model_s": group_s + metrics_s,
        "compile_s": compile_s,
        "chunks": chunks,
        "conv": vae.encoder.conv,
        "at_once": at_once,
    }


_POINTS = ("beta_vae_train", "beta_vae_eval", "factor_vae_train", "factor_vae_eval")


def _score_models(all_inputs, suite, options: metrics.MetricOptions, workers: int):
    """Each model's per-metric wall seconds (`drl_jax.metrics.score`), the models scored
    as the evaluate job's `_compute` scores them on `workers` threads."""
    if workers <= 1:
        return [metrics.score(inputs, suite, options)[1] for inputs in all_inputs]
    threads = max(1, (os.cpu_count() or 1) // workers)
    options = dataclasses.replace(options, n_jobs=threads)
    with (
        threadpool_limits(threads),
        concurrent.futures.ThreadPoolExecutor(workers) as pool,
    ):
        futures = [pool.submit(metrics.score, inputs, suite, options) for inputs in all_inputs]
        return [future.result()[1] for future in futures]


def _fit_seconds(name: str, samples: dict, counts: metrics.MetricOptions) -> float:
    """Seconds of the metric's scorer on points resampled (with replacement) from
    `samples` to the train and eval counts of `counts`."""
    rng = np.random.default_rng(0)
    prefix = "features" if name == "beta_vae" else "variances"
    train, evaluate = (
        (counts.beta_vae_train, counts.beta_vae_eval)
        if name == "beta_vae"
        else (counts.factor_vae_train, counts.factor_vae_eval)
    )
    points = dict(samples)
    for part, count in (("train", train), ("eval", evaluate)):
        rows = rng.integers(0, len(samples[f"labels_{part}"]), count)
        points[f"{prefix}_{part}"] = np.asarray(samples[f"{prefix}_{part}"])[rows]
        points[f"labels_{part}"] = np.asarray(samples[f"labels_{part}"])[rows]
    score = _beta_vae.beta_vae_score if name == "beta_vae" else _factor_vae.factor_vae_score
    return once(lambda: score(**points))[1]


def machine() -> str:
    """The machine, date and load average (other work on the cores lengthens every time)."""
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}; jax {jax.__version__}; "
        f"{time.strftime('%Y-%m-%d')}; load average {os.getloadavg()[0]:.1f}"
    )


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def print_costs(architecture: str, result: dict, models: int, checkpoints) -> None:
    chunks, at_once = result["chunks"], result["at_once"]
    print(
        f"\n{architecture} ({result['conv']}), {models} stacked models, calls of "
        f"{chunks.models} models x {chunks.images} images; per model"
        + (
            f", metrics: each model's wall seconds, {at_once} models scored at once"
            if at_once > 1
            else ""
        )
        + ":"
    )
    print(f"{'stage / metric':<44}{'seconds':>9}{'images':>12}  note")
    for row in result["rows"]:
        images = f"{row.images:,}" if row.images else ""
        print(f"{row.part:<44}{row.seconds:>9.1f}{images:>12}  {row.note}")
    total_images = sum(r.images for r in result["rows"])
    label = "total per model" + (
        f" ({at_once} at once: metrics / {at_once})" if at_once > 1 else ""
    )
    print(f"{label:<44}{result['per_model_s']:>9.1f}{total_images:>12,}")
    print(f"compilation, once per architecture: {result['compile_s']:.0f} s")
    for n in checkpoints:
        total = n * result["per_model_s"] + result["compile_s"]
        print(f"{n} checkpoints: {hours(total)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default="paper,dlib")
    parser.add_argument("--models", type=int, default=0, help="0: max(2, workers)")
    parser.add_argument("--workers", type=int, default=0, help="0: one per CPU core (the job's)")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--dataset", default="procedural_shapes3d")
    parser.add_argument("--conv", default="auto")
    parser.add_argument("--checkpoints", default="100,300")
    parser.add_argument("--encode_only", action="store_true")
    parser.add_argument("--num_samples", type=int, default=EvaluationSettings.num_samples)
    parser.add_argument("--pairs_per_fov", type=int, default=EvaluationSettings.omes_pairs_per_fov)
    parser.add_argument("--chunk_size", type=int, default=EvaluationSettings.chunk_size)
    parser.add_argument("--memory_budget_gb", type=float, default=0.0)
    args = parser.parse_args()
    if not 0 < args.fraction <= 1:
        parser.error("--fraction must be in (0, 1].")
    workers = args.workers or os.cpu_count() or 1
    models = args.models or max(2, workers)
    data = registry.load(args.dataset)
    print(machine() + " (other work shares the cores: every time is an upper bound)")
    if args.encode_only:
        for architecture in args.architectures.split(","):
            encode_only(architecture, data, models, args)
        return
    settings = EvaluationSettings(
        num_samples=args.num_samples,
        omes_pairs_per_fov=args.pairs_per_fov,
        chunk_size=args.chunk_size,
        memory_budget_gb=args.memory_budget_gb,
        conv=args.conv,
    )
    print(
        f"{args.dataset}; EvaluationSettings() but num_samples {settings.num_samples:,}, "
        f"{settings.omes_pairs_per_fov:,} OMES pairs per FoV; metrics "
        f"{', '.join(settings.metrics_for(data))}; {workers} worker(s); BetaVAE/FactorVAE "
        f"measured at {args.fraction:g} of their points"
        + (" and extrapolated" if args.fraction < 1 else "")
    )
    checkpoints = [int(n) for n in args.checkpoints.split(",")]
    for architecture in args.architectures.split(","):
        result = evaluation_costs(
            architecture, data, settings, models, args.fraction, args.conv, workers
        )
        print_costs(architecture, result, models, checkpoints)
    print(machine().split("; ")[-1] + " at the end")


def encode_only(architecture: str, data, models: int, args) -> None:
    """The encoding stages of `models` stacked models (the accelerator benchmark's part)."""
    vae = make_vae(architecture, data.channels, 10, args.conv)
    budget = int(args.memory_budget_gb * 1e9) or encoding.memory_budget()
    chunks = encoding.plan_chunks(vae, models, data.channels, args.chunk_size, budget)
    variables = stacked_models(vae, models, data.channels)
    print(
        f"{models} models ({architecture}), {args.dataset}, {args.num_samples} samples, "
        f"{args.pairs_per_fov} intervention pairs per FoV; conv {convolutions.resolve(args.conv)}; "
        f"calls of {chunks.models} models x {chunks.images} images (budget {budget / 1e9:.1f} GB)"
    )
    result = measure(vae, variables, data, args.num_samples, args.pairs_per_fov, chunks)
    samples_s, pairs_s, omes_s = result["samples_s"], result["pairs_s"], result["omes_s"]
    sample_images, pair_images = result["sample_images"], result["pair_images"]
    total = samples_s + pairs_s + omes_s
    print(f"{'part':<44}{'seconds':>9}{'images/s':>11}")
    print(
        f"{'samples: encode + ELBO decode':<44}{samples_s:>9.2f}{sample_images / samples_s:>11.0f}"
    )
    print(f"{'intervention pairs: encode':<44}{pairs_s:>9.2f}{pair_images / pairs_s:>11.0f}")
    print(f"{'OMES, all models in one call':<44}{omes_s:>9.3f}")
    print(f"{'total':<44}{total:>9.2f}   ({total / models:.2f} s per model)")


if __name__ == "__main__":
    main()
