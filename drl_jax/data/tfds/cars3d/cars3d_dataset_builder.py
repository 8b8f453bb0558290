"""Cars3D (Reed et al. 2015): 183 car models x 24 azimuths x 4 elevations, 17,568 images, 128 x 128.

Source: `nips2015-analogy-data.tar.gz` (the Deep Visual Analogy-Making data; it
also holds the paper's shapes and sprites, which are not read), or its
extracted `data/cars/` folder: `list.txt` names the cars used, one per line (the
stem of the car's .mat file, e.g. `car_001_mesh`), and each `car_XXX_mesh.mat`
(MATLAB v5, read with `scipy.io.loadmat`) holds `im` uint8 [128, 128, 3, 24, 4]
(height, width, RGB, yaw, pitch), `mask` uint8 [128, 128, 24, 4], `YAW_LIST`
[1, 24] and `PITCH_LIST` [1, 4]. Files that list.txt does not name are ignored.

FoVs in disentanglement_lib's order and sizes: `elevation` 4 (the pitch axis of
`im`), `azimuth` 24 (its yaw axis), `object` 183 (the car's line in list.txt,
from 0; disentanglement_lib numbered the cars in directory-listing order).
Images are stored at the source's 128 x 128, as the PNG bytes of `im[..., a, e]`;
the reader area-resamples them to 64 x 64 like the other 128-pixel datasets
(disentanglement_lib shrank them with PIL's antialiased (Lanczos) thumbnail).
The archive is read as a stream, never extracted.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterator

import numpy as np
import scipy.io
import tensorflow_datasets as tfds
from etils import epath

from drl_jax.data.tfds import images, sources

FOV_NAMES = ("elevation", "azimuth", "object")
NUM_ELEVATIONS = 4
NUM_AZIMUTHS = 24
ARCHIVE = "nips2015-analogy-data.tar.gz"
_URL = "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz"
_LIST = "list.txt"
_IM_SHAPE = (128, 128, 3, NUM_AZIMUTHS, NUM_ELEVATIONS)


class Builder(tfds.core.GeneratorBasedBuilder):
    """Cars3D at 128 x 128; FoVs `elevation`, `azimuth`, `object` as ClassLabels."""

    # Metadata and checksums.tsv beside this file (see mpi3d_dataset_builder.py).
    pkg_dir_path = epath.Path(__file__).parent
    code_path = epath.Path(__file__)
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 128 x 128 PNG images, ArrayRecord."}
    # The cars in list.txt (fewer only for tests).
    NUM_OBJECTS = 183
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Optional: the builder downloads nips2015-analogy-data.tar.gz from
    http://www.scottreed.info/files/nips2015-analogy-data.tar.gz itself. Otherwise
    download it by hand and put the archive (unrenamed, not extracted), or its
    extracted data/ folder (data/cars/list.txt and data/cars/car_XXX_mesh.mat), in
    the manual dir; the cars/ folder itself, or list.txt and the .mat files
    directly in the manual dir, work too.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(128, 128, 3)),
                    "elevation": tfds.features.ClassLabel(num_classes=NUM_ELEVATIONS),
                    "azimuth": tfds.features.ClassLabel(num_classes=NUM_AZIMUTHS),
                    "object": tfds.features.ClassLabel(num_classes=self.NUM_OBJECTS),
                }
            ),
            homepage="http://www.scottreed.info",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        path = sources.manual_or_download(dl_manager, (ARCHIVE, "."), _URL)
        return {"train": self._generate_examples(path)}

    def _generate_examples(self, path):
        path = epath.Path(path)
        if path.is_dir():
            folder = _cars_folder(path)
            names = self._car_names((folder / _LIST).read_text(), folder / _LIST)
            missing = [name for name in names if not (folder / f"{name}.mat").exists()]
            if missing:
                raise FileNotFoundError(
                    f"Cars3D: {len(missing)} cars of {folder / _LIST} have no .mat file in "
                    f"{folder}, e.g. {missing[0]}.mat."
                )
            files = ((name, (folder / f"{name}.mat").read_bytes()) for name in names)
        else:
            cars_dir, text = _archive_list(path)
            names = self._car_names(text, f"{path}:{cars_dir}/{_LIST}")
            files = _archive_mats(path, cars_dir, set(names))
        index = {name: i for i, name in enumerate(names)}
        found = set()
        for name, data in files:
            found.add(name)
            im = _read_im(data, name)
            for elevation in range(NUM_ELEVATIONS):
                for azimuth in range(NUM_AZIMUTHS):
                    image = np.ascontiguousarray(im[:, :, :, azimuth, elevation])
                    yield (
                        f"{name}_{elevation}_{azimuth}",
                        {
                            "image": images.png_bytes(image),
                            "elevation": elevation,
                            "azimuth": azimuth,
                            "object": index[name],
                        },
                    )
        missing = [name for name in names if name not in found]
        if missing:
            raise FileNotFoundError(
                f"Cars3D: {path} lacks {len(missing)} of the cars its list.txt names, "
                f"e.g. {missing[0]}.mat."
            )

    def _car_names(self, text: str, where) -> list[str]:
        """list.txt's lines (the .mat stems, in object order), checked against NUM_OBJECTS."""
        names = [line.strip().removesuffix(".mat") for line in text.splitlines()]
        names = [name for name in names if name]
        if len(set(names)) != len(names):
            raise ValueError(f"Cars3D: {where} names some cars more than once.")
        if len(names) != self.NUM_OBJECTS:
            raise ValueError(
                f"Cars3D: {where} names {len(names)} cars, expected {self.NUM_OBJECTS}."
            )
        return names


