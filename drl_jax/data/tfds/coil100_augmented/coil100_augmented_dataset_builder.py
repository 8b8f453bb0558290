"""Coil100-Augmented: the 7,200 COIL-100 photographs its 1,166,400 images are rendered from.

The dataset proper (object 100 x pose 72 x in-plane rotation 18 x scale 9) is not
stored: `drl_jax.data.tfds.coil_augment` renders each image on the device from
these base images. Source: `coil-100.zip` from Columbia (or its extracted
folder), files `obj{o}__{angle}.png`, o in 1..100, angle in degrees 0..355,
128 x 128 RGB.
"""

from __future__ import annotations

import tensorflow_datasets as tfds
from etils import epath

from drl_jax.data.tfds import sources

_URL = "http://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-100/coil-100.zip"


class Builder(tfds.core.GeneratorBasedBuilder):
    """COIL-100's base images; FoVs `object` and `pose` (angle / 5 degrees) as ClassLabels."""

    # Metadata and checksums.tsv beside this file (see mpi3d_dataset_builder.py).
    pkg_dir_path = epath.Path(__file__).parent
    code_path = epath.Path(__file__)
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: the files' PNG bytes, ArrayRecord."}
    NUM_OBJECTS = 100
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Optional: the builder downloads coil-100.zip from Columbia itself. Otherwise put
    coil-100.zip, or the extracted folder of obj{1-100}__{0-355}.png, in the manual
    dir (the PNGs may also sit directly in it).
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(128, 128, 3)),
                    "object": tfds.features.ClassLabel(num_classes=self.NUM_OBJECTS),
                    "pose": tfds.features.ClassLabel(num_classes=72),
                }
            ),
            homepage="https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        names = ("coil-100.zip", "coil-100", ".")
        return {
            "train": self._generate_examples(sources.manual_or_download(dl_manager, names, _URL))
        }

    def _generate_examples(self, path):
        for name, data in sources.coil_files(path):
            obj, pose = sources.coil_labels(name, step=5)
            yield name, {"image": data, "object": obj, "pose": pose}
