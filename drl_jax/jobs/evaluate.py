"""The `evaluate` job: any number of checkpoints on one dataset, one table.

Writes OUT/<source>/<model_id>/<dataset>/<which>/{representations.npz, classes.csv,
association_matrix.*, metrics.json, config.json} (drl_jax.workdir.layout) and
OUT/results.{json,csv} over every evaluation under OUT. A rerun reuses a result only
when it answers the same request (drl_jax.workdir.records).
"""

from __future__ import annotations

import glob

import jax
import ml_collections
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.evaluation import Evaluated, evaluate_models, results
from drl_jax.jobs import common
from drl_jax.models.card import read_card
from drl_jax.workdir import layout


def find_model_dirs(pattern: str) -> list[epath.Path]:
    """Model folders (holding model.json) matched by a glob of folders or of files in them."""
    folders = []
    for match in sorted(glob.glob(pattern)):
        path = epath.Path(match)
        folder = path if path.is_dir() else path.parent
        while folder != folder.parent and not (folder / layout.MODEL_CARD).exists():
            folder = folder.parent
        if (folder / layout.MODEL_CARD).exists() and folder not in folders:
            folders.append(folder)
    if not folders:
        raise UsageError(
            f"--config.checkpoints={pattern!r} matches no model folder (a folder with "
            "model.json, e.g. WORKDIR/source/<dataset>/<model_id>); quote the glob."
        )
    return folders


def run(config: ml_collections.ConfigDict) -> Evaluated:
    """Evaluates the checkpoints; returns what was evaluated (every model's metrics.json)."""
    common.require(config.workdir, "No output folder: pass --config.workdir=OUT.")
    common.require(
        config.checkpoints, "No models: pass --config.checkpoints='WORKDIR/source/*/*' (a glob)."
    )
    if config.checkpoint not in ("last", "best"):
        raise UsageError(f"checkpoint must be 'last' or 'best', got {config.checkpoint!r}.")
    settings = common.evaluation_settings(config.eval, common.conv(config.model))
    model_dirs = find_model_dirs(config.checkpoints)
    common.describe(config.data)
    root = epath.Path(config.workdir)
    cards = [read_card(d) for d in model_dirs]
    outs = [
        layout.evaluation_dir(root, c.dataset, c.model_id, config.data.name, config.checkpoint)
        for c in cards
    ]
    with common.hold([root]):
        data = common.load_data(config.data)
        evaluated = evaluate_models(
            model_dirs,
            data,
            outs,
            settings,
            which=config.checkpoint,
            dataset_record=common.dataset_record(config.data),
            config=config.to_dict(),
            description=f"{data.name} ({config.checkpoint})",
        )
        rows = results.write_tables(root)
    share = "" if jax.process_count() == 1 else f" (process {jax.process_index()}'s share)"
    print(
        f"Evaluated {len(outs)} checkpoint(s) on {data.name}{share}: {evaluated.computed} "
        f"computed, {evaluated.reused} reused; {root}/results.csv has {len(rows)} row(s), one "
        "per (checkpoint, dataset) under it."
    )
    return evaluated