def _cars_folder(path: epath.Path) -> epath.Path:
    """The folder holding list.txt: `path`, `path/cars` or `path/data/cars`."""
    for folder in (path, path / "cars", path / "data" / "cars"):
        if (folder / _LIST).exists():
            return folder
    raise FileNotFoundError(
        f"Cars3D: no {_LIST} in {path}, {path}/cars or {path}/data/cars. Put {ARCHIVE}, or "
        f"its extracted data/cars/ folder ({_LIST} and car_XXX_mesh.mat), in the manual dir."
    )


def _members(path: epath.Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo, str]]:
    """(archive, member, normalised member path) of each file of a .tar(.gz), streamed."""
    with epath.Path(path).open("rb") as file, tarfile.open(fileobj=file, mode="r|*") as archive:
        for member in archive:
            if member.isfile():
                yield archive, member, posixpath.normpath(member.name).lstrip("/")


def _archive_list(path: epath.Path) -> tuple[str, str]:
    """(folder of `cars/list.txt` inside the archive, the file's text)."""
    for archive, member, name in _members(path):
        folder, base = posixpath.split(name)
        if base == _LIST and posixpath.basename(folder) == "cars":
            return folder, archive.extractfile(member).read().decode()
    raise FileNotFoundError(f"Cars3D: {path} holds no cars/{_LIST} (expected data/cars/{_LIST}).")


def _archive_mats(path: epath.Path, folder: str, names: set[str]) -> Iterator[tuple[str, bytes]]:
    """(stem, file bytes) of each `{folder}/{stem}.mat` in the archive with stem in `names`."""
    for archive, member, name in _members(path):
        directory, base = posixpath.split(name)
        stem = base.removesuffix(".mat")
        if directory == folder and base.endswith(".mat") and stem in names:
            yield stem, archive.extractfile(member).read()


def _read_im(data: bytes, name: str) -> np.ndarray:
    """A car's .mat bytes -> `im` uint8 [128, 128, 3, 24 yaws, 4 pitches], checked."""
    mat = scipy.io.loadmat(io.BytesIO(data), variable_names=("im", "YAW_LIST", "PITCH_LIST"))
    im = mat.get("im")
    if im is None or im.shape != _IM_SHAPE or im.dtype != np.uint8:
        got = "no `im`" if im is None else f"`im` {im.dtype} {im.shape}"
        raise ValueError(f"Cars3D: {name}.mat holds {got}, expected `im` uint8 {_IM_SHAPE}.")
    for key, size in (("YAW_LIST", NUM_AZIMUTHS), ("PITCH_LIST", NUM_ELEVATIONS)):
        if key in mat and np.size(mat[key]) != size:
            raise ValueError(
                f"Cars3D: {name}.mat has {np.size(mat[key])} {key} values, expected {size}."
            )
    return im
