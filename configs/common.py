"""What the config files share: the blocks of a job's config and the preset syntax.

A config file imports this module as `common` (the CLI puts the config file's folder
on the import path, as Python does for a script) and ends with
`return common.apply_preset(config, arg, PRESETS)`. It imports nothing of drl_jax,
so parsing a config, `--help` and config errors stay fast.

`arg` is a preset name, `key=value` pairs, or both, comma-separated
(`quick,seed=3`); values are parsed to the type of the field they replace.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import ml_collections
from ml_collections.config_flags import config_path

# The metric suite evaluated by default (drl_jax.metrics.DEFAULT; a test keeps the two
# equal). Also available, opt-in: "infomec" and "udr" (README, "The metrics").
METRICS = (
    "omes",
    "mig",
    "dci",
    "sap",
    "modularity",
    "downstream",
    "beta_vae",
    "factor_vae",
    "elbo",
    "irs",
    "unsupervised",
    "mi_family",
)


def data(name: str) -> ml_collections.ConfigDict:
    """Which dataset (drl_jax.data registry name) and where prepared TFDS data lives."""
    return ml_collections.ConfigDict(
        {
            "name": name,
            "data_dir": "",  # TFDS data dir; '' = $TFDS_DATA_DIR or ~/tensorflow_datasets
            "background": "",  # image for scream variants; '' = the built-in texture
        }
    )


def model() -> ml_collections.ConfigDict:
    """The network (docs/models.md#architectures). `conv`: how its convolutions run, 'auto' (the
    formulation measured fastest on the backend), 'native', 'patches' or 's2d'; equal
    results, different speed (README, "Speed")."""
    return ml_collections.ConfigDict({"architecture": "paper", "latent_dim": 10, "conv": "auto"})


def method(name: str = "ada_gvae") -> ml_collections.ConfigDict:
    """The objective (docs/models.md#objectives). Only the hparams the method reads are used."""
    return ml_collections.ConfigDict(
        {
            "name": name,
            "aggregation": "adaptive",  # ada_gvae / ada_mlvae: 'adaptive' (paper) or 'labels'
            "reconstruction": "bernoulli",  # or 'gaussian'
            "pair_k": 1,  # FoVs changed within a weak pair
            "hparams": {
                "beta": 1.0,
                "warmup_steps": 50_000.0,  # linear beta warm-up
                "gamma": 10.0,  # factor_vae TC weight; annealed_vae capacity weight
                "c_max": 25.0,  # annealed_vae final capacity (nats)
                "capacity_steps": 100_000.0,  # annealed_vae capacity ramp
                "lambda_od": 10.0,  # dip_vae off-diagonal weight
                "lambda_d": 100.0,  # dip_vae diagonal weight
            },
        }
    )


def sweep(seeds=(0,), hparam_values=(1.0,), hparam: str = "beta") -> ml_collections.ConfigDict:
    """Models trained together as one program: every (hparam value, seed) combination."""
    return ml_collections.ConfigDict(
        {"hparam": hparam, "hparam_values": hparam_values, "seeds": seeds}
    )


def train(steps: int = 400_000) -> ml_collections.ConfigDict:
    """Optimisation and the loop's periodic actions; all counts in optimizer steps."""
    return ml_collections.ConfigDict(
        {
            "steps": steps,
            "batch_size": 64,
            "learning_rate": 1e-4,
            "grad_clip_norm": 1.0,
            "steps_per_call": 100,  # steps run on the device per host call (lax.scan)
            "log_steps": 1_000,
            "ckpt_steps": 10_000,  # also the window of the best-checkpoint loss
            "image_steps": 50_000,
            "keep_checkpoints": 3,
            "model_shards": 1,  # devices along the mesh's model axis (sweeps)
        }
    )


def evaluation(num_samples: int = 15_000) -> ml_collections.ConfigDict:
    """The metric suite's settings (docs/method.md#evaluation-defaults)."""
    return ml_collections.ConfigDict(
        {
            "metrics": METRICS,
            "num_samples": num_samples,  # encoded samples: representations.npz
            "num_train": 10_000,  # the first num_train train classifiers, the rest test
            "chunk_size": 500,  # images encoded per device call (at most)
            "memory_budget_gb": 0.0,  # per encoding call; 0: half the device's, 1/4 host's
            "seed": 0,
            "omes_pairs": "auto",  # 'intervene' (full grids), 'mine' (labelled) or 'auto'
            "omes_pairs_per_fov": 5_000,  # intervention pairs per FoV
            "workers": 0,  # models scored at once on the host; 0: one per core, 1: in turn
            "max_pairs_per_fov": 100_000,  # cap on mined pairs per FoV
            "inactive_threshold": 0.05,  # OMES: std (ddof=1) under which a dim is inactive
            "pruning": "per_fov",  # pruned downstream: 'per_fov' (paper) or 'union' (reference)
            "classifiers": ("gbt", "mlp"),
            "gbt_backend": "exact",  # 'exact' (sklearn) or 'lightgbm' (faster, README)
            "mlp_backend": "auto",  # 'sklearn', 'jax' (one program) or 'auto': jax on GPU/TPU
            "n_jobs": -1,  # sklearn workers (-1: all cores)
            "beta_vae_train": 10_000,
            "beta_vae_eval": 5_000,
            "factor_vae_train": 10_000,
            "factor_vae_eval": 5_000,
            "factor_vae_variance": 10_000,
            "udr_correlation": "lasso",  # or 'spearman'
            "udr_kl_threshold": 0.01,  # nats: UDR leaves out dimensions at most this
        }
    )


def apply_preset(
    config: ml_collections.ConfigDict,
    arg: str | None,
    presets: Mapping[str, Mapping[str, Any]],
) -> ml_collections.ConfigDict:
    """Applies the preset and `key=value` overrides named by `arg` to `config`.

    Keys are dotted paths; an unknown key raises KeyError naming it, a value of the
    wrong type TypeError (ml_collections' own checks: the config is locked meanwhile).
    """
    with _locked(config):
        for item in filter(None, _split_items(arg or "")):
            if "=" in item:
                key, text = (part.strip() for part in item.split("=", 1))
                config.update_from_flattened_dict(
                    {key: _parse_like(key, _value(config, key), text)}
                )
            elif item in presets:
                config.update_from_flattened_dict(dict(presets[item]))
            else:
                raise ValueError(
                    f"Unknown preset {item!r}; valid presets: "
                    f"{', '.join(sorted(presets)) or 'none'} (or key=value overrides)."
                )
    return config


class _locked:
    """Locks a config for the block (unknown keys raise), then restores its lock state."""

    def __init__(self, config: ml_collections.ConfigDict):
        self.config, self.was_locked = config, config.is_locked

    def __enter__(self):
        self.config.lock()

    def __exit__(self, *exc):
        if not self.was_locked:
            self.config.unlock()


def _value(config: ml_collections.ConfigDict, key: str) -> Any:
    try:
        return config_path.get_value(key, config)
    except (KeyError, AttributeError):
        raise KeyError(f"Unknown config key {key!r}.") from None


def _split_items(arg: str) -> list[str]:
    """Splits on commas outside brackets: 'quick,sweep.seeds=(0, 1)' -> 2 items."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(arg):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append(arg[start:i].strip())
            start = i + 1
    items.append(arg[start:].strip())
    return items


def _parse_like(key: str, current: Any, text: str) -> Any:
    """`text` as a value of the type of `current` (str as is, bools True/False)."""
    if isinstance(current, str):
        return text
    if isinstance(current, bool):
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{key}={text}: expected True or False.")
        return text.lower() == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"{key}={text}: expected a {type(current).__name__} literal.") from None
    return type(current)(value) if isinstance(current, int | float) else value
