"""Reading the builders' source files: rows of an .npz array, COIL image folders, manual dirs.

Everything streams: an .npz member is read a chunk of rows at a time (MPI3D's
12.7 GB `images` never sits in memory whole), archives are read without being
extracted (TFDS's extractor needs TensorFlow). Paths are `etils.epath`.
"""

from __future__ import annotations

import contextlib
import math
import re
import zipfile
from collections.abc import Iterator

import numpy as np
from etils import epath

COIL_NAME = re.compile(r"obj(\d+)__(\d+)\.png$")


@contextlib.contextmanager
def npz_array(path: epath.PathLike, key: str) -> Iterator[tuple[tuple[int, ...], Iterator]]:
    """Opens array `key` of an .npz file for streaming.

    Yields:
      (shape of the array, `chunks(rows)`: a function returning an iterator over
      consecutive row blocks [<= rows, *shape[1:]] in file order).
    """
    with epath.Path(path).open("rb") as file, zipfile.ZipFile(file) as archive:
        if f"{key}.npy" not in archive.namelist():
            raise KeyError(f"{path} has no array {key!r}; it holds {archive.namelist()}.")
        with archive.open(f"{key}.npy") as member:
            major, _ = np.lib.format.read_magic(member)
            read_header = {
                1: np.lib.format.read_array_header_1_0,
                2: np.lib.format.read_array_header_2_0,
            }[major]
            shape, fortran_order, dtype = read_header(member)
            if fortran_order:
                raise ValueError(f"{path}:{key} is stored in Fortran order; expected C order.")
            row_bytes = math.prod(shape[1:]) * dtype.itemsize

            def chunks(rows: int) -> Iterator[np.ndarray]:
                for start in range(0, shape[0], rows):
                    count = min(rows, shape[0] - start)
                    data = _read_exactly(member, count * row_bytes)
                    yield np.frombuffer(data, dtype).reshape((count, *shape[1:]))

            yield shape, chunks


def _read_exactly(file, size: int) -> bytes:
    parts, remaining = [], size
    while remaining:
        part = file.read(remaining)
        if not part:
            raise EOFError(f"Archive member ended {remaining} bytes early.")
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def coil_files(path: epath.PathLike) -> Iterator[tuple[str, bytes]]:
    """(file name, file bytes) of every COIL image `obj{o}__{n}.png` under `path`.

    `path` is a .zip archive (as downloaded from Columbia), or a folder holding the
    PNGs (directly or one folder down) or, failing that, such archives.
    """
    path = epath.Path(path)
    if path.is_dir():
        found = [*path.glob("obj*__*.png"), *path.glob("*/obj*__*.png")]
        pngs = sorted(p for p in found if COIL_NAME.fullmatch(p.name))
        for png in pngs:
            yield png.name, png.read_bytes()
        if not pngs:
            for archive in sorted(path.glob("*.zip")):
                yield from coil_files(archive)
        return
    with path.open("rb") as file, zipfile.ZipFile(file) as archive:
        for member in sorted(archive.namelist()):
            name = member.rsplit("/", 1)[-1]
            if COIL_NAME.fullmatch(name):
                yield name, archive.read(member)


def coil_labels(name: str, step: int) -> tuple[int, int]:
    """`obj{o}__{n}.png` -> (object o - 1, pose n // step), both from 0.

    COIL-100 names carry the turntable angle in degrees (step 5); the processed
    COIL-20 names carry the pose index (step 1).
    """
    match = COIL_NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"{name!r} is not a COIL file name obj{{object}}__{{pose}}.png.")
    obj, number = int(match[1]), int(match[2])
    if number % step:
        raise ValueError(f"{name}: pose number {number} is not a multiple of {step}.")
    return obj - 1, number // step


def manual_or_download(dl_manager, names: tuple[str, ...], url: str) -> epath.Path:
    """The first of `names` found in the manual dir, else the download of `url`.

    Lets a user who fetched the source by hand (or cannot reach `url`) put the file,
    or its extracted folder, in the manual dir instead.
    """
    try:
        manual = dl_manager.manual_dir
    except AssertionError:  # TFDS: the manual dir does not exist or is empty.
        manual = None
    for name in names if manual is not None else ():
        if (manual / name).exists():
            return manual / name
    return epath.Path(dl_manager.download(url))
