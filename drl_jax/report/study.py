"""The study of a workdir: every evaluated model in one long table, the paper's summary tables
across all its transfers, and the metric-analysis figures (report/study_figures.py).

Reads every metrics.json under WORKDIR except in WORKDIR/study/ and checkpoint folders
(drl_jax.workdir.layout.find_metrics): transfers' before/after evaluations and evaluate jobs'
OUT/<source>/<model_id>/<dataset>/<which>/metrics.json. Writes WORKDIR/study/:
  long_table.csv           one row per metrics.json: the model card as written in it (after
                           fine-tuning: method beta_vae), `source` (the transfer's source, else
                           the card's dataset), dataset, stage (STAGES), pair, then the request
                           record (checkpoint.*, dataset.*, settings.*, versions.*), then every
                           scalar metric and per-FoV value by dotted name (omes.max.0.5,
                           omes.per_fov.max.0.5.<fov>, downstream.gbt_full_per_fov.<fov>, ...)
  summary.md, summary.tex  one row per transfer, SUMMARY_COLUMNS: the mean over models before
                           fine-tuning (change after), percent, each column's "All" value
  summary.csv              per transfer, FoV (and All) and tables.COLUMNS: before, after, change
                           and standard deviations, in [0, 1]
  tables/<pair>.md, .tex   each transfer's per-FoV table (the report's, unmarked)
  figures/                 study_figures.write_figures
  README.md                the tables inline, every figure linked or the reason it is absent
  inputs.json              a digest of each input's content: a rerun with unchanged inputs
                           writes nothing
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from etils import epath

from drl_jax.errors import UsageError
from drl_jax.evaluation import results
from drl_jax.report import latex, study_figures, tables
from drl_jax.workdir import layout, read_json, records, write_atomic, write_json

# "before"/"after": a transfer's folders; "source": a model on its training dataset;
# "evaluate": on any other dataset.
STAGES = ("before", "after", "source", "evaluate")
SUMMARY_COLUMNS = ("gbt_full", "gbt_pruned", "mlp_full", "mlp_pruned", "os", "mes", "dci", "mig")
# metrics.json keys that describe the evaluation rather than score it.
_NOT_METRICS = ("request", "versions", "seconds")


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One metrics.json of the workdir."""

    path: str  # relative to the workdir, '/'-separated
    stage: str  # one of STAGES
    pair: str  # '<source>__to__<target>' for a transfer's stages, else ''
    metrics: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class StudyResult:
    folder: epath.Path  # WORKDIR/study
    summary: str  # the summary table as Markdown ('' when the workdir holds no transfer)
    up_to_date: bool  # True when no input changed and nothing was written


@dataclasses.dataclass(frozen=True)
class _Transfer:
    pair: str
    fovs: list[str]
    summary: dict  # tables.summarize's, per column [F + 1]
    models_before: int
    models_after: int


def evaluation(path: str, metrics: dict[str, Any]) -> Evaluation:
    """The stage and pair of a metrics.json from its path relative to the workdir."""
    stage, pair = layout.stage_of(path)
    if not stage:
        request = metrics["request"]
        own_data = request["dataset"]["name"] == request["model"]["dataset"]
        stage = "source" if own_data else "evaluate"
    return Evaluation(path, stage, pair, metrics)


def long_row(entry: Evaluation) -> dict[str, Any]:
    """One flat row of the long table: the evaluation, then every scalar by dotted name."""
    m = entry.metrics
    request, card = m["request"], m["request"]["model"]
    row = {"path": entry.path}
    row |= {key: card[key] for key in ("model_id", "architecture", "channels", "latent_dim")}
    row |= {"method": card["method"]}
    row |= {f"hparams.{name}": value for name, value in card["hparams"].items()}
    row |= {
        "seed": card["seed"],
        "source": layout.parse_pair(entry.pair)[0] if entry.pair else card["dataset"],
        "dataset": request["dataset"]["name"],
        "stage": entry.stage,
        "pair": entry.pair,
    }
    row |= {f"checkpoint.{k}": v for k, v in request["checkpoint"].items() if k != "folder"}
    row |= {f"dataset.{k}": v for k, v in request["dataset"].items() if k != "name"}
    row |= {
        name: ",".join(map(str, value)) if isinstance(value, list) else value
        for name, value in records.flatten({"settings": request["settings"]}).items()
    }
    if card.get("finetuned_from"):
        row |= {f"finetuned_from.{k}": v for k, v in card["finetuned_from"].items()}
    row |= {f"versions.{k}": v for k, v in m.get("versions", {}).items()}
    fovs = tables.fov_names(m)
    for key, value in m.items():
        if key not in _NOT_METRICS:
            _flatten(value, key, fovs, row)
    return row


