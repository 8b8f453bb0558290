"""The training loop: one program trains M models (a sweep of seeds and hparams).

`train(...)` resumes from the model folders' last common checkpoint, else starts
from a given state (fine-tuning), else from scratch; then calls the jitted K-step
function until `steps`, reading metrics back once per call. Every `log_steps` it
writes train_log.jsonl and TensorBoard scalars per model; every `ckpt_steps` it
saves each model (the last K checkpoints, and the best by the mean training loss
over the interval since the previous save: the reference's 10k-step window at
the defaults); every `image_steps` it saves reconstructions and latent
traversals. A non-finite loss stops the run, naming the model and the step; the
last good checkpoint stays. `run(config)` is the `train` job.

Multi-host: the sweep's model axis is split over the devices of every process
(`train.model_shards`); each process writes the logs, images and checkpoints of
the models it owns (`checkpoint.owned_models`) and nothing else.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np
from etils import epath
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec
from tqdm import tqdm

from drl_jax.data import registry
from drl_jax.data.ground_truth import GroundTruthData
from drl_jax.errors import UsageError
from drl_jax.models import traversals
from drl_jax.models.methods import Method, get_method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train.state import (
    TrainState,
    create_sweep_state,
    make_optimizer,
    sweep_sharding,
    sweep_state_shape,
)
from drl_jax.train.step import make_mesh, make_sweep_train_steps
from drl_jax.train.writers import MetricWriter, save_grid
from drl_jax.workdir import save_config


class TrainingDiverged(UsageError):
    """The loss became NaN or inf; the message names the model, the step and the checkpoint kept."""


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Step counts of a run; every count is a multiple of `steps_per_call`."""

    steps: int  # train until the state's step counter reaches this
    batch_size: int
    steps_per_call: int
    log_steps: int
    ckpt_steps: int
    image_steps: int
    keep_checkpoints: int
    best_after_step: int  # only windows after this step compete for the best checkpoint
    pair_k: int = 1
    model_shards: int = 1

    def check(self, start: int = 0) -> None:
        for name in ("log_steps", "ckpt_steps", "image_steps"):
            value = getattr(self, name)
            if value < 1 or value % self.steps_per_call:
                raise UsageError(
                    f"train.{name}={value} must be a positive multiple of "
                    f"train.steps_per_call={self.steps_per_call}."
                )
        if (self.steps - start) % self.steps_per_call:
            raise UsageError(
                f"The run covers {self.steps - start} steps, not a multiple of "
                f"train.steps_per_call={self.steps_per_call}; change either."
            )


def schedule_from_config(
    train: ml_collections.ConfigDict, steps: int, pair_k: int, best_after_step: int
) -> Schedule:
    return Schedule(
        steps=steps,
        batch_size=train.batch_size,
        steps_per_call=train.steps_per_call,
        log_steps=train.log_steps,
        ckpt_steps=train.ckpt_steps,
        image_steps=train.image_steps,
        keep_checkpoints=train.keep_checkpoints,
        best_after_step=best_after_step,
        pair_k=pair_k,
        model_shards=train.model_shards,
    )


