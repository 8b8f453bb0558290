"""The study of a workdir: every evaluated model in one long table, the paper's summary tables
across all its transfers, and the metric-analysis figures (docs/method.md, docs/transfer.md).

  python -m drl_jax.main --config=configs/study.py --config.workdir=W

Reads every W/**/metrics.json (transfers' before/after, evaluate runs) and writes W/study/
(README.md links everything: long_table.csv, summary.{md,csv,tex}, tables/, figures/). The
transfer job runs it at its end. A rerun with unchanged inputs writes nothing
(benchmarks/bench_study.py times both cases).
No presets.
"""

import common
import ml_collections

PRESETS = {}


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.job = "study"
    config.workdir = ""  # a folder holding metrics.json files (a transfer or evaluate workdir)
    config.force = False  # rewrite W/study/ even when no metrics.json changed
    return common.apply_preset(config, arg, PRESETS)
