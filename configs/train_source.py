"""Train source models with weak supervision (SPEC section 3).

  python -m drl_jax.main --config=configs/train_source.py[:preset] --config.workdir=OUT

Presets:
  (none)  the paper's protocol: Ada-GVAE, beta 1 (warm-up 50k), 400k steps, batch 64,
          lr 1e-4, clip 1.0, latent 10, on procedural_dsprites. Set --config.data.name
          to train on another source (e.g. shapes3d, once prepared).
  sweep   the paper's 20 models of a source as one program: 10 seeds x beta {1, 2}.
  quick   minutes on a laptop CPU: 3,000 steps of one model on procedural_dsprites;
          the loss falls from ~2,800 to below ~400 nats (see README).
Writes OUT/source/<dataset>/<model_id>/ (checkpoints, train_log.jsonl, tensorboard/,
images/) and OUT/config.json. Rerunning resumes from the last checkpoint.
"""

import common
import ml_collections

PRESETS = {
    "sweep": {"sweep.seeds": tuple(range(10)), "sweep.hparam_values": (1.0, 2.0)},
    "quick": {
        "train.steps": 3_000,
        "train.learning_rate": 1e-3,
        "train.steps_per_call": 50,
        "train.log_steps": 250,
        "train.ckpt_steps": 1_000,
        "train.image_steps": 1_500,
        "method.hparams.warmup_steps": 500.0,
    },
}


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.job = "train"
    config.workdir = ""
    config.overwrite = False
    config.data = common.data("procedural_dsprites")
    config.model = common.model()
    config.method = common.method("ada_gvae")
    config.sweep = common.sweep()
    config.train = common.train(400_000)
    return common.apply_preset(config, arg, PRESETS)