def train(
    data: GroundTruthData,
    cards: Sequence[ckpt.ModelCard],
    model_dirs: Sequence[epath.PathLike],
    method: Method,
    learning_rate: float,
    grad_clip_norm: float,
    schedule: Schedule,
    *,
    initial_state: TrainState | None = None,
    description: str = "train",
) -> TrainState:
    """Trains the models of `cards` (one architecture) in `model_dirs`; returns the final state.

    Args:
      data: the dataset batches are sampled from, on the device.
      cards: one per model; seeds and hparams may differ, the architecture may not.
      model_dirs: one folder per model (checkpoints, logs, images).
      method: the objective (the state's hparams must match its hparam_names).
      initial_state: a stacked state [M, ...] to start from when the folders hold no
        checkpoint yet (fine-tuning starts from the source models).
    """
    if len({card.group for card in cards}) != 1:
        raise UsageError(f"Models trained together must share an architecture: {cards}.")
    vae = cards[0].vae()
    optimizer = make_optimizer(learning_rate, grad_clip_norm)
    mesh = make_mesh(schedule.model_shards)
    image_shape = (64, 64, cards[0].channels)
    if data.channels != cards[0].channels:
        raise UsageError(
            f"{data.name} has {data.channels} channels but the models expect "
            f"{cards[0].channels}; convert with drl_jax.data.variants.to_channels."
        )
    keys = np.stack([jax.random.key_data(jax.random.key(card.seed)) for card in cards])
    hparams = {name: np.array([card.hparams[name] for card in cards]) for name in cards[0].hparams}

    init_args = (keys, vae, method, optimizer, hparams, image_shape, mesh)

    sharding = sweep_sharding(mesh)
    owned = ckpt.owned_models(sharding, len(cards))
    if jax.process_count() > 1:
        print(
            f"process {jax.process_index()} of {jax.process_count()} writes models "
            f"{owned} of {len(cards)}: {', '.join(cards[m].model_id for m in owned) or 'none'}",
            flush=True,
        )
    checkpoints = ckpt.ModelCheckpoints(model_dirs, schedule.keep_checkpoints)
    step = checkpoints.common_step()
    if step is not None:
        state = ckpt.place(checkpoints.restore(step, sweep_state_shape(*init_args)), sharding)
    elif initial_state is not None:
        state = ckpt.place(jax.device_get(initial_state), sharding)
    else:
        state = create_sweep_state(*init_args)
    for m in owned:
        if not (epath.Path(model_dirs[m]) / "model.json").exists():
            ckpt.write_card(model_dirs[m], cards[m])
    start = _step_of(state)
    schedule.check(start)
    if start >= schedule.steps:
        checkpoints.close()
        return state

    train_steps = make_sweep_train_steps(
        vae, method, optimizer, schedule.batch_size, schedule.steps_per_call, schedule.pair_k, mesh
    )
    writers = {m: MetricWriter(model_dirs[m]) for m in owned}
    preview = data.sample(jax.random.key(1), 8)[0]
    data = ckpt.place(data, NamedSharding(mesh, PartitionSpec()))  # replicated on every host
    window_sum, window_count = np.zeros(len(cards)), 0
    last_log, log_time = start, time.perf_counter()
    bar = tqdm(total=schedule.steps, initial=start, desc=description, unit="step", smoothing=0.05)
    try:
        while start < schedule.steps:
            new_state, metrics = train_steps(state, data)
            metrics = _fetch(metrics)
            _check_finite(metrics["loss_per_step"], start, cards, model_dirs, checkpoints)
            state, start = new_state, start + schedule.steps_per_call
            window_sum += metrics["loss_per_step"].mean(axis=1)
            window_count += 1
            bar.update(schedule.steps_per_call)
            bar.set_postfix(loss=f"{metrics['loss'].mean():.1f}", kl=f"{metrics['kl'].mean():.2f}")
            if start % schedule.log_steps == 0 or start == schedule.steps:
                elapsed = time.perf_counter() - log_time
                rate = (start - last_log) / max(elapsed, 1e-9)
                _log(writers, metrics, start, rate, rate * schedule.batch_size * len(cards))
                last_log, log_time = start, time.perf_counter()
            if start % schedule.ckpt_steps == 0 or start == schedule.steps:
                window = window_sum / window_count
                best_eligible = (
                    start - window_count * schedule.steps_per_call >= schedule.best_after_step
                )
                checkpoints.save(state, window if best_eligible else None)
                window_sum[:], window_count = 0.0, 0
            if start % schedule.image_steps == 0 or start == schedule.steps:
                _save_images(vae, state, preview, model_dirs, start)
    finally:
        bar.close()
        checkpoints.wait()
        checkpoints.close()
        for writer in writers.values():
            writer.close()
    return state


def _step_of(state: TrainState) -> int:
    """The optimizer step every model of a stacked state has reached."""
    return int(np.asarray(state.step.addressable_shards[0].data).reshape(-1)[0])


