"""The reference code's representation files, read and written exactly.

`representations.npz`: keys `mean` and `sampled`, each float32 [N, d] (the
encoder mean and a posterior sample). `classes.csv`: a header of FoV names and
one row of integer FoV classes per sample. Integral floats such as `9.0`
(written by pandas from float arrays) are accepted on reading.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.workdir import write_atomic

MODES = ("mean", "sampled")


def read(
    directory: str | epath.PathLike, mode: str = "mean"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Reads DIR/representations.npz[mode] and DIR/classes.csv.

    Returns:
      (codes float32 [N, d], labels int64 [N, F], FoV names [F]).
    """
    if mode not in MODES:
        raise UsageError(f"mode must be one of {MODES}, got {mode!r}: set --config.mode=mean.")
    directory = epath.Path(directory)
    npz_path, csv_path = directory / "representations.npz", directory / "classes.csv"
    for path in (npz_path, csv_path):
        if not path.exists():
            raise UsageError(
                f"{path} not found: the input folder must hold representations.npz (keys "
                "'mean', 'sampled') and classes.csv (FoV names, one row per sample)."
            )
    with npz_path.open("rb") as f, np.load(f) as npz:
        if mode not in npz:
            raise UsageError(
                f"{npz_path} has no key {mode!r} (keys: {sorted(npz.keys())}); "
                f"pick one with --config.mode."
            )
        codes = np.asarray(npz[mode])
    names, labels = _read_classes(csv_path)
    if codes.ndim != 2:
        raise UsageError(f"{npz_path}[{mode!r}] must be [N, d], got shape {codes.shape}.")
    if len(labels) != len(codes):
        raise UsageError(
            f"{csv_path} has {len(labels)} rows but {npz_path}[{mode!r}] has {len(codes)}: "
            "both must describe the same samples in the same order."
        )
    if not np.all(np.isfinite(codes)):
        row, col = np.argwhere(~np.isfinite(codes))[0]
        raise UsageError(f"{npz_path}[{mode!r}] holds NaN or inf (first at row {row}, dim {col}).")
    return codes.astype(np.float32), labels, names


def _read_classes(path: epath.Path) -> tuple[list[str], np.ndarray]:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    if not rows or not rows[0]:
        raise UsageError(f"{path} is empty: it needs a header of FoV names and one row per sample.")
    names, body = [n.strip() for n in rows[0]], [r for r in rows[1:] if r]
    labels = np.zeros((len(body), len(names)), np.int64)
    for i, row in enumerate(body):
        if len(row) != len(names):
            raise UsageError(
                f"{path} line {i + 2} has {len(row)} values for {len(names)} FoVs {names}."
            )
        for j, text in enumerate(row):
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not np.isfinite(value) or value != round(value):
                raise UsageError(
                    f"{path} line {i + 2}, FoV {names[j]!r}: {text!r} is not an integer class."
                )
            labels[i, j] = int(value)
    return names, labels


def write(
    directory: str | epath.PathLike,
    mean: np.ndarray,
    sampled: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
) -> None:
    """Writes representations.npz (mean, sampled float32 [N, d]) and classes.csv (int [N, F])."""
    directory = epath.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, mean=np.asarray(mean, np.float32), sampled=np.asarray(sampled, np.float32))
    write_atomic(directory / "representations.npz", buffer.getvalue())
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(np.asarray(labels, np.int64).tolist())
    write_atomic(directory / "classes.csv", text.getvalue())
