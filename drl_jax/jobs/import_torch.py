"""The `import_torch` job: a reference-code PyTorch checkpoint as a drl_jax model folder."""

from __future__ import annotations

import ml_collections
from etils import epath

from drl_jax.data import registry
from drl_jax.errors import UsageError
from drl_jax.jobs import common
from drl_jax.models.card import ModelCard, model_id
from drl_jax.models.methods import get_method
from drl_jax.train import import_torch
from drl_jax.workdir import layout, write_config


def run(config: ml_collections.ConfigDict) -> epath.Path:
    """Converts config.input into W/source/<dataset>/<model_id>/; returns that folder."""
    common.require(config.input, "No input: pass --config.input=RUN_DIR (holding checkpoint/).")
    common.require(config.workdir, "No output folder: pass --config.workdir=W.")
    common.require(config.dataset, "Which dataset was it trained on? Pass --config.dataset=NAME.")
    description = registry.describe(config.dataset)
    try:
        method = get_method(config.method)
    except ValueError as error:
        raise UsageError(f"config.method: {error}") from None
    hparams = {"beta": float(config.beta), "warmup_steps": float(config.warmup_steps)}
    if set(method.hparam_names) != set(hparams):
        raise UsageError(
            f"{method.name} reads {method.hparam_names}; importing supports methods that read "
            "beta and warmup_steps (ada_gvae, ada_mlvae, beta_vae)."
        )
    state_dicts, optimizer = import_torch.read_checkpoint(config.input)
    variables = import_torch.paper_variables(state_dicts)
    card = ModelCard(
        model_id=model_id(method.name, "beta", config.beta, config.seed),
        architecture="paper",
        channels=int(variables["params"]["encoder"]["Conv_0"]["kernel"].shape[2]),
        latent_dim=int(variables["params"]["encoder"]["mean"]["kernel"].shape[1]),
        method=method.name,
        hparams=hparams,
        seed=int(config.seed),
        dataset=description.name,
    )
    if card.channels != description.channels:
        raise UsageError(
            f"the checkpoint takes {card.channels}-channel images but {description.name} has "
            f"{description.channels}: check --config.dataset."
        )
    folder = layout.source_model_dir(config.workdir, description.name, card.model_id)
    with common.hold([folder]):
        _, note = import_torch.import_model(
            state_dicts, optimizer, card, folder, step=int(config.step)
        )
        write_config(folder, config.to_dict())
    print(f"Imported {config.input} as {folder} ({note}).")
    return folder
