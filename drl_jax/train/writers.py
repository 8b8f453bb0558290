"""What a training run leaves for people to read: JSONL rows, TensorBoard scalars, PNG grids.

One `MetricWriter` per model folder, made by the process that owns the model.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import numpy as np
from etils import epath
from PIL import Image

from drl_jax.workdir import write_atomic


class MetricWriter:
    """Appends one JSON row per log step to train_log.jsonl and mirrors scalars to TensorBoard.

    A run that resumes from a checkpoint at step `resumed_at` first drops what was logged
    after it (rows of train_log.jsonl, TensorBoard events through `purge_step`), so the
    history holds each step once.
    """

    def __init__(self, model_dir: epath.PathLike, resumed_at: int = 0):
        self.dir = epath.Path(model_dir)
        self._tensorboard = None
        self._purge_step = None
        log = self.dir / "train_log.jsonl"
        if log.exists():
            rows = [line for line in log.read_text().splitlines() if line.strip()]
            kept = [row for row in rows if _step(row) <= resumed_at]
            if len(kept) < len(rows):
                write_atomic(log, "".join(f"{row}\n" for row in kept))
        if (self.dir / "tensorboard").exists():
            self._purge_step = resumed_at + 1

    def write(self, step: int, scalars: Mapping[str, float], vectors: Mapping[str, list]) -> None:
        """scalars: name -> float; vectors: name -> list (e.g. KL per latent dimension)."""
        row = {"step": step, **scalars, **vectors}
        with (self.dir / "train_log.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self._tensorboard is None:
            from tensorboardX import SummaryWriter

            self._tensorboard = SummaryWriter(
                str(self.dir / "tensorboard"), purge_step=self._purge_step
            )
        for name, value in scalars.items():
            self._tensorboard.add_scalar(name, value, step)
        for name, values in vectors.items():
            for i, value in enumerate(values):
                self._tensorboard.add_scalar(f"{name}/{i}", value, step)
        self._tensorboard.flush()

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()


def _step(row: str) -> int:
    """The step of a train_log.jsonl row; a row cut short by a kill counts as past any step."""
    try:
        return int(json.loads(row)["step"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return 2**62


def save_grid(images: np.ndarray, path: epath.PathLike, gap: int = 2) -> None:
    """Writes images float [R, K, H, W, C] in [0, 1] as one R x K PNG with white gaps."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    rows, cols, height, width, channels = images.shape
    canvas = np.ones(
        (rows * (height + gap) - gap, cols * (width + gap) - gap, channels), np.float32
    )
    for r in range(rows):
        for c in range(cols):
            y, x = r * (height + gap), c * (width + gap)
            canvas[y : y + height, x : x + width] = images[r, c]
    pixels = (canvas * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())
