"""The `evaluate` job: any number of checkpoints on one dataset, one table.

Writes OUT/<source>/<model_id>/{representations.npz, classes.csv, association_matrix.*,
metrics.json} and OUT/results.{json,csv}; finished models are skipped on rerun.
"""

from __future__ import annotations

import glob

import ml_collections
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.evaluation import evaluate_models, results
from drl_jax.jobs import common
from drl_jax.train import checkpoint as ckpt
from drl_jax.workdir import save_config


def find_model_dirs(pattern: str) -> list[epath.Path]:
    """Model folders (holding model.json) matched by a glob of folders or of files in them."""
    folders = []
    for match in sorted(glob.glob(pattern)):
        path = epath.Path(match)
        folder = path if path.is_dir() else path.parent
        while folder != folder.parent and not (folder / "model.json").exists():
            folder = folder.parent
        if (folder / "model.json").exists() and folder not in folders:
            folders.append(folder)
    if not folders:
        raise UsageError(
            f"--config.checkpoints={pattern!r} matches no model folder (a folder with "
            "model.json, e.g. WORKDIR/source/<dataset>/<model_id>); quote the glob."
        )
    return folders


def run(config: ml_collections.ConfigDict) -> list[dict]:
    """Evaluates the checkpoints; returns every model's metrics.json content."""
    common.require(config.workdir, "No output folder: pass --config.workdir=OUT.")
    common.require(
        config.checkpoints, "No models: pass --config.checkpoints='WORKDIR/source/*/*' (a glob)."
    )
    settings = common.evaluation_settings(config.eval, common.conv(config.model))
    model_dirs = find_model_dirs(config.checkpoints)
    common.describe(config.data)
    data = common.load_data(config.data)
    root = epath.Path(config.workdir)
    save_config(root, config.to_dict())
    cards = [ckpt.read_card(d) for d in model_dirs]
    evaluated = evaluate_models(
        model_dirs,
        data,
        [root / card.dataset / card.model_id for card in cards],
        settings,
        which=config.checkpoint,
        description=data.name,
    )
    rows = results.write_tables(root, evaluated)
    print(f"Evaluated {len(rows)} checkpoint(s) on {data.name}; tables in {root}/results.csv")
    return evaluated
