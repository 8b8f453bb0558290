"""Per-model checkpoints with orbax.

Each model's folder holds (docs/workdir.md), beside its model card (drl_jax.models.card):
  checkpoints/<step>/     the last K states: items `model` (params, batch_stats) and
                          `train` (opt_state, extra, step, key, hparams)
  checkpoints_best/<step>/  the state with the lowest windowed training loss
A sweep of M models trained as one program is saved as M such folders, so every
model can be evaluated, fine-tuned or resumed on its own. Evaluation restores only
the `model` item and needs no optimizer.

Multi-host (the workdir is shared: a network file system or `gs://`): a sweep
state's model axis may span processes. Training saves and restores collectively,
orbax's multi-host protocol (every process takes part in each model's save, the
primary process writes); each model's logs, images and card are written by the
process that owns it (drl_jax.train.placement). Reading one model
(`load_variables`) is private to the calling process, so hosts evaluate different
models at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.runtime import RUN_RARELY
from drl_jax.train.state import TrainState

LAST, BEST = "checkpoints", "checkpoints_best"

# drl_jax's checkpointers write each array whole from its first replica. orbax's
# default on CPU and TPU ("replica-parallel": every replica writes a slice) costs one
# eagerly dispatched slice per array and device, hundreds per model on 8 devices,
# for arrays of a few MB, which gain nothing from being split. The
# setting is scoped to the handlers below; orbax's global registry is left alone.
_TYPE_HANDLERS = ocp.type_handlers.create_type_handler_registry(
    (int, ocp.type_handlers.ScalarHandler()),
    (float, ocp.type_handlers.ScalarHandler()),
    (np.number, ocp.type_handlers.ScalarHandler()),
    (np.ndarray, ocp.type_handlers.NumpyHandler()),
    (jax.Array, ocp.type_handlers.ArrayHandler(use_replica_parallel=False)),
)
ITEMS = ("model", "train")  # params + batch_stats; everything else training needs


def _manager(
    model_dir: epath.PathLike, which: str, keep: int, private: bool = False
) -> ocp.CheckpointManager:
    """A model folder's manager: collective over all processes, or private to this one."""
    folder = epath.Path(model_dir).absolute() / which
    options = dict(
        max_to_keep=keep,
        enable_async_checkpointing=True,
        best_fn=(lambda metrics: metrics["window_loss"]) if which == BEST else None,
        best_mode="min",
    )
    # Many managers save at once: each needs its own barrier names across processes.
    barriers = f"drl_jax.{folder.parent.parent.name}.{folder.parent.name}.{which}"
    processes = ocp.options.MultiprocessingOptions(barrier_sync_key_prefix=barriers)
    if private:
        process = jax.process_index()
        processes = ocp.options.MultiprocessingOptions(
            primary_host=process,
            active_processes={process},
            barrier_sync_key_prefix=f"{barriers}.process{process}",
        )
        options["create"] = False
    handlers = {
        item: ocp.PyTreeCheckpointHandler(
            multiprocessing_options=processes, type_handler_registry=_TYPE_HANDLERS
        )
        for item in ITEMS
    }
    return ocp.CheckpointManager(
        folder,
        options=ocp.CheckpointManagerOptions(multiprocessing_options=processes, **options),
        item_handlers=handlers,
    )


def _model_slice(state: TrainState, m: jax.Array) -> TrainState:
    return jax.tree.map(lambda x: x[m], state)


class ModelCheckpoints:
    """The checkpoint managers of M model folders, saved and restored together.

    Every process of a multi-host run calls each method in the same order.
    """

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
        # Each model's slice replicated on all devices: a global array orbax can save.
        sharding = jax.tree.leaves(state)[0].sharding
        if isinstance(sharding, jax.sharding.NamedSharding):
            sharding = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
        slice_model = jax.jit(_model_slice, out_shardings=sharding, compiler_options=RUN_RARELY)
        for m, manager in enumerate(self.last):
            single = slice_model(state, m)
            step = int(np.asarray(single.step.addressable_data(0)))
            manager.save(step, args=_save_args(single))
            if window_loss is not None:
                metrics = {"window_loss": float(window_loss[m])}
                self.best[m].save(step, args=_save_args(single), metrics=metrics)

    def restore(self, step: int, template: TrainState) -> TrainState:
        """Every folder's state at `step`, stacked on the host like `template` [M, ...]."""
        single = jax.tree.map(lambda x: np.zeros(x.shape[1:], x.dtype), template)
        restored = [manager.restore(step, args=_restore_args(single)) for manager in self.last]
        states = [TrainState(**item.model, **item.train) for item in restored]
        return jax.tree.map(lambda *xs: np.stack(xs), *states)

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
    return ocp.args.Composite(model=ocp.args.PyTreeSave(model), train=ocp.args.PyTreeSave(train))


def _restore(template) -> ocp.args.PyTreeRestore:
    """Restores into host arrays shaped like `template` (a pytree of numpy arrays)."""
    return ocp.args.PyTreeRestore(
        template, restore_args=ocp.checkpoint_utils.construct_restore_args(template)
    )


def _restore_args(template: TrainState) -> ocp.args.Composite:
    model, train = _split(template)
    return ocp.args.Composite(model=_restore(model), train=_restore(train))


def saved_steps(model_dir: epath.PathLike) -> list[int]:
    """The steps of a model folder's finished checkpoints (none: []), read privately."""
    if not (epath.Path(model_dir) / LAST).exists():
        return []
    manager = _manager(model_dir, LAST, keep=1, private=True)
    try:
        return sorted(manager.all_steps())
    finally:
        manager.close()


def common_step(model_dirs: Sequence[epath.PathLike]) -> int | None:
    """The latest step saved in every model folder (None: no such step), read privately."""
    steps = [set(saved_steps(d)) for d in model_dirs]
    common = set.intersection(*steps) if steps else set()
    return max(common) if common else None


def load_variables(model_dir: epath.PathLike, which: str | int = "last") -> tuple[dict, int]:
    """The `params` and `batch_stats` (host arrays) of a model folder's checkpoint, and
    its step; private to the calling process.

    Args:
      which: "last", "best" (the lowest windowed training loss) or a step of the last
        checkpoints.
    """
    folder = BEST if which == "best" else LAST
    if not (which in ("last", "best") or isinstance(which, int)):
        raise UsageError(f"checkpoint must be 'last', 'best' or a step, got {which!r}.")
    if not (epath.Path(model_dir) / folder).exists():
        raise UsageError(f"{epath.Path(model_dir) / folder} holds no checkpoint yet.")
    manager = _manager(model_dir, folder, keep=1, private=True)
    if isinstance(which, int):
        step = which if which in manager.all_steps() else None
    else:
        step = manager.best_step() if which == "best" else manager.latest_step()
    if step is None:
        manager.close()
        what = f"no checkpoint of step {which}" if isinstance(which, int) else "no checkpoint yet"
        raise UsageError(f"{epath.Path(model_dir) / folder} holds {what}.")
    try:
        shapes = manager.item_metadata(step).model.tree
        template = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), shapes)
        restored = manager.restore(step, args=ocp.args.Composite(model=_restore(template)))
    except Exception as error:  # orbax raises many kinds for damaged or missing files
        raise UsageError(
            f"{epath.Path(model_dir) / folder / str(step)} is not a readable checkpoint "
            f"({type(error).__name__}: {_first_line(error)}); it should hold the orbax items "
            "'model' (params, batch_stats) and 'train'. Delete that step folder to use the one "
            "before it, or retrain."
        ) from None
    finally:
        manager.close()
    return {"batch_stats": {}, **restored.model}, step


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]
