"""Tables and figures of every (source, target) pair of a transfer workdir.

  python -m drl_jax.main --config=configs/report.py --config.workdir=OUT

Writes OUT/transfer/<source>__to__<target>/results/ (README.md, transfer_table.md/.csv,
transfer_std.md, figures/). The transfer job runs this at its end.
"""

import common
import ml_collections

PRESETS = {}


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.job = "report"
    config.workdir = ""  # a transfer job's workdir
    config.shared_fovs = ()  # FoVs to mark with * in the tables
    return common.apply_preset(config, arg, PRESETS)
