"""The jobs' shared edge: config blocks (configs/common.py) turned into typed arguments.

Every conversion names the config keys in its errors, so a bad value stops the job
at start with one line (UsageError).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
from etils import epath

from drl_jax.data import registry
from drl_jax.data.ground_truth import GroundTruthData
from drl_jax.errors import UsageError
from drl_jax.evaluation import EvaluationSettings
from drl_jax.metrics import MetricOptions
from drl_jax.models import convolutions
from drl_jax.models.card import ModelCard, model_id
from drl_jax.models.methods import METHODS, Method, get_method
from drl_jax.train.loop import TrainSettings
from drl_jax.workdir import locks


def require(value: Any, message: str) -> None:
    """Raises UsageError(message) when a required config value is empty."""
    if not value:
        raise UsageError(message)


def describe(block: ml_collections.ConfigDict) -> registry.Description:
    """The dataset of a `data` block, checked (name known, TFDS data prepared)."""
    return registry.describe(block.name, block.data_dir or None)


def load_data(block: ml_collections.ConfigDict) -> GroundTruthData:
    """The dataset of a `data` block (configs/common.py `data`), on the device."""
    return registry.load(block.name, data_dir=block.data_dir or None, background=block.background)


def dataset_record(block: ml_collections.ConfigDict) -> dict[str, str]:
    """What identifies a `data` block's images in a result's request record."""
    return registry.record(block.name, block.data_dir or None, block.background)


def conv(model_block: ml_collections.ConfigDict) -> str:
    """`model.conv`, checked: 'auto' or one of convolutions.FORMULATIONS."""
    try:
        convolutions.resolve(model_block.conv)
    except ValueError as error:
        raise UsageError(f"config.model.conv: {error}") from None
    return model_block.conv


def _fields(cls) -> list[str]:
    return [field.name for field in dataclasses.fields(cls)]


def evaluation_settings(block: ml_collections.ConfigDict, conv: str = "auto") -> EvaluationSettings:
    """An `eval` block (configs/common.py `evaluation`) as EvaluationSettings; `conv`: the
    encoder's convolution formulation (`conv(config.model)`). Every key of the block is a
    field of EvaluationSettings or of MetricOptions, by the same name."""
    try:
        options = MetricOptions(**{name: block[name] for name in _fields(MetricOptions)})
        named = [name for name in _fields(EvaluationSettings) if name not in ("options", "conv")]
        return EvaluationSettings(
            **{name: block[name] for name in named}, conv=conv, options=options
        )
    except ValueError as error:
        raise UsageError(f"config.eval: {error}") from None


def train_settings(block: ml_collections.ConfigDict, steps: int | None = None) -> TrainSettings:
    """A `train` block (configs/common.py `train`) as TrainSettings, its keys the fields;
    `steps` replaces block.steps (fine-tuning counts from the source's step)."""
    settings = TrainSettings(**{name: block[name] for name in _fields(TrainSettings)})
    return settings if steps is None else dataclasses.replace(settings, steps=steps)


def method(config: ml_collections.ConfigDict) -> Method:
    """The objective of `config.method`, checked against `config.sweep`."""
    block = config.method
    try:
        # The block's options that this method has (aggregation: the ada_* methods only).
        fields = _fields(METHODS[block.name]) if block.name in METHODS else []
        options = {
            name: block[name] for name in ("aggregation", "reconstruction") if name in fields
        }
        objective = get_method(block.name, **options)
    except (ValueError, TypeError) as error:
        raise UsageError(f"config.method: {error}") from None
    if config.sweep.hparam not in objective.hparam_names:
        raise UsageError(
            f"sweep.hparam={config.sweep.hparam!r} is not a hyperparameter of "
            f"{objective.name} ({', '.join(objective.hparam_names)})."
        )
    missing = [name for name in objective.hparam_names if name not in block.hparams]
    if missing:
        raise UsageError(f"config.method.hparams lacks {missing} needed by {objective.name}.")
    return objective


def model_cards(
    config: ml_collections.ConfigDict, objective: Method, dataset: str, channels: int
) -> list[ModelCard]:
    """One card per (sweep value, seed) of a training config, in that order."""
    cards = []
    for value in config.sweep.hparam_values:
        for seed in config.sweep.seeds:
            hparams = {name: float(config.method.hparams[name]) for name in objective.hparam_names}
            hparams[config.sweep.hparam] = float(value)
            cards.append(
                ModelCard(
                    model_id=model_id(objective.name, config.sweep.hparam, value, seed),
                    architecture=config.model.architecture,
                    channels=channels,
                    latent_dim=config.model.latent_dim,
                    method=objective.name,
                    hparams=hparams,
                    seed=int(seed),
                    dataset=dataset,
                )
            )
    return cards


def warmup_steps(cards: list[ModelCard]) -> int:
    """The longest beta warm-up of the cards: windows before it don't compete for 'best'."""
    return int(max(card.hparams.get("warmup_steps", 0.0) for card in cards))


def hold(folders: Sequence[epath.PathLike], wait_seconds: float = 0.0):
    """The locks of the folders a job writes (process 0 takes them: drl_jax.workdir.locks)."""
    return locks.hold(folders, wait_seconds=wait_seconds, enabled=jax.process_index() == 0)
