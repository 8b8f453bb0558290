"""Config fragments shared by the config files in configs/ (each a function returning a
ConfigDict, so a file composes them and a preset overrides single keys)."""

from __future__ import annotations

import ml_collections

from drl_jax.metrics import suite


def data(name: str) -> ml_collections.ConfigDict:
    """Which dataset (drl_jax.data.registry name) and where prepared TFDS data lives."""
    return ml_collections.ConfigDict(
        {
            "name": name,
            "data_dir": "",  # TFDS data dir; '' = $TFDS_DATA_DIR or ~/tensorflow_datasets
            "background": "",  # image for scream variants; '' = the built-in texture
        }
    )


def model() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({"architecture": "paper", "latent_dim": 10})


def method(name: str = "ada_gvae") -> ml_collections.ConfigDict:
    """The objective (SPEC section 3). Only the hparams the method reads are used."""
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
    """The metric suite's settings (SPEC section 2 defaults)."""
    return ml_collections.ConfigDict(
        {
            "metrics": suite.METRICS,
            "num_samples": num_samples,  # encoded samples: representations.npz
            "num_train": 10_000,  # the first num_train train classifiers, the rest test
            "chunk_size": 500,  # images encoded per device call
            "seed": 0,
            "omes_pairs": "auto",  # 'intervene' (full grids), 'mine' (labelled) or 'auto'
            "omes_pairs_per_fov": 5_000,  # intervention pairs per FoV
            "max_pairs_per_fov": 100_000,  # cap on mined pairs per FoV
            "pruning": "per_fov",  # pruned downstream: 'per_fov' (paper) or 'union' (reference)
            "classifiers": ("gbt", "mlp"),
            "gbt_backend": "exact",  # 'exact' (sklearn), 'hist' or 'lightgbm' (faster, README)
            "mlp_backend": "sklearn",  # or 'jax': all nets in one jitted program (accelerators)
            "n_jobs": -1,  # sklearn workers (-1: all cores)
            "beta_vae_train": 10_000,
            "beta_vae_eval": 5_000,
            "factor_vae_train": 10_000,
            "factor_vae_eval": 5_000,
            "factor_vae_variance": 10_000,
        }
    )
