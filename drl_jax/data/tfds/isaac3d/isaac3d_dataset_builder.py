"""Isaac3D (NVIDIA): a robot arm moving an object in a kitchen, 737,280 images, 128 x 128.

Source (manual download): the `Isaac3D_down128` folder, `images/{i:06d}.png` and
`labels.npy` float [737280, 9], each FoV's values spread evenly over [0, 1].

Column order of labels.npy (and of the file index, row-major): object_shape 3,
robot x-move 8, robot y-move 5, camera_height 4, object_scale 4,
lighting_intensity 4, lighting y-dir 6, object_color 4, wall_color 4. This is the
order of `factor_names`/`factor_sizes` in dataset_demo.py of
NVlabs/High-res-disentanglement-datasets and of its README's index formula
(strides 245760, 30720, 6144, ... fit these sizes; the README's list of names
above the formula gives another order, which the strides do not fit). The
builder checks each column's number of distinct values against its size.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

# Features and the reader's FactorSpace follow the order in docs/datasets.md#isaac3d.
FOV_NAMES = (
    "object_shape",
    "object_scale",
    "camera_height",
    "x_move",
    "y_move",
    "light_intensity",
    "light_direction",
    "object_color",
    "wall_color",
)
# The columns of labels.npy.
LABEL_COLUMNS = (
    "object_shape",
    "x_move",
    "y_move",
    "camera_height",
    "object_scale",
    "light_intensity",
    "light_direction",
    "object_color",
    "wall_color",
)


class Builder(tfds.core.GeneratorBasedBuilder):
    """Isaac3D at 128 x 128; every FoV a ClassLabel."""

    # Metadata beside this file (see mpi3d_dataset_builder.py).
    pkg_dir_path = epath.Path(__file__).parent
    code_path = epath.Path(__file__)
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: the 128 x 128 files' PNG bytes, ArrayRecord."}
    FOV_SIZES = {
        "object_shape": 3,
        "object_scale": 4,
        "camera_height": 4,
        "x_move": 8,
        "y_move": 5,
        "light_intensity": 4,
        "light_direction": 6,
        "object_color": 4,
        "wall_color": 4,
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download Isaac3D_128x128 (13 GB) from the Google Drive link in
    https://github.com/NVlabs/High-res-disentanglement-datasets, unzip it and put
    the Isaac3D_down128 folder (images/000000.png ... images/737279.png and
    labels.npy) in the manual dir.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        features = {"image": tfds.features.Image(shape=(128, 128, 3))}
        for name in FOV_NAMES:
            features[name] = tfds.features.ClassLabel(num_classes=self.FOV_SIZES[name])
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            homepage="https://github.com/NVlabs/High-res-disentanglement-datasets",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        folder = dl_manager.manual_dir / "Isaac3D_down128"
        if not folder.exists():
            folder = dl_manager.manual_dir
        return {"train": self._generate_examples(folder)}

    def _generate_examples(self, folder):
        with (folder / "labels.npy").open("rb") as file:
            values = np.load(file)
        expected = (math.prod(self.FOV_SIZES.values()), len(LABEL_COLUMNS))
        if values.shape != expected:
            raise ValueError(f"{folder}/labels.npy has shape {values.shape}, expected {expected}.")
        classes = {}
        for column, name in enumerate(LABEL_COLUMNS):
            levels, classes[name] = np.unique(values[:, column], return_inverse=True)
            if len(levels) != self.FOV_SIZES[name]:
                raise ValueError(
                    f"{folder}/labels.npy column {column} ({name}) has {len(levels)} distinct "
                    f"values, expected {self.FOV_SIZES[name]}: the file does not follow the "
                    f"column order {LABEL_COLUMNS}."
                )
        for row in range(len(values)):
            yield (
                row,
                {"image": folder / "images" / f"{row:06d}.png"}
                | {name: int(classes[name][row]) for name in FOV_NAMES},
            )
