"""The main job: synthetic-to-real transfer, end to end (docs/transfer.md).

  python -m drl_jax.main --config=configs/transfer.py[:preset] --config.workdir=OUT

Trains (or reuses) the source models, evaluates them on the target before and
after unsupervised fine-tuning, and writes the paper's tables and figures to
OUT/transfer/<source>__to__<target>/results/ (README.md links everything).
Presets:
  (none)   the paper's protocol on embedded data: procedural_dsprites with Ada-GVAE
           (10 seeds x beta {1, 2}, 400k steps) -> procedural_noisy_color_dsprites
           (50k fine-tuning steps), full metric suite on 15,000 target samples.
           Weeks on 2 CPU cores; hours on an accelerator (estimated from FLOPs, README:
           "Running at scale").
  quick    5.5 minutes on 2 CPU cores (320 s measured, README): procedural_dsprites ->
           procedural_noisy_dsprites (the paper's dSprites -> Noisy-dSprites), 2 models
           (beta 1 and 2) of the disentanglement_lib architecture, 1,500 source steps
           (batch 16, lr 1e-3), 300 fine-tuning steps (lr 1e-4), 3,000 evaluation
           samples, LightGBM trees. The source models are clearly disentangled (OMES
           well above an untrained encoder's) and the table shows the transfer's effect
           per FoV (README shows a run). Not Noisy-Color-dSprites: converted to the
           source's one channel its pastel sprites are close to the noise's gray, and
           300 fine-tuning steps collapse the posterior to the prior there (measured:
           every dimension inactive).
  quick_real  quick from synthetic to real photographs: procedural_color_dsprites ->
           coil100_augmented (the real COIL-100 photographs, rotated and shrunk on the
           device; prepare them first: python -m drl_jax.data.tfds.prepare
           coil100_augmented --manual_dir DIR), quick's models, steps and evaluation. The
           shared FoV is scale, the only FoV name both have (the target's in-plane
           rotation is not the source's orientation by name). 12 minutes on 2 CPU cores
           (715 s measured on the 7,200 photographs, 2 cores of an AMD EPYC shared with
           other processes, load average about 6; README shows the run). The models
           read scale, in-plane rotation and the object well above the same encoders
           untrained (MLP object accuracy 26.5 % vs 6.6 %, chance 1 %); the turntable
           pose stays at chance.
  tiny     seconds of training, for tests: every stage and artefact, no meaning.
  Real datasets (prepare them first, README "Real datasets"), the paper's transfers:
  dsprites_to_noisy_dsprites, color_dsprites_to_noisy_color_dsprites,
  dsprites_to_color_dsprites, color_dsprites_to_shapes3d, isaac3d_to_shapes3d,
  shapes3d_to_isaac3d, color_dsprites_to_coil100_augmented,
  shapes3d_to_coil100_augmented, dsprites_to_coil100_augmented_binary,
  color_dsprites_to_rgbd_objects, color_dsprites_to_rgbd_objects_depth,
  coil100_augmented_to_rgbd_objects, coil100_augmented_binary_to_coil100_augmented,
  coil100_augmented_binary_to_rgbd_objects.
"""

import common
import ml_collections

