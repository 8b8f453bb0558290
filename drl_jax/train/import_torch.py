"""The reference code's PyTorch checkpoints as drl_jax model folders (the paper architecture).

The reference saves `<run>/checkpoint/model.pth`: a `torch.save`d dict with
`encoder_state_dict`, `decoder_state_dict`, `fc_mu_state_dict`, `fc_var_state_dict`
and `optimizer_state_dict` of its `EFFICIENTVAE` (docs/models.md). Its layouts and
drl_jax's differ in four ways, each undone here:

* convolutions: PyTorch's Conv2d weight is [out, in, kh, kw], drl_jax's kernel
  [kh, kw, in, out]; ConvTranspose2d's is [in, out, kh, kw] and PyTorch's transposed
  conv is the gradient of a conv, i.e. flax's (non-transposing) ConvTranspose with the
  kernel flipped in both spatial axes;
* flattening: the reference flattens the encoder output and unflattens the decoder's
  projection in channel-first (C, H, W) order, drl_jax in (H, W, C): the LayerNorm
  parameters, the heads' input rows and the projection's output columns are permuted;
* the encoder convs carry a bias that drl_jax's paper encoder does not have: BatchNorm
  absorbs it, folded into the running mean (BN(conv(x) + b) with mean m equals
  BN(conv(x)) with mean m - b; in training mode the batch mean cancels it anyway);
* Adam: the optimizer's first and second moments get the same layout changes as their
  weights (the bias moments are dropped), and its step count becomes the state's step.

`read_checkpoint` needs torch (`pip install 'drl_jax[torch]'`); the conversion
(`paper_variables`, `adam_moments`) works on numpy arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import optax
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.models.card import ModelCard, write_card
from drl_jax.train import checkpoint as ckpt
from drl_jax.train.state import TrainState, create_train_state, make_optimizer

StateDicts = Mapping[str, Mapping[str, np.ndarray]]  # "encoder" -> {"0.0.weight": array, ...}
PARTS = ("encoder", "decoder", "fc_mu", "fc_var")
_FEATURES = (128, 8, 8)  # the encoder output of a 64 x 64 image, (C, H, W)


def read_checkpoint(path: epath.PathLike) -> tuple[StateDicts, dict[str, Any] | None]:
    """The reference checkpoint's state dicts as numpy arrays, and its optimizer state dict.

    Args:
      path: `<run>/checkpoint/model.pth`, `<run>/checkpoint` or `<run>`.
    """
    try:
        import torch
    except ImportError:
        raise UsageError(
            "reading PyTorch checkpoints needs torch: pip install 'drl_jax[torch]'."
        ) from None
    path = epath.Path(path)
    for candidate in (path, path / "model.pth", path / "checkpoint" / "model.pth"):
        if candidate.is_file():
            break
    else:
        raise UsageError(
            f"no model.pth at {path}, {path / 'model.pth'} or {path / 'checkpoint/model.pth'}: "
            "pass the reference run's folder or its checkpoint file."
        )
    try:
        with candidate.open("rb") as f:
            saved = torch.load(f, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for files that are not checkpoints
        raise UsageError(
            f"{candidate} is not a readable PyTorch checkpoint ({type(error).__name__}); it "
            f"should hold {', '.join(f'{p}_state_dict' for p in PARTS)} (torch.save)."
        ) from None
    missing = [f"{part}_state_dict" for part in PARTS if f"{part}_state_dict" not in saved]
    if missing:
        raise UsageError(f"{candidate} lacks {missing}: not a reference-code checkpoint.")
    state_dicts = {
        part: {name: value.numpy() for name, value in saved[f"{part}_state_dict"].items()}
        for part in PARTS
    }
    optimizer = saved.get("optimizer_state_dict")
    if optimizer is not None:
        optimizer = {
            "state": {
                int(index): {k: np.asarray(v) for k, v in entry.items()}
                for index, entry in optimizer["state"].items()
            },
            "params": list(optimizer["param_groups"][0]["params"]),
        }
    return state_dicts, optimizer


def _conv(weight: np.ndarray) -> np.ndarray:
    """Conv2d weight [out, in, kh, kw] -> kernel [kh, kw, in, out]."""
    return weight.transpose(2, 3, 1, 0)


def _conv_transpose(weight: np.ndarray) -> np.ndarray:
    """ConvTranspose2d weight [in, out, kh, kw] -> flax ConvTranspose kernel [kh, kw, in, out]."""
    return weight.transpose(2, 3, 0, 1)[::-1, ::-1]


def _chw_to_hwc(values: np.ndarray, axis: int) -> np.ndarray:
    """Reorders an axis of size C*H*W from (C, H, W) to (H, W, C) order."""
    values = np.moveaxis(values, axis, -1)
    shape = values.shape[:-1]
    values = values.reshape(*shape, *_FEATURES)
    values = np.moveaxis(values, -3, -1).reshape(*shape, -1)
    return np.moveaxis(values, -1, axis)


def _params(sd: StateDicts) -> dict[str, dict[str, np.ndarray]]:
    """drl_jax `params` (module -> {name: array}) from weight-like reference arrays."""
    enc, dec = sd["encoder"], sd["decoder"]
    encoder = {}
    for i in range(3):
        encoder[f"Conv_{i}"] = {"kernel": _conv(enc[f"{i}.0.weight"])}
        encoder[f"BatchNorm_{i}"] = {"scale": enc[f"{i}.1.weight"], "bias": enc[f"{i}.1.bias"]}
    encoder["LayerNorm_0"] = {
        "scale": _chw_to_hwc(enc["4.weight"], 0),
        "bias": _chw_to_hwc(enc["4.bias"], 0),
    }
    for head, part in (("mean", "fc_mu"), ("logvar", "fc_var")):
        encoder[head] = {"kernel": _chw_to_hwc(sd[part]["weight"].T, 0), "bias": sd[part]["bias"]}
    decoder = {
        "Dense_0": {
            "kernel": _chw_to_hwc(dec["0.0.weight"].T, 1),
            "bias": _chw_to_hwc(dec["0.0.bias"], 0),
        }
    }
    for i in range(3):
        decoder[f"ConvTranspose4x4_{i}"] = {
            "kernel": _conv_transpose(dec[f"{i + 2}.0.weight"]),
            "bias": dec[f"{i + 2}.0.bias"],
        }
    return {"encoder": encoder, "decoder": decoder}


def paper_variables(state_dicts: StateDicts) -> dict[str, Any]:
    """drl_jax's `{"params", "batch_stats"}` of the paper architecture (float32 numpy)."""
    enc = state_dicts["encoder"]
    batch_stats = {
        f"BatchNorm_{i}": {
            "mean": enc[f"{i}.1.running_mean"] - enc[f"{i}.0.bias"],  # the conv bias, folded
            "var": enc[f"{i}.1.running_var"],
        }
        for i in range(3)
    }
    variables = {"params": _params(state_dicts), "batch_stats": {"encoder": batch_stats}}
    return jax.tree.map(lambda x: np.ascontiguousarray(x, np.float32), variables)


