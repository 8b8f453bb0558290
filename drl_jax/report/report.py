"""The report of a (source, target) pair: tables, figures and a README that links them.

Reads WORKDIR/transfer/<source>__to__<target>/<model_id>/{before,after}/ and
writes .../results/:
  transfer_table.md, transfer_table.csv   mean before (change after), percent
  transfer_std.md                         standard deviation over models, before / after
  figures/association_before.png, figures/association_after.png
                                          mean association matrix S over models
  figures/omes_per_fov.png                OMES per FoV before and after
  figures/{reconstructions,traversals}_{before,after}.png (written by the transfer job)
  README.md                               the tables inline and links to every figure
"""

from __future__ import annotations

import numpy as np
from etils import epath

from drl_jax import figures
from drl_jax.errors import UsageError
from drl_jax.evaluation import association
from drl_jax.report import tables
from drl_jax.workdir import read_json, write_atomic


def _stage_metrics(pair_dir: epath.Path, stage: str) -> list[dict]:
    folders = sorted(d for d in pair_dir.iterdir() if (d / stage / "metrics.json").exists())
    return [read_json(d / stage / "metrics.json") for d in folders]


def _mean_association(pair_dir: epath.Path, stage: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean S over models [d, F] and the share of models where each dim is active [d]."""
    matrices, active = [], []
    for folder in sorted(pair_dir.iterdir()):
        path = folder / stage / association.CSV
        if path.exists():
            s, is_active, _ = association.read(path)
            matrices.append(s)
            active.append(is_active)
    if not matrices:
        return None
    return np.mean(matrices, axis=0), np.mean(active, axis=0)


def write_report(pair_dir: epath.PathLike, shared_fovs=()) -> str:
    """Writes the pair's results/ folder; returns the mean table as Markdown."""
    pair_dir = epath.Path(pair_dir)
    before, after = _stage_metrics(pair_dir, "before"), _stage_metrics(pair_dir, "after")
    if not before:
        raise UsageError(f"No evaluated models under {pair_dir} (no */before/metrics.json).")
    before = tables.paired(before, after)
    fovs = tables.fov_names(before[0])
    summary = tables.summarize(tables.collect(before, fovs), tables.collect(after, fovs))
    mean_table = tables.markdown(tables.rows(summary, fovs, shared_fovs, "mean"))
    std_table = tables.markdown(tables.rows(summary, fovs, shared_fovs, "std"))
    results = pair_dir / "results"
    write_atomic(results / "transfer_table.md", mean_table)
    write_atomic(results / "transfer_std.md", std_table)
    write_atomic(results / "transfer_table.csv", tables.csv_text(summary, fovs))
    for stage in ("before", "after"):
        mean = _mean_association(pair_dir, stage)
        if mean is not None:
            figures.association_heatmap(
                mean[0],
                mean[1] >= 0.5,
                fovs,
                results / "figures" / f"association_{stage}.png",
                title=f"Mean S over models, {stage} fine-tuning",
            )
    omes = summary["omes"]
    if not np.all(np.isnan(omes["before"])):
        figures.fov_bars(
            {
                stage: {f: float(np.nan_to_num(omes[stage][j])) for j, f in enumerate(fovs)}
                for stage in ("before", "after")
            },
            results / "figures" / "omes_per_fov.png",
            title="OMES (alpha 0.5, max pooling) per FoV, mean over models",
            ylabel="OMES",
        )
    write_atomic(
        results / "README.md", _readme(pair_dir, results, before, after, mean_table, std_table)
    )
    return mean_table


def _readme(pair_dir, results, before, after, mean_table, std_table) -> str:
    source, target = pair_dir.name.split("__to__")
    lines = [
        f"# {source} -> {target}",
        "",
        f"{len(before)} model(s) evaluated before fine-tuning, {len(after)} after. Each cell is "
        "the mean over models before fine-tuning, in percent, with the change after "
        "fine-tuning in parentheses. FoVs marked * are shared with the source. OMES at "
        "alpha 0.5 with max pooling; OS and MES with max pooling; DCI is the "
        "disentanglement score; GBT and MLP are test accuracies of FoV classifiers on the "
        "full representation and on the FoV's OMES-best dimension (pruned).",
        "",
        "## Mean (change)",
        "",
        mean_table,
        "Machine-readable: [transfer_table.csv](transfer_table.csv).",
        "",
        "## Standard deviation over models (before / after)",
        "",
        std_table,
        "## Figures",
        "",
    ]
    for name, caption in (
        ("association_before.png", "Mean association matrix S before fine-tuning"),
        ("association_after.png", "Mean association matrix S after fine-tuning"),
        ("omes_per_fov.png", "OMES per FoV before and after"),
        ("reconstructions_before.png", "Target reconstructions by the source model (first model)"),
        ("reconstructions_after.png", "Target reconstructions after fine-tuning (first model)"),
        ("traversals_before.png", "Latent traversals on a target image, before (first model)"),
        ("traversals_after.png", "Latent traversals on a target image, after (first model)"),
    ):
        if (results / "figures" / name).exists():
            lines += [f"- {caption}: ![{caption}](figures/{name})"]
    lines += [
        "",
        "Per-model results: `../<model_id>/{before,after}/metrics.json` (layout in the "
        "project README), with representations.npz and classes.csv beside each.",
    ]
    return "\n".join(lines) + "\n"
