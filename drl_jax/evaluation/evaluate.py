"""Batched evaluation of many checkpoints on a ground-truth dataset (docs/method.md).

Models are grouped by architecture; each group's parameters are stacked and the
encoder is vmapped over the model axis (`encoding`), so every model sees the same
samples and interventions. OMES, and on GPU and TPU BetaVAE's and FactorVAE's points
(their images rendered once and encoded by every model) and the downstream task's MLPs
where they are the jax ones (`mlp_backend` "jax", or "auto" there), are computed for all
models of a group in one call each; the other metrics follow per model (`drl_jax.metrics.score`),
on `workers` threads: the device encodes the next models while the host's cores score
the last ones, and a model's numbers do not depend on the models it is evaluated with
(its posterior draws use a key of its own checkpoint). UDR, which ranks the models of
one setting against each other, follows once every model is scored (`udr_step`). Each model's
output folder gets representations.npz, classes.csv, association_matrix.csv/.png
and metrics.json (docs/workdir.md). metrics.json records the request it answers
(drl_jax.workdir.records): a finished result is reused only when that request equals
the new one, and recomputed otherwise, with one line per model saying what changed.
In a multi-host run each process evaluates every process_count-th model and process
0 writes the tables (`results.py`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from etils import epath
from jax.experimental import multihost_utils
from jax.tree_util import Partial
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from drl_jax.data import variants
from drl_jax.data.ground_truth import GridData, GroundTruthData
from drl_jax.errors import UsageError
from drl_jax.evaluation import association, encoding, representations, udr_step
from drl_jax.evaluation.settings import EvaluationSettings
from drl_jax.metrics import (
    MetricInputs,
    mlp,
    omes_arrays,
    omes_from_pair_codes,
    score,
)
from drl_jax.metrics._downstream import resolve_mlp_backend
from drl_jax.metrics.registry import INTERVENTION_METRICS, downstream_mlp_nets
from drl_jax.models.architectures import models_in_sequence
from drl_jax.models.card import ModelCard, read_card
from drl_jax.train import checkpoint as ckpt
from drl_jax.workdir import layout, read_json, records, write_config, write_json


@dataclasses.dataclass(frozen=True)
class Evaluated:
    """What `evaluate_models` did: every model's metrics.json content (in the order of the
    model folders), and how many of this process's models it computed and reused."""

    metrics: list[dict[str, Any]]
    computed: int
    reused: int


def evaluate_models(
    model_dirs: Sequence[epath.PathLike],
    data: GroundTruthData,
    out_dirs: Sequence[epath.PathLike],
    settings: EvaluationSettings,
    *,
    which: str | int = "last",
    dataset_record: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    description: str = "evaluate",
) -> Evaluated:
    """Evaluates every model folder on `data`, writing each result to its out folder.

    A result already in an out folder is reused when its request record equals this
    one (same checkpoint fingerprint, dataset and number-changing settings), and
    recomputed otherwise; either way one line per model says why when it is not new.

    Args:
      model_dirs: drl_jax model folders (model.json + checkpoints).
      data: the dataset; converted to each model's channel count where it differs.
      out_dirs: one output folder per model.
      which: the checkpoint of each model: "last", "best" or a step.
      dataset_record: what identifies the dataset (`drl_jax.data.registry.record`);
        default: its name.
      config: the job's resolved config, written as config.json beside each result.
      description: the progress bar's label.
    """
    mine = [i for i in range(len(model_dirs)) if i % jax.process_count() == jax.process_index()]
    if jax.process_count() > 1:
        print(
            f"process {jax.process_index()} of {jax.process_count()} evaluates models "
            f"{mine} of {len(model_dirs)}",
            flush=True,
        )
    dataset_record = dataset_record or {"name": data.name}
    bar = tqdm(total=len(mine), desc=description, unit="model")
    todo: dict[int, tuple[ModelCard, dict, dict]] = {}  # model -> card, variables, request
    for i in mine:
        card = read_card(model_dirs[i])
        variables, step = ckpt.load_variables(model_dirs[i], which)
        checkpoint = {
            "folder": str(model_dirs[i]),
            "which": which,
            "step": step,
            "fingerprint": records.fingerprint(variables),
        }
        request = {
            "model": dataclasses.asdict(card),
            "checkpoint": checkpoint,
            "dataset": {**dataset_record, "channels": card.channels},
            "settings": settings.record(data),
        }
        path = epath.Path(out_dirs[i]) / layout.METRICS
        reuse, why = records.reuse_decision(read_json(path) if path.exists() else None, request)
        if why:
            tqdm.write(f"  {card.model_id}: {why}")
        if reuse:
            bar.update()
        else:
            todo[i] = (card, variables, request)
    reused = len(mine) - len(todo)
    bar.set_postfix(computed=0, reused=reused)
    computed = _compute(todo, data, out_dirs, settings, config, bar, reused)
    bar.close()
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("drl_jax evaluate: all models written")
    if "udr" in settings.metrics and jax.process_index() == 0:
        udr_step.rank(out_dirs, settings.options)
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("drl_jax evaluate: UDR written")
    metrics = [read_json(epath.Path(d) / layout.METRICS) for d in out_dirs]
    return Evaluated(metrics, computed=computed, reused=reused)