# The reference model's parameters in `model.parameters()` order (the optimizer's indices),
# after its own `log_scale` [1] where the model has one.
_PARAMETER_ORDER = (
    *[
        ("encoder", f"{i}.{layer}.{kind}")
        for i in range(3)
        for layer, kind in ((0, "weight"), (0, "bias"), (1, "weight"), (1, "bias"))
    ],
    ("encoder", "4.weight"),
    ("encoder", "4.bias"),
    ("decoder", "0.0.weight"),
    ("decoder", "0.0.bias"),
    *[("decoder", f"{i}.0.{kind}") for i in (2, 3, 4) for kind in ("weight", "bias")],
    ("fc_mu", "weight"),
    ("fc_mu", "bias"),
    ("fc_var", "weight"),
    ("fc_var", "bias"),
)


def adam_moments(
    state_dicts: StateDicts, optimizer: Mapping[str, Any]
) -> tuple[dict, dict, int] | None:
    """Adam's (mu, nu) in drl_jax's params layout and its step count, or None when the
    optimizer state does not list the reference model's parameters in order."""
    indices = optimizer["params"]
    if len(indices) == len(_PARAMETER_ORDER) + 1:  # log_scale first (the reference's models)
        indices = indices[1:]
    state = optimizer["state"]
    if len(indices) != len(_PARAMETER_ORDER) or any(i not in state for i in indices):
        return None
    moments = {}
    for key in ("exp_avg", "exp_avg_sq"):
        arrays = {part: {} for part in PARTS}
        for index, (part, name) in zip(indices, _PARAMETER_ORDER, strict=True):
            if state[index][key].shape != state_dicts[part][name].shape:
                return None
            arrays[part][name] = state[index][key]
        moments[key] = jax.tree.map(lambda x: np.asarray(x, np.float32), _params(arrays))
    steps = {int(state[i]["step"]) for i in indices}
    if len(steps) != 1:
        return None
    return moments["exp_avg"], moments["exp_avg_sq"], steps.pop()


