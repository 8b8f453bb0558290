"""COIL-20, processed: 20 objects x 72 turntable poses, 1,440 photographs, 128 x 128 gray.

Source: `coil-20-proc.zip` from Columbia (or its extracted folder), files
`obj{o}__{pose}.png` with o in 1..20 and the pose index 0..71 (5 degree steps).
"""

from __future__ import annotations

import tensorflow_datasets as tfds
from etils import epath

from drl_jax.data.tfds import sources

_URL = "http://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-20/coil-20-proc.zip"


class Builder(tfds.core.GeneratorBasedBuilder):
    """COIL-20 (processed); FoVs `object` and `pose` as ClassLabels."""

    # Metadata and checksums.tsv beside this file (see mpi3d_dataset_builder.py).
    pkg_dir_path = epath.Path(__file__).parent
    code_path = epath.Path(__file__)
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: the files' PNG bytes, ArrayRecord."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Optional: the builder downloads coil-20-proc.zip from Columbia itself. Otherwise
    put coil-20-proc.zip, or the extracted folder of obj{1-20}__{0-71}.png, in the
    manual dir (the PNGs may also sit directly in it).
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(128, 128, 1)),
                    "object": tfds.features.ClassLabel(names=[f"obj{o}" for o in range(1, 21)]),
                    "pose": tfds.features.ClassLabel(num_classes=72),
                }
            ),
            homepage="https://www.cs.columbia.edu/CAVE/software/softlib/coil-20.php",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        names = ("coil-20-proc.zip", "coil-20-proc", ".")
        return {
            "train": self._generate_examples(sources.manual_or_download(dl_manager, names, _URL))
        }

    def _generate_examples(self, path):
        for name, data in sources.coil_files(path):
            obj, pose = sources.coil_labels(name, step=1)
            yield name, {"image": data, "object": obj, "pose": pose}
