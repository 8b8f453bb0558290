"""The report of a (source, target) pair: tables, figures and a README that links them.

Reads WORKDIR/transfer/<source>__to__<target>/<model_id>/{before,after}/ (a
drl_jax.workdir.layout.Pair) and writes .../results/:
  transfer_table.md, transfer_table.csv   mean before (change after), percent
  transfer_std.md                         standard deviation over models, before / after
  figures/association_before.png, figures/association_after.png
                                          mean association matrix S over models
  figures/omes_per_fov.png                OMES per FoV before and after
  figures/{reconstructions,traversals}_{before,after}.png (written by the transfer job)
  README.md                               the tables inline and links to every figure
  inputs.json                             what the report was made from: each input
                                          metrics.json's content digest and shared_fovs
"""

from __future__ import annotations

import numpy as np
from etils import epath

from drl_jax import figures
from drl_jax.errors import UsageError
from drl_jax.evaluation import association
from drl_jax.report import tables
from drl_jax.workdir import layout, read_json, records, write_atomic, write_json

INPUTS = "inputs.json"


def _metrics_paths(pair: layout.Pair, stage: str) -> list[epath.Path]:
    return [pair.stage(model_id, stage) / layout.METRICS for model_id in pair.model_ids(stage)]


def _mean_association(pair: layout.Pair, stage: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean S over models [d, F] and the share of models where each dim is active [d]."""
    matrices, active = [], []
    for model_id in pair.model_ids(stage):
        path = pair.stage(model_id, stage) / association.CSV
        if path.exists():
            s, is_active, _ = association.read(path)
            matrices.append(s)
            active.append(is_active)
    if not matrices:
        return None
    return np.mean(matrices, axis=0), np.mean(active, axis=0)


def report_inputs(pair: layout.Pair, shared_fovs=()) -> dict:
    """What a pair's report is made from: the content digest of every before/after
    metrics.json (each holds its request record) and the shared FoVs."""
    paths = _metrics_paths(pair, layout.BEFORE) + _metrics_paths(pair, layout.AFTER)
    return {"shared_fovs": list(shared_fovs), "metrics": records.file_digests(pair.folder, paths)}


def is_current(pair: layout.Pair, shared_fovs=()) -> bool:
    """Whether results/ was made from the pair's current inputs (content, not file times)."""
    inputs, readme = pair.results / INPUTS, pair.results / "README.md"
    return (
        inputs.exists()
        and readme.exists()
        and read_json(inputs) == report_inputs(pair, shared_fovs)
    )


def write_report(pair: layout.Pair, shared_fovs=()) -> str:
    """Writes the pair's results/ folder; returns the mean table as Markdown."""
    pair_dir = pair.folder
    inputs = report_inputs(pair, shared_fovs)
    before = [read_json(p) for p in _metrics_paths(pair, layout.BEFORE)]
    after = [read_json(p) for p in _metrics_paths(pair, layout.AFTER)]
    if not before:
        raise UsageError(f"No evaluated models under {pair_dir} (no */before/metrics.json).")
    before = tables.paired(before, after)
    fovs = tables.fov_names(before[0])
    summary = tables.summarize(tables.collect(before, fovs), tables.collect(after, fovs))
    mean_table = tables.markdown(tables.rows(summary, fovs, shared_fovs, "mean"))
    std_table = tables.markdown(tables.rows(summary, fovs, shared_fovs, "std"))
    results = pair.results
    write_atomic(results / "transfer_table.md", mean_table)
    write_atomic(results / "transfer_std.md", std_table)
    write_atomic(results / "transfer_table.csv", tables.summary_csv(summary, fovs))
    for stage in ("before", "after"):
        mean = _mean_association(pair, stage)
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
        results / "README.md", _readme(pair, results, before, after, mean_table, std_table)
    )
    write_json(results / INPUTS, inputs)  # last: an interrupted report is redone in full
    return mean_table


def _readme(pair, results, before, after, mean_table, std_table) -> str:
    source, target = layout.parse_pair(pair.name)
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
        "Per-model results: `../<model_id>/{before,after}/metrics.json` (each with the request "
        "record it answers; docs/workdir.md), with representations.npz and classes.csv beside "
        "each.",
    ]
    return "\n".join(lines) + "\n"