def _with_adam(opt_state, mu, nu, step: int):
    """The optax chain(clip_by_global_norm, adam) state with Adam's moments and count set."""

    def replace(node):
        if isinstance(node, optax.ScaleByAdamState):
            return node._replace(count=np.asarray(step, np.int32), mu=mu, nu=nu)
        return node

    return jax.tree.map(replace, opt_state, is_leaf=lambda n: isinstance(n, optax.ScaleByAdamState))


def import_model(
    state_dicts: StateDicts,
    optimizer: Mapping[str, Any] | None,
    card: ModelCard,
    model_dir: epath.PathLike,
    *,
    step: int,
    learning_rate: float = 1e-4,
    grad_clip_norm: float = 1.0,
) -> tuple[TrainState, str]:
    """Writes a drl_jax model folder (model.json + orbax checkpoint) of an imported model.

    Args:
      state_dicts, optimizer: `read_checkpoint`'s.
      card: what the model is (architecture "paper"; channels and latent_dim must match
        the weights).
      model_dir: the folder to write; it must not hold a checkpoint yet.
      step: the state's step when the optimizer state gives none.

    Returns:
      (the written state, a line saying how the optimizer state was set).
    """
    from drl_jax.models.methods import get_method

    variables = paper_variables(state_dicts)
    channels = variables["params"]["encoder"]["Conv_0"]["kernel"].shape[2]
    latent_dim = variables["params"]["encoder"]["mean"]["kernel"].shape[1]
    if (card.architecture, card.channels, card.latent_dim) != ("paper", channels, latent_dim):
        raise UsageError(
            f"the checkpoint is the paper architecture with {channels} channel(s) and a "
            f"{latent_dim}-dim latent; the card says {card.architecture}, {card.channels}, "
            f"{card.latent_dim}."
        )
    folder = epath.Path(model_dir)
    if (folder / ckpt.LAST).exists():
        raise UsageError(f"{folder / ckpt.LAST} exists: import into an empty model folder.")
    method = get_method(card.method)
    state = create_train_state(
        jax.random.key(card.seed),
        card.vae(),
        method,
        make_optimizer(learning_rate, grad_clip_norm),
        card.hparams,
        card.image_shape,
    )
    template = jax.tree.map(np.asarray, state.params)
    params = jax.tree.map(lambda t, v: v.reshape(t.shape), template, variables["params"])
    moments = adam_moments(state_dicts, optimizer) if optimizer is not None else None
    if moments is None:
        opt_state = jax.device_get(state.opt_state)
        note = "optimizer state: fresh Adam (the checkpoint's does not list the model's weights)"
    else:
        mu, nu, step = moments
        opt_state = _with_adam(jax.device_get(state.opt_state), mu, nu, step)
        note = f"optimizer state: the checkpoint's Adam moments, step {step}"
    state = state.replace(
        step=np.asarray(step, np.int32),
        params=params,
        batch_stats=variables["batch_stats"],
        opt_state=opt_state,
    )
    stacked = jax.tree.map(lambda x: np.asarray(x)[None], jax.device_get(state))
    checkpoints = ckpt.ModelCheckpoints([folder], keep=1)
    try:
        checkpoints.save(jax.device_put(stacked))
        checkpoints.wait()
    finally:
        checkpoints.close()
    write_card(folder, card)
    return state, note
