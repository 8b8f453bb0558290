"""OMES of a stored representation (docs/method.md#omes).

  python -m drl_jax.main --config=configs/omes.py \
      --config.input=DIR --config.workdir=OUT [--config.mode=sampled]

DIR holds representations.npz (keys `mean`, `sampled`) and classes.csv (the
reference code's format). Writes OUT/omes.json, OUT/association_matrix.csv and
OUT/association_matrix.png (benchmarks/bench_omes.py times it).
"""

import common
import ml_collections

PRESETS = {}


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.job = "omes"
    config.input = ""  # folder with representations.npz and classes.csv
    config.workdir = ""  # output folder
    config.mode = "mean"  # which key of representations.npz: mean or sampled
    config.seed = 0  # pair mining and capping
    config.max_pairs_per_fov = 100_000
    config.inactive_threshold = 0.05  # std (ddof=1) under which a dimension is inactive
    config.overwrite = False
    return common.apply_preset(config, arg, PRESETS)
