"""Figures a person reads (PNG): association matrices, per-FoV scores."""

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