def _fetch(tree):
    """A pytree of global arrays (sharded over models, maybe across hosts) as host arrays."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def _check_finite(losses, start, cards, model_dirs, checkpoints) -> None:
    """Stops the run at the first non-finite loss, naming the model and the step."""
    bad = ~np.isfinite(losses)
    if not bad.any():
        return
    model, offset = np.argwhere(bad)[0]
    checkpoints.wait()
    kept = checkpoints.common_step()
    raise TrainingDiverged(
        f"the loss of model {cards[model].model_id} became {losses[model, offset]} at step "
        f"{start + offset + 1} (in steps {start + 1}-{start + losses.shape[1]}); the last good "
        f"checkpoint (step {kept}) is kept in {epath.Path(model_dirs[model]) / ckpt.LAST}. "
        "Lower train.learning_rate or train.grad_clip_norm and rerun to resume from it."
    )


def _log(writers, metrics, step, steps_per_second, images_per_second) -> None:
    for m, writer in writers.items():
        scalars = {
            f"train/{name}": float(value[m])
            for name, value in metrics.items()
            if np.ndim(value[m]) == 0
        }
        scalars["train/steps_per_s"] = steps_per_second
        scalars["train/images_per_s"] = images_per_second
        vectors = {"train/kl_per_dim": metrics["kl_per_dim"][m].tolist()}
        writer.write(step, scalars, vectors)


def _save_images(vae, state, preview, model_dirs, step) -> None:
    """Reconstructions and traversals of the models this process owns, as PNG grids."""
    models = ckpt.local_models(state)
    if not models:
        return
    variables = jax.tree.map(
        lambda *xs: np.stack(xs),
        *[{"params": s.params, "batch_stats": s.batch_stats} for s in models.values()],
    )
    recon = np.asarray(traversals.reconstructions(vae, variables, preview))
    sweep = np.asarray(traversals.traversals(vae, variables, preview[:1]))
    for i, m in enumerate(models):
        folder = epath.Path(model_dirs[m]) / "images"
        save_grid(recon[i], folder / f"reconstructions_{step:07d}.png")
        save_grid(sweep[i], folder / f"traversals_{step:07d}.png")


def model_cards(
    config: ml_collections.ConfigDict, dataset: str, channels: int
) -> list[ckpt.ModelCard]:
    """One card per (sweep value, seed) of a train config, in that order."""
    method = get_method(config.method.name, **method_options(config.method))
    cards = []
    for value in config.sweep.hparam_values:
        for seed in config.sweep.seeds:
            hparams = {name: float(config.method.hparams[name]) for name in method.hparam_names}
            hparams[config.sweep.hparam] = float(value)
            model_id = f"{method.name}_{config.sweep.hparam}{value:g}_seed{seed}"
            cards.append(
                ckpt.ModelCard(
                    model_id=model_id,
                    architecture=config.model.architecture,
                    channels=channels,
                    latent_dim=config.model.latent_dim,
                    method=method.name,
                    hparams=hparams,
                    seed=int(seed),
                    dataset=dataset,
                )
            )
    return cards


def method_options(method_config: ml_collections.ConfigDict) -> dict:
    """The dataclass options of a method from the config (aggregation, reconstruction)."""
    options = {"reconstruction": method_config.reconstruction}
    if method_config.name in ("ada_gvae", "ada_mlvae"):
        options["aggregation"] = method_config.aggregation
    return options


def check_sweep(config: ml_collections.ConfigDict) -> Method:
    """Validates the method and sweep settings before anything is built."""
    try:
        method = get_method(config.method.name, **method_options(config.method))
    except (ValueError, TypeError) as error:
        raise UsageError(f"config.method: {error}") from None
    if config.sweep.hparam not in method.hparam_names:
        raise UsageError(
            f"sweep.hparam={config.sweep.hparam!r} is not a hyperparameter of {method.name} "
            f"({', '.join(method.hparam_names)})."
        )
    missing = [name for name in method.hparam_names if name not in config.method.hparams]
    if missing:
        raise UsageError(f"config.method.hparams lacks {missing} needed by {method.name}.")
    return method


def run(config: ml_collections.ConfigDict) -> TrainState:
    """The `train` job: trains the sweep of config on config.data into WORKDIR/source/<data>/."""
    if not config.workdir:
        raise UsageError("No output folder: pass --config.workdir=DIR.")
    method = check_sweep(config)
    description = registry.describe(config.data.name, config.data.data_dir or None)
    data = registry.load(
        config.data.name, data_dir=config.data.data_dir or None, background=config.data.background
    )
    cards = model_cards(config, config.data.name, description.channels)
    root = epath.Path(config.workdir)
    save_config(root, config)
    model_dirs = [root / "source" / config.data.name / card.model_id for card in cards]
    warmup = max(card.hparams.get("warmup_steps", 0.0) for card in cards)
    schedule = schedule_from_config(
        config.train, config.train.steps, config.method.pair_k, int(warmup)
    )
    return train(
        data,
        cards,
        model_dirs,
        method,
        config.train.learning_rate,
        config.train.grad_clip_norm,
        schedule,
        description=f"{config.data.name}: {len(cards)} model(s)",
    )
