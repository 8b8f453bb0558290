"""The `train` job: the sweep of a config trained on config.data into WORKDIR/source/<data>/.

`train_sweep` is also the transfer job's source stage.
"""

from __future__ import annotations

import ml_collections
from etils import epath

from drl_jax.jobs import common
from drl_jax.models.card import ModelCard
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import loop
from drl_jax.train.state import TrainState
from drl_jax.workdir import layout, write_config


def run(config: ml_collections.ConfigDict) -> TrainState:
    """Trains every (sweep value, seed) model as one program; returns the final state."""
    common.require(config.workdir, "No output folder: pass --config.workdir=DIR.")
    return train_sweep(config, config.data, description=f"{config.data.name}")[2]


def train_sweep(
    config: ml_collections.ConfigDict, data_block: ml_collections.ConfigDict, description: str
) -> tuple[list[ModelCard], list[epath.Path], TrainState]:
    """Trains the sweep of `config` (its model, method, sweep and train blocks) on the dataset
    of `data_block`, into WORKDIR/source/<dataset>/<model_id>/, resuming where it stopped.

    The model folders are locked while they train (a second job training them stops at
    once); a finished sweep is read without a lock, so any number of jobs can use it.
    Each folder keeps the config of the job that trained it (config.json).

    Returns:
      (model cards, model folders, the final stacked state [M, ...]).
    """
    objective = common.method(config)
    conv = common.conv(config.model)
    settings = common.train_settings(config.train)
    info = common.describe(data_block)
    cards = common.model_cards(config, objective, data_block.name, info.channels)
    folders = [layout.source_model_dir(config.workdir, data_block.name, c.model_id) for c in cards]
    step = ckpt.common_step(folders) or 0
    finished = step >= settings.steps
    if finished:
        print(f"{description}: {len(cards)} model(s) trained to step {step} already: reused")
    with common.hold([] if finished else folders):
        if not finished:
            for folder in folders:
                write_config(folder, config.to_dict())
        state = loop.train(
            common.load_data(data_block),
            cards,
            folders,
            objective,
            settings,
            pair_k=config.method.pair_k,
            best_after_step=common.warmup_steps(cards),
            conv=conv,
            description=f"{description}: {len(cards)} model(s)",
        )
    return cards, folders, state
