"""MPI3D (toy, realistic, real): a robot finger moving an object, 1,036,800 images per variant.

Source: `mpi3d_{variant}.npz`, array `images` uint8 [1036800, 64, 64, 3] holding
every FoV state once, row-major in the order of `FOV_NAMES` (the last FoV varies
fastest), as documented by rr-learning/disentanglement_dataset.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from drl_jax.data.tfds import images, sources

FOV_NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)
FOV_SIZES = (6, 6, 2, 3, 3, 40, 40)
_URL = "https://storage.googleapis.com/disentanglement_dataset/Final_Dataset/{file}"
_CHUNK_ROWS = 4096


@dataclasses.dataclass(kw_only=True)
class Mpi3dConfig(tfds.core.BuilderConfig):
    """One MPI3D variant.

    Attributes:
      file: the source .npz file name, downloaded from the MPI3D bucket or found in
        the manual dir.
      sizes: the FoV grid, in `FOV_NAMES` order (smaller grids only for tests).
    """

    file: str = ""
    sizes: tuple[int, ...] = FOV_SIZES


class Builder(tfds.core.GeneratorBasedBuilder):
    """MPI3D, one config per variant; every FoV a ClassLabel."""

    # Metadata (README.md, CITATIONS.bib) and checksums.tsv sit beside this file. Set
    # explicitly: TFDS's lookup through importlib.resources fails when drl_jax is a
    # namespace package (some editable installs) and, in tfds 4.9.10, needs the
    # `importlib_resources` backport.
    pkg_dir_path = epath.Path(__file__).parent
    code_path = epath.Path(__file__)
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 64 x 64 PNG images, ArrayRecord."}
    BUILDER_CONFIGS = [
        Mpi3dConfig(name=variant, file=f"mpi3d_{variant}.npz", description=description)
        for variant, description in (
            ("toy", "Simplistic rendered images."),
            ("realistic", "Realistic rendered images."),
            ("real", "Real photographs of the robot platform."),
        )
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Optional: the builder downloads mpi3d_{toy,realistic,real}.npz from
    https://storage.googleapis.com/disentanglement_dataset/Final_Dataset/ itself.
    Where that fails (mpi3d_real.npz has moved before), download the file by hand
    (links in https://github.com/rr-learning/disentanglement_dataset) and put it,
    unrenamed, in the manual dir.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        features = {"image": tfds.features.Image(shape=(64, 64, 3))}
        for name, size in zip(FOV_NAMES, self.builder_config.sizes, strict=True):
            features[name] = tfds.features.ClassLabel(num_classes=size)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            homepage="https://github.com/rr-learning/disentanglement_dataset",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        file = self.builder_config.file
        path = sources.manual_or_download(dl_manager, (file,), _URL.format(file=file))
        return {"train": self._generate_examples(path)}

    def _generate_examples(self, path):
        sizes = self.builder_config.sizes
        with sources.npz_array(path, "images") as (shape, chunks):
            if shape != (math.prod(sizes), 64, 64, 3):
                raise ValueError(
                    f"{path}: `images` has shape {shape}, expected "
                    f"({math.prod(sizes)}, 64, 64, 3) for the FoV grid "
                    f"{dict(zip(FOV_NAMES, sizes, strict=True))}."
                )
            row = 0
            for block in chunks(_CHUNK_ROWS):
                classes = np.stack(np.unravel_index(np.arange(row, row + len(block)), sizes), -1)
                for image, fovs in zip(block, classes, strict=True):
                    yield (
                        row,
                        {"image": images.png_bytes(image)}
                        | dict(zip(FOV_NAMES, fovs.tolist(), strict=True)),
                    )
                    row += 1
