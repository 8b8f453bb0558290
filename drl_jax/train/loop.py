"""The training loop: one program trains M models (a sweep of seeds and hparams).

`train(...)` resumes from the model folders' last common checkpoint, else starts
from a given state (fine-tuning), else from scratch; then calls the jitted K-step
function until `steps`, reading metrics back once per call. Every `log_steps` it
writes train_log.jsonl and TensorBoard scalars per model; every `ckpt_steps` it
saves each model (the last K checkpoints, and the best by the mean training loss
over the interval since the previous save: the reference's 10k-step window at
the defaults); every `image_steps` it saves reconstructions and latent
traversals. A non-finite loss stops the run, naming the model and the step; the
last good checkpoint stays.

Multi-host: the sweep's model axis is split over the devices of every process
(`train.model_shards`); each process writes the logs, images and checkpoints of
the models it owns (`placement.owned_models`) and nothing else.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from etils import epath
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec
from tqdm import tqdm

from drl_jax.data.ground_truth import GroundTruthData
from drl_jax.errors import UsageError
from drl_jax.models import traversals
from drl_jax.models.card import ModelCard, write_card
from drl_jax.models.methods import Method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import placement
from drl_jax.train.state import (
    TrainState,
    create_sweep_state,
    make_optimizer,
    sweep_sharding,
    sweep_state_shape,
)
from drl_jax.train.step import make_mesh, make_sweep_train_steps
from drl_jax.train.writers import MetricWriter, save_grid
from drl_jax.workdir import layout


class TrainingDiverged(UsageError):
    """The loss became NaN or inf; the message names the model, the step and the checkpoint kept."""


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Optimisation and the loop's periodic actions; every count in optimizer steps and a
    multiple of `steps_per_call`. The defaults are the paper's (docs/models.md#training-defaults);
    configs/common.py `train` declares the same keys (a test keeps them equal)."""

    steps: int = 400_000  # train until the state's step counter reaches this
    batch_size: int = 64
    learning_rate: float = 1e-4  # Adam
    grad_clip_norm: float = 1.0  # global-norm clip
    steps_per_call: int = 100  # steps run on the device per host call (lax.scan)
    log_steps: int = 1_000
    ckpt_steps: int = 10_000  # also the window of the best-checkpoint loss
    image_steps: int = 50_000
    keep_checkpoints: int = 3
    model_shards: int = 1  # devices along the mesh's model axis (sweeps)

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


def train(
    data: GroundTruthData,
    cards: Sequence[ModelCard],
    model_dirs: Sequence[epath.PathLike],
    method: Method,
    settings: TrainSettings,
    *,
    pair_k: int = 1,
    best_after_step: int = 0,
    initial_state: TrainState | None = None,
    conv: str = "auto",
    description: str = "train",
) -> TrainState:
    """Trains the models of `cards` (one architecture) in `model_dirs`; returns the final state.

    Args:
      data: the dataset batches are sampled from, on the device.
      cards: one per model; seeds and hparams may differ, the architecture may not.
      model_dirs: one folder per model (checkpoints, logs, images).
      method: the objective (the cards' hparams must be its hparam_names).
      settings: optimisation and step counts of the run.
      pair_k: FoVs changed within a weak pair (weakly supervised methods).
      best_after_step: only loss windows after this step compete for the best checkpoint
        (the beta warm-up's end).
      initial_state: a stacked state [M, ...] to start from when the folders hold no
        checkpoint yet (fine-tuning starts from the source models).
      conv: the convolution formulation (models/convolutions.py; same results).
      description: the progress bar's label.
    """
    _check_models(data, cards)
    vae = cards[0].vae(conv)
    optimizer = make_optimizer(settings.learning_rate, settings.grad_clip_norm)
    mesh = make_mesh(settings.model_shards)
    sharding = sweep_sharding(mesh)
    owned = placement.owned_models(sharding, len(cards))
    if jax.process_count() > 1:
        print(
            f"process {jax.process_index()} of {jax.process_count()} writes models "
            f"{owned} of {len(cards)}: {', '.join(cards[m].model_id for m in owned) or 'none'}",
            flush=True,
        )
    checkpoints = ckpt.ModelCheckpoints(model_dirs, settings.keep_checkpoints)
    try:
        step = checkpoints.common_step()
        if step is not None:  # a checkpoint in the folders beats any initial state
            template = sweep_state_template(cards, method, optimizer, mesh)
            state = placement.place(checkpoints.restore(step, template), sharding)
        elif initial_state is not None:
            state = placement.place(jax.device_get(initial_state), sharding)
        else:
            state = create_sweep_state(*_sweep_args(cards, method, optimizer), mesh)
        for m in owned:
            if not (epath.Path(model_dirs[m]) / layout.MODEL_CARD).exists():
                write_card(model_dirs[m], cards[m])
        settings.check(_step_of(state))
        if _step_of(state) < settings.steps:
            train_steps = make_sweep_train_steps(
                vae, method, optimizer, settings.batch_size, settings.steps_per_call, pair_k, mesh
            )
            run = _Run(vae, cards, model_dirs, owned, checkpoints, settings, best_after_step)
            state = run.loop(train_steps, state, data, mesh, description)
    finally:
        checkpoints.wait()
        checkpoints.close()
    return state