def _compute(todo, data, out_dirs, settings: EvaluationSettings, config, bar, reused) -> int:
    """Encodes and scores the models of `todo`; returns how many.

    With one worker, each architecture group is encoded whole and scored model by model.
    With more, a group is encoded `workers` models at a time and each chunk is scored on
    the worker threads while the next is encoded; classifiers and BLAS share the cores
    among the workers.
    """
    cores = os.cpu_count() or 1
    workers = settings.workers or cores
    options = settings.options
    if workers > 1:
        options = dataclasses.replace(options, n_jobs=max(1, cores // workers))
    groups = defaultdict(list)
    for i, (card, _, _) in todo.items():
        groups[card.group].append(i)
    done = 0

    def score_one(group, m, i):
        card, _, request = todo[i]
        _evaluate_one(group, m, card, request, out_dirs[i], settings, options)
        if config is not None:
            write_config(out_dirs[i], config)

    def finished(future):
        nonlocal done
        future.result()  # raises a worker's error here
        done += 1
        bar.update()
        bar.set_postfix(computed=done, reused=reused)

    if workers == 1:
        for members in groups.values():
            group = _encode_group([todo[i] for i in members], data, settings)
            for m, i in enumerate(members):
                score_one(group, m, i)
                done += 1
                bar.update()
                bar.set_postfix(computed=done, reused=reused)
        return done
    with (
        threadpool_limits(max(1, cores // workers)),
        concurrent.futures.ThreadPoolExecutor(workers) as pool,
    ):
        pending = collections.deque()  # the chunks being scored, oldest first
        for members in groups.values():
            for start in range(0, len(members), workers):
                chunk = members[start : start + workers]
                group = _encode_group([todo[i] for i in chunk], data, settings)
                pending.append([pool.submit(score_one, group, m, i) for m, i in enumerate(chunk)])
                while len(pending) > 1:  # encode at most one chunk ahead of the scoring
                    for future in pending.popleft():
                        finished(future)
        for chunk_futures in pending:
            for future in chunk_futures:
                finished(future)
    return done


@dataclasses.dataclass
class _Group:
    """M stacked models of one architecture and what they encoded."""

    encode_means: functools.partial  # (model variables, images) -> codes, static under jit
    variables: dict  # [M, ...]
    dataset: str  # the name of the dataset asked for
    data: GroundTruthData  # it, in the models' channel count
    encoded: dict[str, np.ndarray]  # encoding.encode_images' dict, [M, N, ...]
    factors: np.ndarray  # int [N, F]
    omes: dict[str, np.ndarray] | None  # OMES arrays [M, ...]
    mlp_accuracy: list[dict] | None  # per model, the downstream jax MLPs' accuracies
    intervention_points: list[dict] | None  # per model, BetaVAE's and FactorVAE's points
    key: jax.Array


def _encode_group(models, data, settings: EvaluationSettings) -> _Group:
    """Stacks the variables of models (card, variables, request) of one architecture,
    encodes the samples, and computes OMES for all of them."""
    card = models[0][0]
    vae, dataset = card.vae(settings.conv), data.name
    if data.channels != card.channels:  # the documented conversion (gray <-> RGB)
        data = variants.to_channels(data, card.channels)
    variables = jax.tree.map(lambda *xs: np.stack(xs), *[v for _, v, _ in models])
    key = jax.random.key(settings.seed)
    # Each model's posterior draws: a key of its own weights, not of its place in the stack.
    model_keys = jnp.stack(
        [
            jax.random.fold_in(key, int(request["checkpoint"]["fingerprint"][:7], 16))
            for _, _, request in models
        ]
    )
    budget = int(settings.memory_budget_gb * 1e9) or encoding.memory_budget()
    chunks = encoding.plan_chunks(vae, len(models), data.channels, settings.chunk_size, budget)
    encoded, factors = encoding.encode_samples(
        vae, variables, data, key, settings.num_samples, chunks, model_keys
    )
    omes = None
    # The pruned downstream task keeps each FoV's OMES-best dimension: from the same
    # pairs as OMES, whether or not OMES itself is asked for.
    if {"omes", "downstream"} & set(settings.metrics):
        omes_key = jax.random.fold_in(key, 7)
        omes = _omes_arrays(vae, variables, data, omes_key, encoded, factors, settings, chunks)
    mlp_accuracy = None
    if mlps_in_one_program(settings):
        mlp_accuracy = mlp_accuracies(encoded["mean"], factors, omes, settings)
    points = None
    names = tuple(n for n in INTERVENTION_METRICS if n in settings.metrics_for(data))
    if names and points_in_group_stage(vae):
        points = encoding.encode_intervention_points(
            vae, variables, data, _metric_key(key), settings.options, names, budget
        )
    encode_means = functools.partial(encoding.encoder_means, vae)  # one compile per group
    return _Group(
        encode_means, variables, dataset, data, encoded, factors, omes, mlp_accuracy, points, key
    )


def points_in_group_stage(vae) -> bool:
    """Whether BetaVAE's and FactorVAE's points are drawn for a whole group on the device
    (GPU, TPU: vmapped models) rather than by each model's scoring worker (CPU, where the
    device is the host's cores and several programs at once use more of them than one
    stacked program; README "Speed")."""
    return not models_in_sequence(vae)


def _metric_key(group_key: jax.Array) -> jax.Array:
    """The key of the metrics that draw (MetricInputs.key): the same for every model."""
    return jax.random.fold_in(group_key, 11)


def mlps_in_one_program(settings: EvaluationSettings) -> bool:
    """Whether the downstream task's MLPs are the jax ones, trained for all models of a
    group in one device program rather than per model on the host."""
    options = settings.options
    return (
        "downstream" in settings.metrics
        and "mlp" in options.classifiers
        and resolve_mlp_backend(options.mlp_backend) == "jax"
    )


def mlp_accuracies(codes, factors, omes, settings: EvaluationSettings) -> list[dict]:
    """The downstream jax MLPs of M models (codes [M, N, d], factors [N, F], OMES arrays
    [M, ...]) in one program: per model, ("mlp", variant, j) -> test accuracy."""
    options, num_train = settings.options, settings.num_train
    per_model = [{name: value[m] for name, value in omes.items()} for m in range(len(codes))]
    nets = [downstream_mlp_nets(model_omes, codes.shape[2], options) for model_omes in per_model]
    return mlp.mlp_accuracy_models(
        codes[:, :num_train], factors[:num_train], codes[:, num_train:], factors[num_train:],
        nets, options.seed,
    )  # fmt: skip


def _omes_arrays(
    vae, variables, data, key, encoded, factors, settings, chunks
) -> dict[str, np.ndarray]:
    """OMES arrays [M, ...] of all models: from interventions (full grids) or mined pairs."""
    mode = settings.omes_pairs_for(data)
    if mode == "mine":
        return omes_arrays(
            encoded["mean"],
            factors,
            max_pairs_per_fov=settings.options.max_pairs_per_fov,
            seed=settings.seed,
            inactive_threshold=settings.options.inactive_threshold,
        )
    if not isinstance(data, GridData):
        raise UsageError(f"{data.name} is not a full FoV grid: set eval.omes_pairs='mine'.")
    z1, z2, valid = encoding.encode_interventions(
        vae, variables, data, key, settings.omes_pairs_per_fov, chunks
    )
    one_model = functools.partial(
        omes_from_pair_codes, inactive_threshold=settings.options.inactive_threshold
    )
    batched = jax.vmap(one_model, in_axes=(0, 0, None, 0))(z1, z2, valid, encoded["mean"])
    return jax.tree.map(np.asarray, batched)


def _of_model(values: list | None, m: int):
    """Model m's entry of a group's per-model list, None where the group has none."""
    return None if values is None else values[m]


def _evaluate_one(group: _Group, m: int, card, request, out_dir, settings, options) -> None:
    """Scores model m of a group and writes its folder; metrics.json last (it marks it done)."""
    model_variables = jax.tree.map(lambda x: x[m], group.variables)
    names = tuple(group.data.factor_names)
    omes = None if group.omes is None else {k: v[m] for k, v in group.omes.items()}
    inputs = MetricInputs(
        codes=group.encoded["mean"][m],
        factors=group.factors,
        num_train=settings.num_train,
        factor_names=names,
        data=group.data,
        encode=Partial(group.encode_means, model_variables),
        key=_metric_key(group.key),
        omes=omes,
        elbo_terms={
            "reconstruction": group.encoded["reconstruction"][m],
            "kl": group.encoded["kl_per_dim"][m].sum(axis=-1),
        },
        mlp_accuracy=_of_model(group.mlp_accuracy, m),
        intervention_points=_of_model(group.intervention_points, m),
    )
    results, seconds = score(inputs, settings.metrics, options)
    if "udr" in settings.metrics:  # the ranking itself needs every model (udr_step)
        results["udr"] = {"kl_per_dim": group.encoded["kl_per_dim"][m].mean(axis=0).tolist()}
    out = epath.Path(out_dir)
    representations.write(
        out, group.encoded["mean"][m], group.encoded["sampled"][m], group.factors, names
    )
    if omes is not None:
        title = f"S of {card.model_id} on {group.dataset}"
        association.write(out, omes, names, title)
    write_json(
        out / layout.METRICS,
        {"request": request, "versions": records.versions(), **results, "seconds": seconds},
    )
