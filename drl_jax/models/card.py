"""The model card: what a trained model is, written as model.json beside its checkpoints.

A card is enough to rebuild the network (`vae`), to tell which models can be stacked
and evaluated as one program (`group`), and to name the model's folder (`model_id`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from etils import epath

from drl_jax.data.ground_truth import IMAGE_SIZE
from drl_jax.errors import UsageError
from drl_jax.models.architectures import VAE, make_vae
from drl_jax.workdir import layout
from drl_jax.workdir.files import read_json, write_json


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What a model is.

    Attributes:
      model_id: its folder name (`model_id`).
      architecture, channels, latent_dim: the network (`drl_jax.models.make_vae`).
      method, hparams, seed: the objective it was trained with, by name.
      dataset: the dataset it was trained (or fine-tuned) on.
      finetuned_from: for a fine-tuned model, the checkpoint it started from: `folder`,
        `step` and `fingerprint` (drl_jax.workdir.records.fingerprint of its variables).
    """

    model_id: str
    architecture: str
    channels: int
    latent_dim: int
    method: str
    hparams: dict[str, float]
    seed: int
    dataset: str
    finetuned_from: dict[str, Any] | None = None

    def vae(self, conv: str = "auto") -> VAE:
        """The network, its convolutions in formulation `conv` (models/convolutions.py)."""
        return make_vae(self.architecture, self.channels, self.latent_dim, conv)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(64, 64, C): the images the network takes."""
        return (IMAGE_SIZE, IMAGE_SIZE, self.channels)

    @property
    def group(self) -> tuple[str, int, int]:
        """Models with the same group share parameter shapes and can be stacked."""
        return (self.architecture, self.channels, self.latent_dim)


def model_id(method: str, hparam: str, value: float, seed: int) -> str:
    """The folder name of a sweep's model, e.g. ada_gvae_beta2_seed3."""
    return f"{method}_{hparam}{value:g}_seed{seed}"


def write_card(model_dir: epath.PathLike, card: ModelCard) -> None:
    write_json(epath.Path(model_dir) / layout.MODEL_CARD, dataclasses.asdict(card))


def read_card(model_dir: epath.PathLike) -> ModelCard:
    path = epath.Path(model_dir) / layout.MODEL_CARD
    if not path.exists():
        raise UsageError(f"{path} not found: {model_dir} is not a drl_jax model folder.")
    return ModelCard(**read_json(path))
