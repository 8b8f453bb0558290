"""The jobs' shared edge: config blocks (configs/common.py) turned into typed arguments.

Every conversion names the config keys in its errors, so a bad value stops the job
at start with one line (UsageError).
"""

from __future__ import annotations

from typing import Any

import ml_collections

from drl_jax.data import registry
from drl_jax.data.ground_truth import GroundTruthData
from drl_jax.errors import UsageError
from drl_jax.evaluation import EvaluationSettings
from drl_jax.metrics import MetricOptions
from drl_jax.models import convolutions
from drl_jax.models.methods import Method, get_method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train.loop import Schedule


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


def conv(model_block: ml_collections.ConfigDict) -> str:
    """`model.conv`, checked: 'auto' or one of convolutions.FORMULATIONS."""
    try:
        convolutions.resolve(model_block.conv)
    except ValueError as error:
        raise UsageError(f"config.model.conv: {error}") from None
    return model_block.conv


def evaluation_settings(block: ml_collections.ConfigDict, conv: str = "auto") -> EvaluationSettings:
    """An `eval` block (configs/common.py `evaluation`) as EvaluationSettings; `conv`: the
    encoder's convolution formulation (`conv(config.model)`)."""
    try:
        options = MetricOptions(
            seed=block.seed,
            n_jobs=block.n_jobs,
            pruning=block.pruning,
            classifiers=tuple(block.classifiers),
            gbt_backend=block.gbt_backend,
            mlp_backend=block.mlp_backend,
            beta_vae_train=block.beta_vae_train,
            beta_vae_eval=block.beta_vae_eval,
            factor_vae_train=block.factor_vae_train,
            factor_vae_eval=block.factor_vae_eval,
            factor_vae_variance=block.factor_vae_variance,
            max_pairs_per_fov=block.max_pairs_per_fov,
            inactive_threshold=block.inactive_threshold,
        )
        return EvaluationSettings(
            metrics=tuple(block.metrics),
            num_samples=block.num_samples,
            num_train=block.num_train,
            chunk_size=block.chunk_size,
            memory_budget_gb=block.memory_budget_gb,
            conv=conv,
            seed=block.seed,
            omes_pairs=block.omes_pairs,
            omes_pairs_per_fov=block.omes_pairs_per_fov,
            options=options,
        )
    except ValueError as error:
        raise UsageError(f"config.eval: {error}") from None


def schedule(
    block: ml_collections.ConfigDict, steps: int, pair_k: int, best_after_step: int
) -> Schedule:
    """A `train` block (configs/common.py `train`) as the loop's Schedule, until `steps`."""
    return Schedule(
        steps=steps,
        batch_size=block.batch_size,
        steps_per_call=block.steps_per_call,
        log_steps=block.log_steps,
        ckpt_steps=block.ckpt_steps,
        image_steps=block.image_steps,
        keep_checkpoints=block.keep_checkpoints,
        best_after_step=best_after_step,
        pair_k=pair_k,
        model_shards=block.model_shards,
    )


def method(config: ml_collections.ConfigDict) -> Method:
    """The objective of `config.method`, checked against `config.sweep`."""
    block = config.method
    options = {"reconstruction": block.reconstruction}
    if block.name in ("ada_gvae", "ada_mlvae"):
        options["aggregation"] = block.aggregation
    try:
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
) -> list[ckpt.ModelCard]:
    """One card per (sweep value, seed) of a training config, in that order."""
    cards = []
    for value in config.sweep.hparam_values:
        for seed in config.sweep.seeds:
            hparams = {name: float(config.method.hparams[name]) for name in objective.hparam_names}
            hparams[config.sweep.hparam] = float(value)
            cards.append(
                ckpt.ModelCard(
                    model_id=ckpt.model_id(objective.name, config.sweep.hparam, value, seed),
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


def warmup_steps(cards: list[ckpt.ModelCard]) -> int:
    """The longest beta warm-up of the cards: windows before it don't compete for 'best'."""
    return int(max(card.hparams.get("warmup_steps", 0.0) for card in cards))