def _sweep_args(cards: Sequence[ModelCard], method: Method, optimizer) -> tuple:
    """`create_sweep_state`'s arguments for the models of `cards` (before the mesh)."""
    keys = np.stack([jax.random.key_data(jax.random.key(card.seed)) for card in cards])
    hparams = {name: np.array([card.hparams[name] for card in cards]) for name in cards[0].hparams}
    return (keys, cards[0].vae(), method, optimizer, hparams, cards[0].image_shape)


def sweep_state_template(
    cards: Sequence[ModelCard], method: Method, optimizer, mesh=None
) -> TrainState:
    """The stacked state [M, ...] of `cards`' models as jax.ShapeDtypeStruct leaves: what a
    sweep's checkpoints are restored into (computes nothing)."""
    return sweep_state_shape(*_sweep_args(cards, method, optimizer), mesh)


def _check_models(data: GroundTruthData, cards: Sequence[ModelCard]) -> None:
    if len({card.group for card in cards}) != 1:
        raise UsageError(f"Models trained together must share an architecture: {cards}.")
    if data.channels != cards[0].channels:
        raise UsageError(
            f"{data.name} has {data.channels} channels but the models expect "
            f"{cards[0].channels}; convert with drl_jax.data.variants.to_channels."
        )


@dataclasses.dataclass
class _Run:
    """The periodic actions of one training run: logs, checkpoints, images, NaN stop."""

    vae: Any
    cards: Sequence[ModelCard]
    model_dirs: Sequence[epath.PathLike]
    owned: Sequence[int]
    checkpoints: ckpt.ModelCheckpoints
    settings: TrainSettings
    best_after_step: int

    def loop(self, train_steps, state: TrainState, data, mesh, description: str) -> TrainState:
        """Calls train_steps until settings.steps; returns the final state."""
        settings, start = self.settings, _step_of(state)
        # A resumed run rewrites the history logged after its checkpoint.
        writers = {m: MetricWriter(self.model_dirs[m], resumed_at=start) for m in self.owned}
        preview = data.sample(jax.random.key(1), 8)[0]
        data = placement.place(data, NamedSharding(mesh, PartitionSpec()))  # replicated
        window_sum, window_count = np.zeros(len(self.cards)), 0
        last_log, log_time = start, time.perf_counter()
        bar = tqdm(
            total=settings.steps, initial=start, desc=description, unit="step", smoothing=0.05
        )
        try:
            while start < settings.steps:
                new_state, metrics = train_steps(state, data)
                metrics = _fetch(metrics)
                self._check_finite(metrics["loss_per_step"], start)
                state, start = new_state, start + settings.steps_per_call
                window_sum += metrics["loss_per_step"].mean(axis=1)
                window_count += 1
                bar.update(settings.steps_per_call)
                bar.set_postfix(
                    loss=f"{metrics['loss'].mean():.1f}", kl=f"{metrics['kl'].mean():.2f}"
                )
                if _due(start, settings.log_steps, settings.steps):
                    rate = (start - last_log) / max(time.perf_counter() - log_time, 1e-9)
                    _log(
                        writers, metrics, start, rate, rate * settings.batch_size * len(self.cards)
                    )
                    last_log, log_time = start, time.perf_counter()
                if _due(start, settings.ckpt_steps, settings.steps):
                    window_start = start - window_count * settings.steps_per_call
                    best_eligible = window_start >= self.best_after_step
                    window = window_sum / window_count
                    self.checkpoints.save(state, window if best_eligible else None)
                    window_sum[:], window_count = 0.0, 0
                if _due(start, settings.image_steps, settings.steps):
                    _save_images(self.vae, state, preview, self.model_dirs, start)
        finally:
            bar.close()
            for writer in writers.values():
                writer.close()
        return state

    def _check_finite(self, losses: np.ndarray, start: int) -> None:
        """Stops the run at the first non-finite loss, naming the model and the step."""
        bad = ~np.isfinite(losses)
        if not bad.any():
            return
        model, offset = np.argwhere(bad)[0]
        self.checkpoints.wait()
        kept = self.checkpoints.common_step()
        folder = epath.Path(self.model_dirs[model]) / ckpt.LAST
        raise TrainingDiverged(
            f"the loss of model {self.cards[model].model_id} became {losses[model, offset]} at "
            f"step {start + offset + 1} (in steps {start + 1}-{start + losses.shape[1]}); the last "
            f"good checkpoint (step {kept}) is kept in {folder}. Lower train.learning_rate or "
            "train.grad_clip_norm and rerun to resume from it."
        )


def _due(step: int, every: int, last: int) -> bool:
    """Whether a periodic action runs after `step`: every `every` steps and at the end."""
    return step % every == 0 or step == last


def _step_of(state: TrainState) -> int:
    """The optimizer step every model of a stacked state has reached."""
    return int(np.asarray(state.step.addressable_shards[0].data).reshape(-1)[0])


def _fetch(tree):
    """A pytree of global arrays (sharded over models, maybe across hosts) as host arrays."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


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
    models = placement.local_models(state)
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