def _flatten(value: Any, name: str, fovs: Sequence[str], row: dict[str, Any]) -> None:
    """Adds the scalars of `value` to row under dotted names; a `*_per_fov` list gets one
    entry per FoV. Other lists (per-code scores, matrices, dimension lists) are left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{name}.{key}", fovs, row)
    elif isinstance(value, list):
        if name.endswith("_per_fov") and all(not isinstance(v, list | dict) for v in value):
            names = fovs if len(fovs) == len(value) else [f"fov{j}" for j in range(len(value))]
            row |= {f"{name}.{fov}": item for fov, item in zip(names, value, strict=True)}
    else:
        row[name] = value


def _transfers(entries: Sequence[Evaluation]) -> list[_Transfer]:
    """Each transfer's summary: means over its models before, and after, fine-tuning."""
    found = []
    for pair in sorted({e.pair for e in entries if e.stage == "before"}):
        after = [e.metrics for e in entries if e.pair == pair and e.stage == "after"]
        before = [e.metrics for e in entries if e.pair == pair and e.stage == "before"]
        before = tables.paired(before, after)
        fovs = tables.fov_names(before[0])
        summary = tables.summarize(tables.collect(before, fovs), tables.collect(after, fovs))
        found.append(_Transfer(pair, fovs, summary, len(before), len(after)))
    return found


def _arrow(pair: str) -> str:
    return " -> ".join(layout.parse_pair(pair))


def _summary_table(transfers: Sequence[_Transfer]) -> list[list[str]]:
    """Header + one row per transfer: SUMMARY_COLUMNS' "All" cells, `51.3 (+16.7)`."""
    header = ["Transfer", *(tables.COLUMNS[c][0] for c in SUMMARY_COLUMNS)]
    body = [
        [
            _arrow(t.pair),
            *(
                tables.cell(t.summary[c]["before"][-1], t.summary[c]["change"][-1])
                for c in SUMMARY_COLUMNS
            ),
        ]
        for t in transfers
    ]
    return [header, *body]


def _write_tables(folder: epath.Path, transfers: Sequence[_Transfer]) -> dict[str, str]:
    """Writes summary.* and tables/<pair>.*; returns the Markdown tables by title."""
    table = _summary_table(transfers)
    markdown = {"summary": tables.markdown(table)}
    write_atomic(folder / "summary.md", markdown["summary"])
    write_atomic(folder / "summary.tex", latex.tabular(table))
    header = ["pair", "source", "target", "models_before", "models_after", *tables.CSV_HEADER]
    rows = [
        [t.pair, *layout.parse_pair(t.pair), t.models_before, t.models_after, *row]
        for t in transfers
        for row in tables.csv_rows(t.summary, t.fovs)
    ]
    write_atomic(
        folder / "summary.csv",
        results.rows_to_csv([dict(zip(header, r, strict=True)) for r in rows]),
    )
    for t in transfers:
        per_fov = tables.rows(t.summary, t.fovs, (), "mean")
        markdown[t.pair] = tables.markdown(per_fov)
        write_atomic(folder / "tables" / f"{t.pair}.md", markdown[t.pair])
        write_atomic(folder / "tables" / f"{t.pair}.tex", latex.tabular(per_fov))
    return markdown


