"""Batched evaluation of many checkpoints on a ground-truth dataset (SPEC section 2).

Models are grouped by architecture; each group's parameters are stacked and the
encoder is vmapped over the model axis (`drl_jax.encoding`), so every model sees
the same samples and interventions. OMES is computed for all models of a group
in one call; the sklearn metrics follow per model (`drl_jax.metrics.suite`).
Each model's output folder gets representations.npz, classes.csv and
metrics.json (layout in README); the output root gets results.json and
results.csv, one row per checkpoint. A model whose metrics.json exists is not
recomputed. In a multi-host run each process evaluates every process_count-th
model and process 0 writes the tables. `run(config)` is the `evaluate` job.
"""

from __future__ import annotations

import csv
import glob
import io
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from etils import epath
from jax.experimental import multihost_utils
from jax.tree_util import Partial
from tqdm import tqdm

from drl_jax import encoding, omes_job, representations
from drl_jax.data import registry, variants
from drl_jax.data.ground_truth import GridData, GroundTruthData
from drl_jax.errors import UsageError
from drl_jax.metrics import omes, suite
from drl_jax.report import figures
from drl_jax.train import checkpoint as ckpt
from drl_jax.workdir import read_json, save_config, write_atomic, write_json


def _encode_means(vae, model_variables, images):
    return vae.apply(model_variables, images, False, method="encode")[0]


def _omes_results(vae, variables, data, key, means, factors, settings) -> list[dict]:
    """OMES arrays of M models (`omes.omes_from_pair_codes`' dict each), from interventions
    (full grids) or pairs mined in the samples."""
    mode = settings.omes_pairs
    if mode == "auto":
        mode = "intervene" if isinstance(data, GridData) else "mine"
    if mode == "intervene":
        if not isinstance(data, GridData):
            raise UsageError(f"{data.name} is not a full FoV grid: set eval.omes_pairs='mine'.")
        z1, z2, valid = encoding.encode_interventions(
            vae, variables, data, key, settings.omes_pairs_per_fov, settings.chunk_size
        )
        batched = jax.vmap(omes.omes_from_pair_codes, in_axes=(0, 0, None, 0))
        result = jax.tree.map(np.asarray, batched(z1, z2, valid, means))
    elif mode == "mine":
        result = omes.omes_arrays(
            means, factors, max_pairs_per_fov=settings.max_pairs_per_fov, seed=settings.seed
        )
    else:
        raise UsageError(f"eval.omes_pairs must be auto, intervene or mine, got {mode!r}.")
    return [{k: v[m] for k, v in result.items()} for m in range(len(means))]


def _for_channels(data: GroundTruthData, channels: int) -> GroundTruthData:
    """The documented conversion when models expect another channel count (gray <-> RGB)."""
    return data if data.channels == channels else variants.to_channels(data, channels)


def evaluate_models(
    model_dirs: Sequence[epath.PathLike],
    data: GroundTruthData,
    out_dirs: Sequence[epath.PathLike],
    settings: ml_collections.ConfigDict,
    *,
    which: str = "last",
    description: str = "evaluate",
) -> list[dict[str, Any]]:
    """Evaluates every model folder on `data`, writing each result to its out folder.

    Returns the metrics.json content of every model (finished ones are read back).
    """
    suite.check_names(settings.metrics)
    mine = [i for i in range(len(model_dirs)) if i % jax.process_count() == jax.process_index()]
    if jax.process_count() > 1:
        print(
            f"process {jax.process_index()} of {jax.process_count()} evaluates models "
            f"{mine} of {len(model_dirs)}",
            flush=True,
        )
    todo = [i for i in mine if not (epath.Path(out_dirs[i]) / "metrics.json").exists()]
    cards = {i: ckpt.read_card(model_dirs[i]) for i in todo}
    groups = defaultdict(list)
    for i in todo:
        groups[cards[i].group].append(i)
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), desc=description, unit="model")
    key = jax.random.key(settings.seed)
    for members in groups.values():
        vae = cards[members[0]].vae()
        group_data = _for_channels(data, cards[members[0]].channels)
        loaded = [ckpt.load_variables(model_dirs[i], which) for i in members]
        variables = jax.tree.map(lambda *xs: np.stack(xs), *[v for v, _ in loaded])
        encoded, factors = encoding.encode_samples(
            vae, variables, group_data, key, settings.num_samples, settings.chunk_size
        )
        omes_results = [None] * len(members)
        if "omes" in settings.metrics:
            omes_results = _omes_results(
                vae,
                variables,
                group_data,
                jax.random.fold_in(key, 7),
                encoded["mean"],
                factors,
                settings,
            )
        names = list(data.factor_names)
        reports = [r and omes.to_json(r, names) for r in omes_results]
        for m, i in enumerate(members):
            model_variables = jax.tree.map(lambda x, m=m: x[m], variables)
            results, seconds = suite.score(
                encoded["mean"][m],
                factors,
                settings.num_train,
                metrics=settings.metrics,
                data=group_data,
                encode=Partial(_encode_means, vae, model_variables),
                key=jax.random.fold_in(key, 11),
                association=reports[m]["association"] if reports[m] else None,
                options=_suite_options(settings),
            )
            metrics = {
                "model": cards[i].__dict__,
                "checkpoint": {"folder": str(model_dirs[i]), "which": which, "step": loaded[m][1]},
                "dataset": data.name,
                "num_samples": settings.num_samples,
                "num_train": settings.num_train,
                **({"omes": reports[m]} if reports[m] else {}),
                **results,
                **({"elbo": _elbo(encoded, m)} if "elbo" in settings.metrics else {}),
                "seconds": seconds,
            }
            out = epath.Path(out_dirs[i])
            representations.write(
                out, encoded["mean"][m], encoded["sampled"][m], factors, data.factor_names
            )
            if omes_results[m]:
                write_atomic(
                    out / "association_matrix.csv", omes_job.association_csv(omes_results[m], names)
                )
                figures.association_heatmap(
                    omes_results[m]["association"],
                    omes_results[m]["active"],
                    names,
                    out / "association_matrix.png",
                    title=f"S of {cards[i].model_id} on {data.name}",
                )
            write_json(out / "metrics.json", metrics)  # last: marks the model finished
            bar.update()
    bar.close()
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("drl_jax evaluate: all models written")
    return [read_json(epath.Path(d) / "metrics.json") for d in out_dirs]


