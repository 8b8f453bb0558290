"""The `train` job: the sweep of a config trained on config.data into WORKDIR/source/<data>/."""

from __future__ import annotations

import ml_collections
from etils import epath

from drl_jax.jobs import common
from drl_jax.train import loop
from drl_jax.train.state import TrainState
from drl_jax.workdir import save_config


def run(config: ml_collections.ConfigDict) -> TrainState:
    """Trains every (sweep value, seed) model as one program; returns the final state."""
    common.require(config.workdir, "No output folder: pass --config.workdir=DIR.")
    objective = common.method(config)
    conv = common.conv(config.model)
    description = common.describe(config.data)
    data = common.load_data(config.data)
    cards = common.model_cards(config, objective, config.data.name, description.channels)
    root = epath.Path(config.workdir)
    save_config(root, config.to_dict())
    return loop.train(
        data,
        cards,
        [root / "source" / config.data.name / card.model_id for card in cards],
        objective,
        config.train.learning_rate,
        config.train.grad_clip_norm,
        common.schedule(
            config.train, config.train.steps, config.method.pair_k, common.warmup_steps(cards)
        ),
        conv=conv,
        description=f"{config.data.name}: {len(cards)} model(s)",
    )