def write_study(workdir: epath.PathLike, force: bool = False) -> StudyResult:
    """Writes WORKDIR/study/ (module docstring) from every metrics.json under workdir.

    Unless `force`, does nothing when no metrics.json changed since the last study.
    """
    root = epath.Path(workdir)
    paths = layout.find_metrics(root)
    if not paths:
        raise UsageError(
            f"No metrics.json under {root}: expected evaluated models, e.g. "
            f"transfer/<source>__to__<target>/<model_id>/before/metrics.json (a transfer run) "
            "or <source>/<model_id>/<dataset>/<which>/metrics.json (an evaluate run)."
        )
    folder = layout.study_dir(root)
    digests = records.file_digests(root, paths)
    if not force and _is_current(folder, digests):
        summary = folder / "summary.md"
        return StudyResult(folder, summary.read_text() if summary.exists() else "", True)
    contents = [read_json(p) for p in paths]
    stale = [rel for rel, m in zip(digests, contents, strict=True) if "request" not in m]
    if stale:
        raise UsageError(
            f"{len(stale)} metrics.json under {root} have no request record (an older drl_jax "
            f"wrote them, e.g. {stale[0]}): rerun the job that wrote them (it recomputes them) "
            "or move them out of the workdir."
        )
    entries = [evaluation(rel, m) for rel, m in zip(digests, contents, strict=True)]
    write_atomic(folder / "long_table.csv", results.rows_to_csv([long_row(e) for e in entries]))
    transfers = _transfers(entries)
    markdown = _write_tables(folder, transfers) if transfers else {}
    written = study_figures.write_figures(
        [e.metrics for e in entries], [e.stage for e in entries], STAGES, folder
    )
    write_atomic(folder / "README.md", _readme(root, entries, transfers, markdown, written))
    write_json(folder / "inputs.json", digests)  # last: an interrupted study reruns in full
    return StudyResult(folder, markdown.get("summary", ""), False)


def _is_current(folder: epath.Path, digests: dict[str, str]) -> bool:
    inputs, readme = folder / "inputs.json", folder / "README.md"
    return inputs.exists() and readme.exists() and read_json(inputs) == digests


def _readme(root, entries, transfers, markdown, written) -> str:
    counts = ", ".join(
        f"{sum(e.stage == s for e in entries)} {s}"
        for s in STAGES
        if any(e.stage == s for e in entries)
    )
    lines = [
        f"# Study of {root}",
        "",
        f"{len(entries)} evaluated model(s) (metrics.json files; by stage: {counts}), one row "
        "each in [long_table.csv](long_table.csv): the model card, the evaluated dataset, the "
        "stage (before/after: a transfer's; source: the model's own training data; evaluate: "
        "another dataset), every scalar metric and per-FoV value by dotted name.",
        "",
        "## Transfers",
        "",
    ]
    if not transfers:
        lines += [
            "No transfer in this workdir (no transfer/<pair>/<model_id>/before/metrics.json): "
            "no summary tables.",
            "",
        ]
    else:
        lines += [
            "Each cell is the mean over models before fine-tuning, in percent, with the change "
            "after fine-tuning in parentheses, over every FoV of the target (the per-pair "
            "tables' \"All\"): GBT and MLP test accuracy on the full code and on each FoV's "
            "OMES-best dimension (pruned); OS and MES with max pooling; DCI disentanglement; "
            "MIG.",
            "",
            markdown["summary"],
            "Models (before / after): "
            + "; ".join(
                f"{_arrow(t.pair)}: {t.models_before} / {t.models_after}" for t in transfers
            )
            + ".",
            "",
            "Files: [summary.csv](summary.csv) (every FoV and metric, in [0, 1]), "
            "[summary.tex](summary.tex) (booktabs tabular, `\\input` it inside a table).",
            "",
            "### Per FoV",
            "",
        ]
        for t in transfers:
            lines += [
                f"#### {_arrow(t.pair)}",
                "",
                markdown[t.pair],
                f"LaTeX: [tables/{t.pair}.tex](tables/{t.pair}.tex).",
                "",
            ]
    lines += [
        "## Figures",
        "",
        "Every figure pools every row of long_table.csv (each model on each dataset at each "
        "stage is one point); (d) draws one panel per (dataset, stage). A metric absent from "
        "some models is left out of a figure's columns (noted below).",
        "",
    ]
    for figure in written:
        if figure.written:
            lines.append(f"- {figure.caption}: ![{figure.caption}]({figure.file})")
        else:
            lines.append(f"- {figure.caption}: not drawn.")
        lines += [f"  - {note}" for note in figure.notes]
    lines += [
        "",
        "Correlations as numbers: figures/metric_correlation.csv and "
        "figures/performance_correlation.csv (where drawn).",
    ]
    return "\n".join(lines) + "\n"
