"""The reference code's representation files, read and written exactly.

`representations.npz`: keys `mean` and `sampled`, each float32 [N, d] (the
encoder mean and a posterior sample). `classes.csv`: a header of FoV names and
one row of integer FoV classes per sample. Integral floats such as `9.0`
(written by pandas from float arrays) are accepted on reading. A file that is
not what its name says is a UsageError naming the file and what it should hold.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence

import numpy as np
from etils import epath

from drl_jax.errors import UsageError
from drl_jax.metrics import info
from drl_jax.workdir import write_atomic

MODES = ("mean", "sampled")
NPZ, CSV = "representations.npz", "classes.csv"
_NPZ_HOLDS = "float arrays 'mean' and 'sampled' [N, d] (numpy.savez)"
_CSV_HOLDS = "a header of FoV names and one row of integer FoV classes per sample"


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
    npz_path, csv_path = directory / NPZ, directory / CSV
    for path, holds in ((npz_path, _NPZ_HOLDS), (csv_path, _CSV_HOLDS)):
        if not path.exists():
            raise UsageError(f"{path} not found: the input folder must hold {NPZ} ({holds}).")
    codes = _read_codes(npz_path, mode)
    names, labels = _read_classes(csv_path)
    if codes.ndim == 2 and len(labels) != len(codes):
        raise UsageError(
            f"{csv_path} has {len(labels)} rows but {npz_path}[{mode!r}] has {len(codes)}: "
            "both must describe the same samples in the same order."
        )
    try:
        codes, labels = info.check_codes_factors(codes, labels, f"{npz_path}[{mode!r}]")
    except ValueError as error:
        raise UsageError(str(error)) from None
    return codes.astype(np.float32), labels, names


def _read_codes(path: epath.Path, mode: str) -> np.ndarray:
    try:
        with path.open("rb") as f, np.load(f) as npz:
            if mode not in npz:
                raise UsageError(
                    f"{path} has no key {mode!r} (keys: {sorted(npz.keys())}); it should hold "
                    f"{_NPZ_HOLDS}. Pick a key with --config.mode."
                )
            return np.asarray(npz[mode])
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, AttributeError) as error:
        raise UsageError(
            f"{path} is not a readable .npz archive ({type(error).__name__}): it should hold "
            f"{_NPZ_HOLDS}."
        ) from None


def _read_classes(path: epath.Path) -> tuple[list[str], np.ndarray]:
    try:
        rows = list(csv.reader(io.StringIO(path.read_text())))
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(
            f"{path} is not a CSV text file ({error}): it should hold {_CSV_HOLDS}."
        ) from None
    if not rows or not rows[0]:
        raise UsageError(f"{path} is empty: it should hold {_CSV_HOLDS}.")
    names, body = [n.strip() for n in rows[0]], [r for r in rows[1:] if r]
    labels = np.zeros((len(body), len(names)), np.int64)
    for i, row in enumerate(body):
        if len(row) != len(names):
            raise UsageError(
                f"{path} line {i + 2} has {len(row)} values for {len(names)} FoVs {names} "
                "(a truncated or malformed file?)."
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
    buffer = io.BytesIO()
    np.savez(buffer, mean=np.asarray(mean, np.float32), sampled=np.asarray(sampled, np.float32))
    write_atomic(directory / NPZ, buffer.getvalue())
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(np.asarray(labels, np.int64).tolist())
    write_atomic(directory / CSV, text.getvalue())
