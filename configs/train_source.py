"""Train source models with weak supervision (docs/models.md).

  python -m drl_jax.main --config=configs/train_source.py[:preset] --config.workdir=OUT

Presets:
  (none)  the paper's protocol: Ada-GVAE, beta 1 (warm-up 50k), 400k steps, batch 64,
          lr 1e-4, clip 1.0, latent 10, on procedural_dsprites. Set --config.data.name
          to train on another source (e.g. shapes3d, once prepared). 38 hours on 2
          CPU cores (README "Speed").
  sweep   the paper's 20 models of a source as one program: 10 seeds x beta {1, 2}.
          About a month on 2 CPU cores (38 h per model, README "Speed"); on an
          accelerator an hour or two (estimated from FLOPs, README "Running at scale").
  quick   6.5 minutes on 2 CPU cores (385 s measured): 2,000 steps of one model of the
          disentanglement_lib architecture on procedural_dsprites; the loss (nats per
          image) falls to 139 by step 250, 118 by 1,000 and 106 by 2,000, still falling.
Writes OUT/source/<dataset>/<model_id>/ (checkpoints, train_log.jsonl, tensorboard/,
images/) and OUT/config.json. Rerunning resumes from the last checkpoint.
"""

import common
import ml_collections

PRESETS = {
    "sweep": {"sweep.seeds": tuple(range(10)), "sweep.hparam_values": (1.0, 2.0)},
    "quick": {
        "model.architecture": "dlib",
        "train.steps": 2_000,
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
