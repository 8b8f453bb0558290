"""Figures a person reads (PNG): association matrices, per-FoV scores, correlation heatmaps,
distributions and per-group series."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from etils import epath  # noqa: E402

from drl_jax.workdir import write_atomic  # noqa: E402


def _save(figure, path: str | epath.PathLike) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    write_atomic(path, buffer.getvalue())


def association_heatmap(
    s: np.ndarray,
    active: np.ndarray,
    fov_names: Sequence[str],
    path: str | epath.PathLike,
    title: str = "Association matrix S",
) -> None:
    """Annotated heatmap of S [d, F] (1 = the dimension encodes the FoV); inactive rows hatched."""
    s, active = np.asarray(s), np.asarray(active, bool)
    d, f = s.shape
    figure, axis = plt.subplots(figsize=(1.0 + 0.9 * f, 0.8 + 0.45 * d))
    shown = np.where(active[:, None], s, np.nan)
    image = axis.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for h in range(d):
        if not active[h]:
            axis.add_patch(
                plt.Rectangle((-0.5, h - 0.5), f, 1, fill=False, hatch="//", color="0.7")
            )
        for j in range(f):
            color = "white" if active[h] and s[h, j] > 0.6 else "black"
            text = f"{s[h, j]:.2f}" if active[h] else "-"
            axis.text(j, h, text, ha="center", va="center", fontsize=8, color=color)
    axis.set_xticks(range(f), list(fov_names), rotation=45, ha="right")
    axis.set_yticks(range(d), [f"z{h}" + ("" if active[h] else " (inactive)") for h in range(d)])
    axis.set_xlabel("FoV")
    axis.set_ylabel("latent dimension")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.04)
    _save(figure, path)


def fov_bars(
    scores: Mapping[str, Mapping[str, float | None]],
    path: str | epath.PathLike,
    title: str,
    ylabel: str = "score",
) -> None:
    """Grouped bars: scores[series][fov] (e.g. series = before / after); None is drawn as 0."""
    series = list(scores)
    fovs = list(next(iter(scores.values())))
    width = 0.8 / max(len(series), 1)
    figure, axis = plt.subplots(figsize=(1.5 + 0.8 * len(fovs), 3.2))
    for i, name in enumerate(series):
        values = [scores[name][fov] or 0.0 for fov in fovs]
        axis.bar(
            np.arange(len(fovs)) + (i - (len(series) - 1) / 2) * width, values, width, label=name
        )
    axis.set_xticks(range(len(fovs)), fovs, rotation=45, ha="right")
    axis.set_ylim(0, 1)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    if len(series) > 1:
        axis.legend(fontsize=8)
    _save(figure, path)


def matrix_heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    path: str | epath.PathLike,
    title: str,
    vmin: float = -1.0,
    vmax: float = 1.0,
) -> None:
    """Annotated heatmap of values [R, C] (e.g. rank correlations in [-1, 1]); NaN is '-'."""
    values = np.asarray(values, np.float64)
    r, c = values.shape
    figure, axis = plt.subplots(figsize=(1.6 + 0.75 * c, 1.0 + 0.5 * r))
    image = axis.imshow(values, cmap="RdBu_r", vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(r):
        for j in range(c):
            value = values[i, j]
            strong = np.isfinite(value) and abs(value) > 0.6 * max(abs(vmin), abs(vmax))
            text = "-" if np.isnan(value) else f"{value:.2f}"
            color = "white" if strong else "black"
            axis.text(j, i, text, ha="center", va="center", fontsize=8, color=color)
    axis.set_xticks(range(c), list(column_labels), rotation=45, ha="right")
    axis.set_yticks(range(r), list(row_labels))
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.04)
    _save(figure, path)


def boxplots(
    groups: Mapping[str, Sequence[float]],
    path: str | epath.PathLike,
    title: str,
    ylabel: str,
    xlabel: str = "",
) -> None:
    """One box per group (label -> values), every value drawn over its box as a point."""
    labels = list(groups)
    figure, axis = plt.subplots(figsize=(1.5 + 0.7 * len(labels), 3.4))
    axis.boxplot([list(groups[label]) for label in labels], showfliers=False)
    for i, label in enumerate(labels, start=1):
        values = np.asarray(groups[label], np.float64)
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        axis.scatter(i + offsets, values, s=6, color="0.3", alpha=0.6, zorder=3)
    axis.set_xticks(range(1, len(labels) + 1), labels, rotation=45, ha="right")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    _save(figure, path)


def series_panels(
    panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]],
    path: str | epath.PathLike,
    title: str,
    xlabel: str,
    ylabel: str,
) -> None:
    """One panel per key of panels[panel][series] = (x [n], y [n]): the points, and a line
    through the mean y at each x (e.g. series = FoVs, x = beta)."""
    columns = min(3, len(panels))
    rows_count = -(-len(panels) // columns)
    figure, axes = plt.subplots(
        rows_count,
        columns,
        figsize=(4.8 * columns, 3.0 * rows_count),
        squeeze=False,
        layout="constrained",
    )
    for axis, (name, series) in zip(axes.flat, panels.items(), strict=False):
        for index, (label, (x, y)) in enumerate(series.items()):
            x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
            color = f"C{index % 10}"
            levels = np.unique(x)
            axis.scatter(x, y, s=8, color=color, alpha=0.4)
            axis.plot(
                levels, [y[x == v].mean() for v in levels], marker="o", color=color, label=label
            )
        every_x = np.unique(np.concatenate([np.asarray(x, np.float64) for x, _ in series.values()]))
        if len(every_x) <= 10:
            axis.set_xticks(every_x, [f"{v:g}" for v in every_x])
        axis.set_title(name, fontsize=9)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(title)
    _save(figure, path)