QUICK = {
    "target.name": "procedural_noisy_dsprites",
    "model.architecture": "dlib",
    "sweep.seeds": (0,),
    "sweep.hparam_values": (1.0, 2.0),
    "train.batch_size": 16,
    "train.learning_rate": 1e-3,
    "train.steps": 1_500,
    "train.steps_per_call": 50,
    "train.log_steps": 250,
    "train.ckpt_steps": 500,
    "train.image_steps": 1_500,
    "method.hparams.warmup_steps": 500.0,
    "finetune.batch_size": 16,
    "finetune.steps": 300,
    "finetune.steps_per_call": 50,
    "finetune.log_steps": 100,
    "finetune.ckpt_steps": 150,
    "finetune.image_steps": 300,
    "eval.num_samples": 3_000,
    "eval.num_train": 2_000,
    "eval.omes_pairs_per_fov": 1_000,
    "eval.metrics": ("omes", "mig", "dci", "sap", "modularity", "downstream", "elbo"),
    "eval.gbt_backend": "lightgbm",
}
QUICK_REAL = {
    **QUICK,
    "source.name": "procedural_color_dsprites",
    "target.name": "coil100_augmented",
}
TINY = {
    **QUICK,
    "target.name": "procedural_noisy_color_dsprites",  # A target FoV (color) the source lacks.
    "train.steps": 20,
    "train.steps_per_call": 10,
    "train.log_steps": 10,
    "train.ckpt_steps": 10,
    "train.image_steps": 20,
    "method.hparams.warmup_steps": 10.0,
    "finetune.steps": 20,
    "finetune.steps_per_call": 10,
    "finetune.log_steps": 10,
    "finetune.ckpt_steps": 10,
    "finetune.image_steps": 20,
    "eval.num_samples": 400,
    "eval.num_train": 250,
    "eval.chunk_size": 200,
    "eval.omes_pairs_per_fov": 100,
    "eval.classifiers": ("gbt",),
    "eval.mlp_backend": "jax",
}


def _real(source: str, target: str) -> dict:
    return {"source.name": source, "target.name": target}


# The paper's transfers on the real datasets (docs/transfer.md). COIL sources train 300k steps.
REAL = {
    "dsprites_to_noisy_dsprites": _real("dsprites", "noisy_dsprites"),
    "color_dsprites_to_noisy_color_dsprites": _real("color_dsprites", "noisy_color_dsprites"),
    "dsprites_to_color_dsprites": _real("dsprites", "color_dsprites"),
    "color_dsprites_to_shapes3d": _real("color_dsprites", "shapes3d"),
    "isaac3d_to_shapes3d": _real("isaac3d", "shapes3d"),
    "shapes3d_to_isaac3d": _real("shapes3d", "isaac3d"),
    "color_dsprites_to_coil100_augmented": _real("color_dsprites", "coil100_augmented"),
    "shapes3d_to_coil100_augmented": _real("shapes3d", "coil100_augmented"),
    "dsprites_to_coil100_augmented_binary": _real("dsprites", "coil100_augmented_binary"),
    "color_dsprites_to_rgbd_objects": _real("color_dsprites", "rgbd_objects"),
    "color_dsprites_to_rgbd_objects_depth": _real("color_dsprites", "rgbd_objects_depth"),
    "coil100_augmented_to_rgbd_objects": {
        **_real("coil100_augmented", "rgbd_objects"),
        "train.steps": 300_000,
    },
    "coil100_augmented_binary_to_coil100_augmented": {
        **_real("coil100_augmented_binary", "coil100_augmented"),
        "train.steps": 300_000,
    },
    "coil100_augmented_binary_to_rgbd_objects": {
        **_real("coil100_augmented_binary", "rgbd_objects"),
        "train.steps": 300_000,
    },
}
PRESETS = {"quick": QUICK, "quick_real": QUICK_REAL, "tiny": TINY, **REAL}


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.job = "transfer"
    config.workdir = ""
    config.source = common.data("procedural_dsprites")
    config.target = common.data("procedural_noisy_color_dsprites")
    config.shared_fovs = ()  # FoVs both datasets have; () = every common FoV name
    config.model = common.model()
    config.method = common.method("ada_gvae")
    config.sweep = common.sweep(seeds=tuple(range(10)), hparam_values=(1.0, 2.0))
    config.train = common.train(400_000)
    config.finetune = common.train(50_000)
    config.eval = common.evaluation()
    # The source checkpoint evaluated "before" and fine-tuned: 'last' only (the models' last
    # common step; one program fine-tunes the sweep from one step, and 'best' steps differ).
    config.checkpoint = "last"
    return common.apply_preset(config, arg, PRESETS)
