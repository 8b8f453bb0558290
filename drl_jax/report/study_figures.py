"""The paper's metric-analysis figures from every model of a workdir (report/study.py).

Each evaluated representation (a model on a dataset at a stage: one row of the study's long
table) is one point. `write_figures` writes under FOLDER/figures/:
  metric_correlation.png, .csv       (a) Spearman rank correlation between METRICS
  metric_distributions.png           (b) each of METRICS over the models (boxes and points)
  performance_correlation.png, .csv  (c) Spearman correlation of PERFORMANCE with METRICS
  omes_vs_beta.png                   (d) OMES per FoV against beta, a panel per (dataset, stage)
  omes_over_alpha.png                (e) OMES (max pooling) at alpha 0.0, 0.1, ..., 1.0
A figure the models cannot support is left out (its stale files removed) with the reason.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from etils import epath
from scipy import stats

from drl_jax import figures
from drl_jax.evaluation.results import results_row
from drl_jax.workdir import write_atomic

# results_row column -> label: the disentanglement metrics (OMES at alpha 0.5, max pooling;
# OS and MES: max pooling, mean over FoVs; DCI disentanglement; BetaVAE, FactorVAE eval).
METRICS = {
    "omes_max": "OMES",
    "os_max": "OS",
    "mes_max": "MES",
    "dci_disentanglement": "DCI",
    "mig": "MIG",
    "sap": "SAP",
    "modularity": "Modularity",
    "beta_vae": "BetaVAE",
    "factor_vae": "FactorVAE",
    "irs": "IRS",
    "dcimig": "DCIMIG",
    "jemmig": "JEMMIG",
    "mig_sup": "MIG-sup",
    "infom": "InfoM",
    "infoc": "InfoC",
    "udr": "UDR",
}
# results_row column -> label: what a model achieves (nats; test accuracies on the full code).
PERFORMANCE = {
    "elbo": "ELBO",
    "reconstruction": "Reconstruction",
    "gbt_full": "GBT full",
    "mlp_full": "MLP full",
}
MIN_MODELS_CORRELATION = 3
MIN_MODELS_DISTRIBUTION = 2


@dataclasses.dataclass(frozen=True)
class Figure:
    """One figure of the study: written (figures/<name>.png) or left out, and why."""

    name: str
    caption: str
    written: bool
    notes: tuple[str, ...] = ()  # why it is left out, or which columns it drops

    @property
    def file(self) -> str:
        return f"figures/{self.name}.png"


def write_figures(
    metrics: Sequence[dict[str, Any]],
    stages: Sequence[str],
    stage_order: Sequence[str],
    folder: epath.PathLike,
) -> list[Figure]:
    """Figures (a)-(e) of `metrics` (metrics.json contents, one per model x dataset x stage,
    `stages` beside them; (d)'s panels by dataset, then in `stage_order`) in folder/figures/."""
    headlines = [results_row(m) for m in metrics]
    out = epath.Path(folder) / "figures"
    return [
        _metric_correlation(headlines, out),
        _metric_distributions(headlines, out),
        _performance_correlation(headlines, out),
        _omes_vs_beta(metrics, stages, stage_order, out),
        _omes_over_alpha(metrics, out),
    ]


def spearman(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Spearman rank correlations [k, k] between k >= 2 columns of N values each."""
    statistic = np.asarray(stats.spearmanr(np.stack(columns, axis=1)).statistic)
    return np.array([[1.0, statistic], [statistic, 1.0]]) if len(columns) == 2 else statistic


def _column(headlines: Sequence[dict], key: str) -> np.ndarray:
    """float [N]: the value of `key` per model; NaN where absent."""
    return np.array([np.nan if h.get(key) is None else float(h[key]) for h in headlines])


def _present_columns(
    headlines: Sequence[dict], labels: Mapping[str, str], ranked: bool
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The columns finite in every model (and, when `ranked`, not constant), with a note for
    each column left out."""
    kept, notes = {}, []
    for key, label in labels.items():
        values = _column(headlines, key)
        missing = int(np.sum(~np.isfinite(values)))
        if missing == len(values):
            notes.append(f"{label}: absent from every model")
        elif missing:
            notes.append(f"{label} left out: absent from {missing} of {len(values)} models")
        elif ranked and np.ptp(values) == 0:
            notes.append(f"{label} left out: the same value in every model (no ranking)")
        else:
            kept[key] = values
    return kept, notes


def _leave_out(name: str, caption: str, folder: epath.Path, *notes: str) -> Figure:
    for suffix in (".png", ".csv"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)
    return Figure(name, caption, written=False, notes=notes)


def _write_correlation_csv(
    matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], path: epath.Path
) -> None:
    """matrix [R, C] as CSV: a header of column keys, then each row key and its values."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["metric", *columns])
    for key, values in zip(rows, matrix, strict=True):
        writer.writerow([key, *(repr(float(v)) for v in values)])
    write_atomic(path, text.getvalue())


def _too_few(count: int, minimum: int) -> str:
    return f"left out: {count} evaluated model(s), it needs at least {minimum}"


def _metric_correlation(headlines: Sequence[dict], folder: epath.Path) -> Figure:
    name, caption = "metric_correlation", "(a) Spearman rank correlation between the metrics"
    if len(headlines) < MIN_MODELS_CORRELATION:
        return _leave_out(name, caption, folder, _too_few(len(headlines), MIN_MODELS_CORRELATION))
    kept, notes = _present_columns(headlines, METRICS, ranked=True)
    if len(kept) < 2:
        return _leave_out(name, caption, folder, "left out: fewer than 2 metrics to rank", *notes)
    matrix = spearman(list(kept.values()))
    labels = [METRICS[key] for key in kept]
    title = f"Spearman rank correlation over {len(headlines)} models"
    figures.matrix_heatmap(matrix, labels, labels, folder / f"{name}.png", title)
    _write_correlation_csv(matrix, list(kept), list(kept), folder / f"{name}.csv")
    return Figure(name, caption, written=True, notes=tuple(notes))


def _performance_correlation(headlines: Sequence[dict], folder: epath.Path) -> Figure:
    name = "performance_correlation"
    caption = "(c) Spearman rank correlation of ELBO, reconstruction and accuracy with each metric"
    if len(headlines) < MIN_MODELS_CORRELATION:
        return _leave_out(name, caption, folder, _too_few(len(headlines), MIN_MODELS_CORRELATION))
    performance, notes = _present_columns(headlines, PERFORMANCE, ranked=True)
    metrics, metric_notes = _present_columns(headlines, METRICS, ranked=True)
    notes += metric_notes
    if not performance or not metrics:
        return _leave_out(name, caption, folder, "left out: nothing to rank on one side", *notes)
    split = len(performance)
    matrix = spearman([*performance.values(), *metrics.values()])[:split, split:]
    figures.matrix_heatmap(
        matrix,
        [PERFORMANCE[key] for key in performance],
        [METRICS[key] for key in metrics],
        folder / f"{name}.png",
        f"Spearman rank correlation over {len(headlines)} models",
    )
    _write_correlation_csv(matrix, list(performance), list(metrics), folder / f"{name}.csv")
    return Figure(name, caption, written=True, notes=tuple(notes))


def _metric_distributions(headlines: Sequence[dict], folder: epath.Path) -> Figure:
    name, caption = "metric_distributions", "(b) Distribution of each metric over the models"
    if len(headlines) < MIN_MODELS_DISTRIBUTION:
        return _leave_out(name, caption, folder, _too_few(len(headlines), MIN_MODELS_DISTRIBUTION))
    kept, notes = _present_columns(headlines, METRICS, ranked=False)
    if not kept:
        return _leave_out(name, caption, folder, "left out: no metric in every model", *notes)
    figures.boxplots(
        {METRICS[key]: values for key, values in kept.items()},
        folder / f"{name}.png",
        f"Metrics over {len(headlines)} models",
        ylabel="score",
    )
    return Figure(name, caption, written=True, notes=tuple(notes))


def _omes_vs_beta(
    metrics: Sequence[dict], stages: Sequence[str], stage_order: Sequence[str], folder: epath.Path
) -> Figure:
    name = "omes_vs_beta"
    caption = "(d) OMES per FoV (alpha 0.5, max pooling) against beta, per (dataset, stage)"
    panels: dict[tuple[str, int], dict[str, tuple[list[float], list[float]]]] = {}
    for m, stage in zip(metrics, stages, strict=True):
        beta = m["request"]["model"]["hparams"].get("beta")
        if "omes" not in m or beta is None:
            continue
        panel = panels.setdefault((m["request"]["dataset"]["name"], stage_order.index(stage)), {})
        for fov, value in m["omes"]["per_fov"]["max"]["0.5"].items():
            if value is not None and np.isfinite(value):
                betas, values = panel.setdefault(fov, ([], []))
                betas.append(float(beta))
                values.append(float(value))
    if not panels:
        return _leave_out(name, caption, folder, "left out: no model has OMES and a beta")
    titles = {key: f"{key[0]} ({stage_order[key[1]]})" for key in sorted(panels)}
    spread = {
        titles[key]: panels[key]
        for key in titles
        if len({b for betas, _ in panels[key].values() for b in betas}) >= 2
    }
    single = [title for title in titles.values() if title not in spread]
    notes = [f"{', '.join(single)}: one beta value, left out"] if single else []
    if not spread:
        return _leave_out(name, caption, folder, "left out: every panel has one beta value")
    figures.series_panels(
        spread,
        folder / f"{name}.png",
        "OMES per FoV (alpha 0.5, max pooling): points = models, lines = means",
        xlabel="beta",
        ylabel="OMES of the FoV",
    )
    return Figure(name, caption, written=True, notes=tuple(notes))


def _omes_over_alpha(metrics: Sequence[dict], folder: epath.Path) -> Figure:
    name, caption = "omes_over_alpha", "(e) OMES (max pooling) over alpha"
    scored = [m for m in metrics if "omes" in m]
    if len(scored) < MIN_MODELS_DISTRIBUTION:
        return _leave_out(name, caption, folder, _too_few(len(scored), MIN_MODELS_DISTRIBUTION))
    unscored = len(metrics) - len(scored)
    notes = (f"{unscored} model(s) without OMES left out",) if unscored else ()
    groups = {
        alpha: [m["omes"]["max"][alpha] for m in scored] for alpha in scored[0]["omes"]["max"]
    }
    figures.boxplots(
        groups,
        folder / f"{name}.png",
        f"OMES over alpha, {len(scored)} models (alpha 1: OS only, 0: MES only)",
        ylabel="OMES",
        xlabel="alpha",
    )
    return Figure(name, caption, written=True, notes=notes)