def _suite_options(settings: ml_collections.ConfigDict) -> dict[str, Any]:
    names = (
        "seed",
        "n_jobs",
        "pruning",
        "classifiers",
        "gbt_backend",
        "mlp_backend",
        "beta_vae_train",
        "beta_vae_eval",
        "factor_vae_train",
        "factor_vae_eval",
        "factor_vae_variance",
    )
    return {name: settings[name] for name in names}


def _elbo(encoded: dict[str, np.ndarray], m: int) -> dict[str, float]:
    reconstruction = float(encoded["reconstruction"][m].mean())
    kl = float(encoded["kl"][m].mean())
    return {"elbo": -(reconstruction + kl), "reconstruction": reconstruction, "kl": kl}


def _mean_measured(per_fov: dict[str, float | None]) -> float | None:
    values = [v for v in per_fov.values() if v is not None]
    return float(np.mean(values)) if values else None


def results_row(metrics: dict[str, Any]) -> dict[str, Any]:
    """One flat row of a model's headline numbers (alpha 0.5 for OMES; accuracies in [0, 1])."""
    row = {
        "model_id": metrics["model"]["model_id"],
        "source": metrics["model"]["dataset"],
        "dataset": metrics["dataset"],
        "step": metrics["checkpoint"]["step"],
    }
    if "omes" in metrics:
        report = metrics["omes"]
        row |= {
            "omes_max": report["max"]["0.5"],
            "omes_avg": report["avg"]["0.5"],
            "os_max": _mean_measured(report["os"]["max"]),
            "mes_max": _mean_measured(report["mes"]["max"]),
        }
    flat = {
        "mig": ("mig", "mig"),
        "dci_disentanglement": ("dci", "dci_disentanglement"),
        "dci_completeness": ("dci", "dci_completeness"),
        "dci_informativeness": ("dci", "dci_informativeness_test"),
        "sap": ("sap", "sap"),
        "modularity": ("modularity", "modularity"),
        "explicitness": ("modularity", "explicitness"),
        "gbt_full": ("downstream", "gbt_full"),
        "gbt_pruned": ("downstream", "gbt_pruned"),
        "mlp_full": ("downstream", "mlp_full"),
        "mlp_pruned": ("downstream", "mlp_pruned"),
        "beta_vae": ("beta_vae", "beta_vae_eval"),
        "factor_vae": ("factor_vae", "factor_vae_eval"),
        "elbo": ("elbo", "elbo"),
        "reconstruction": ("elbo", "reconstruction"),
    }
    for column, (metric, key) in flat.items():
        if metric in metrics and key in metrics[metric]:
            row[column] = metrics[metric][key]
    return row


def write_tables(root: epath.PathLike, all_metrics: Sequence[dict[str, Any]]) -> list[dict]:
    """Writes results.json and results.csv (one row per checkpoint) under root (process 0)."""
    rows = [results_row(m) for m in all_metrics]
    if jax.process_index() != 0 or not rows:
        return rows
    root = epath.Path(root)
    write_json(root / "results.json", rows)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(root / "results.csv", text.getvalue())
    return rows


def find_model_dirs(pattern: str) -> list[epath.Path]:
    """Model folders (holding model.json) matched by a glob of folders or of files in them."""
    matches = sorted(glob.glob(pattern))
    folders = []
    for match in matches:
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
    """The `evaluate` job."""
    if not config.workdir:
        raise UsageError("No output folder: pass --config.workdir=OUT.")
    if not config.checkpoints:
        raise UsageError("No models: pass --config.checkpoints='WORKDIR/source/*/*' (a glob).")
    model_dirs = find_model_dirs(config.checkpoints)
    registry.describe(config.data.name, config.data.data_dir or None)
    data = registry.load(
        config.data.name, data_dir=config.data.data_dir or None, background=config.data.background
    )
    root = epath.Path(config.workdir)
    save_config(root, config)
    cards = [ckpt.read_card(d) for d in model_dirs]
    out_dirs = [root / card.dataset / card.model_id for card in cards]
    results = evaluate_models(
        model_dirs, data, out_dirs, config.eval, which=config.checkpoint, description=data.name
    )
    rows = write_tables(root, results)
    print(f"Evaluated {len(rows)} checkpoint(s) on {data.name}; tables in {root}/results.csv")
    return results
