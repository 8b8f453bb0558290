"""Per-model checkpoints with orbax, and the model card that says how to rebuild the model.

Each model's folder holds (DESIGN.md workdir layout):
  model.json              architecture, channels, latent dim, method, hparams, seed, dataset
  checkpoints/<step>/     the last K states: items `model` (params, batch_stats) and
                          `train` (opt_state, extra, step, key, hparams)
  checkpoints_best/<step>/  the state with the lowest windowed training loss
A sweep of M models trained as one program is saved as M such folders, so every
model can be evaluated, fine-tuned or resumed on its own. Evaluation restores only
the `model` item and needs no optimizer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.models.architectures import VAE, make_vae
from drl_jax.train.state import TrainState
from drl_jax.workdir import read_json, write_json

LAST, BEST = "checkpoints", "checkpoints_best"


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What a model is, written as model.json beside its checkpoints."""

    model_id: str
    architecture: str
    channels: int
    latent_dim: int
    method: str
    hparams: dict[str, float]
    seed: int
    dataset: str

    def vae(self) -> VAE:
        return make_vae(self.architecture, self.channels, self.latent_dim)

    @property
    def group(self) -> tuple[str, int, int]:
        """Models with the same group share parameter shapes and can be stacked."""
        return (self.architecture, self.channels, self.latent_dim)


def write_card(model_dir: epath.PathLike, card: ModelCard) -> None:
    write_json(epath.Path(model_dir) / "model.json", dataclasses.asdict(card))


def read_card(model_dir: epath.PathLike) -> ModelCard:
    path = epath.Path(model_dir) / "model.json"
    if not path.exists():
        raise UsageError(f"{path} not found: {model_dir} is not a drl_jax model folder.")
    return ModelCard(**read_json(path))


def _manager(model_dir: epath.Path, which: str, keep: int) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep,
        enable_async_checkpointing=True,
        best_fn=(lambda metrics: metrics["window_loss"]) if which == BEST else None,
        best_mode="min",
    )
    return ocp.CheckpointManager(epath.Path(model_dir).absolute() / which, options=options)


class ModelCheckpoints:
    """The checkpoint managers of M model folders, saved and restored together."""

    def __init__(self, model_dirs: Sequence[epath.PathLike], keep: int):
        self.dirs = [epath.Path(d) for d in model_dirs]
        self.last = [_manager(d, LAST, keep) for d in self.dirs]
        self.best = [_manager(d, BEST, 1) for d in self.dirs]

    def common_step(self) -> int | None:
        """The latest step saved in every folder (a save interrupted midway is ignored)."""
        steps = [set(manager.all_steps()) for manager in self.last]
        common = set.intersection(*steps) if steps else set()
        return max(common) if common else None

    def save(self, state: TrainState, window_loss: Sequence[float] | None = None) -> None:
        """Saves model m's slice of a stacked state [M, ...] in folder m (asynchronously).

        With `window_loss` (per model), each folder's best checkpoint is replaced when
        the model's windowed training loss improved.
        """
        step = int(jax.device_get(state.step[0]))
        for m, manager in enumerate(self.last):
            single = jax.tree.map(lambda x, m=m: x[m], state)
            manager.save(step, args=_save_args(single))
            if window_loss is not None:
                metrics = {"window_loss": float(window_loss[m])}
                self.best[m].save(step, args=_save_args(single), metrics=metrics)

    def restore(self, step: int, template: TrainState) -> TrainState:
        """Restores every folder at `step` and stacks them like `template` [M, ...]."""
        single = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), template)
        restored = [manager.restore(step, args=_restore_args(single)) for manager in self.last]
        states = [TrainState(**item.model, **item.train) for item in restored]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *states)

    def wait(self) -> None:
        for manager in self.last + self.best:
            manager.wait_until_finished()

    def close(self) -> None:
        for manager in self.last + self.best:
            manager.close()


def _split(state: TrainState) -> tuple[dict, dict]:
    model = {"params": state.params, "batch_stats": state.batch_stats}
    train = {
        "opt_state": state.opt_state,
        "extra": state.extra,
        "step": state.step,
        "key": state.key,
        "hparams": state.hparams,
    }
    return model, train


def _save_args(state: TrainState) -> ocp.args.Composite:
    model, train = _split(state)
    return ocp.args.Composite(
        model=ocp.args.StandardSave(model), train=ocp.args.StandardSave(train)
    )


def _restore_args(template: TrainState) -> ocp.args.Composite:
    model, train = _split(template)
    return ocp.args.Composite(
        model=ocp.args.StandardRestore(model), train=ocp.args.StandardRestore(train)
    )


def load_variables(model_dir: epath.PathLike, which: str = "last") -> tuple[dict, int]:
    """The `params` and `batch_stats` of a model folder's last or best checkpoint, and its step."""
    folder = {"last": LAST, "best": BEST}.get(which)
    if folder is None:
        raise UsageError(f"checkpoint must be 'last' or 'best', got {which!r}.")
    manager = _manager(epath.Path(model_dir), folder, keep=1)
    step = manager.best_step() if which == "best" else manager.latest_step()
    if step is None:
        raise UsageError(f"{epath.Path(model_dir) / folder} holds no checkpoint yet.")
    restored = manager.restore(step, args=ocp.args.Composite(model=ocp.args.StandardRestore()))
    manager.close()
    return dict(restored.model), step
