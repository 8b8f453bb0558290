"""Evaluate any number of checkpoints on a ground-truth dataset (docs/method.md).

  python -m drl_jax.main --config=configs/evaluate.py[:preset] \
      --config.checkpoints='WORKDIR/source/*/*' --config.data.name=procedural_noisy_dsprites \
      --config.workdir=OUT

Writes OUT/<source>/<model_id>/<dataset>/<checkpoint>/{representations.npz, classes.csv,
metrics.json, config.json} and OUT/results.{json,csv} (one row per checkpoint and dataset
under OUT). A rerun reuses a result only when it answers the same request: the same
checkpoint (by fingerprint), dataset and settings (README, "Reruns and reproducibility").
Presets:
  (none)  the paper's defaults: 15,000 samples (10,000 train / 5,000 test), every metric.
          10-12 minutes per model on 2 CPU cores (610-735 s measured with the real
          encoders, two models scored at once; BetaVAE and FactorVAE, which encode 2.9
          million images, are about 70% of it: README "Speed", benchmarks/bench_evaluate.py).
  quick   a laptop CPU: 3,000 samples (2,000 / 1,000), 1,000 intervention points for
          BetaVAE/FactorVAE, 1,000 OMES pairs per FoV. 163 s for one model on 2 CPU
          cores before the encoders ran in inference blocks (measured, the train job's
          quick model, compilation included); less since, not remeasured.
"""

import common
import ml_collections

QUICK = {
    "eval.num_samples": 3_000,
    "eval.num_train": 2_000,
    "eval.omes_pairs_per_fov": 1_000,
    "eval.beta_vae_train": 1_000,
    "eval.beta_vae_eval": 500,
    "eval.factor_vae_train": 1_000,
    "eval.factor_vae_eval": 500,
    "eval.factor_vae_variance": 2_000,
}
PRESETS = {"quick": QUICK}


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.job = "evaluate"
    config.workdir = ""
    config.checkpoints = ""  # glob of model folders, e.g. 'WORKDIR/source/*/*'
    config.checkpoint = "last"  # which checkpoint of each model: 'last' or 'best'
    config.data = common.data("procedural_dsprites")
    # Only the convolution formulation: the checkpoints' model.json say the rest.
    config.model = ml_collections.ConfigDict({"conv": common.model().conv})
    config.eval = common.evaluation()
    return common.apply_preset(config, arg, PRESETS)
