"""TensorFlow-free builders of the TFDS catalog's `dsprites`, `shapes3d`, `coil100`, `smallnorb`.

The catalog's own builders need TensorFlow to prepare: TFDS encodes numpy images
with `tf.image.encode_png`, extracts archives through `tf.io.gfile`, and the
coil100 and smallnorb builders read files with `tf.io.gfile`. These subclasses
write the same dataset (name, version, features, record layout, checksums, so the
same directory `<data_dir>/<name>/<version>`) with PIL, `zipfile` and `gzip`
instead. Reading needs no TensorFlow either way.
"""

from __future__ import annotations

import gzip
import inspect

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from drl_jax.data.tfds import images, sources

_Dsprites = tfds.builder_cls("dsprites")
_Shapes3d = tfds.builder_cls("shapes3d")
_Coil100 = tfds.builder_cls("coil100")
_Smallnorb = tfds.builder_cls("smallnorb")

_COIL100_URL = (
    "http://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-100/coil-100.zip"
)
_NORB_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/smallnorb-{}-{}.mat.gz"
_NORB_SPLITS = {
    "train": "5x46789x9x18x6x2x96x96-training",
    "test": "5x01235x9x18x6x2x96x96-testing",
}
_NORB_KINDS = ("dat", "cat", "info")
# smallNORB binary matrix header: magic number -> element type (little-endian).
_NORB_TYPES = {0x1E3D4C55: np.dtype("u1"), 0x1E3D4C54: np.dtype("<i4")}


def _catalog_files(builder_cls: type) -> tuple[epath.Path, epath.Path]:
    """(folder, module file) of a catalog builder: its README, citations and checksums.tsv.

    Set explicitly: TFDS finds them through importlib.resources, which fails for
    namespace packages and, in tfds 4.9.10, needs the `importlib_resources` backport.
    """
    module_file = epath.Path(inspect.getfile(builder_cls))
    return module_file.parent, module_file


class Dsprites(_Dsprites, skip_registration=True):
    """The catalog's dsprites, images PNG-encoded by PIL."""

    name = "dsprites"
    pkg_dir_path, code_path = _catalog_files(_Dsprites)

    def _generate_examples(self, filepath):
        for key, record in super()._generate_examples(filepath):
            yield key, record | {"image": images.png_bytes(record["image"])}


class Shapes3d(_Shapes3d, skip_registration=True):
    """The catalog's shapes3d, images PNG-encoded by PIL."""

    name = "shapes3d"
    pkg_dir_path, code_path = _catalog_files(_Shapes3d)

    def _generate_examples(self, filepath):
        for key, record in super()._generate_examples(filepath):
            yield key, record | {"image": images.png_bytes(record["image"])}


class Coil100(_Coil100, skip_registration=True):
    """The catalog's coil100, read from the zip (or an extracted folder) without extracting."""

    name = "coil100"
    pkg_dir_path, code_path = _catalog_files(_Coil100)
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Optional: the builder downloads coil-100.zip from Columbia itself. Otherwise put
    coil-100.zip, or the extracted coil-100/ folder of obj{1-100}__{0-355}.png, in
    the manual dir.
    """

    def _split_generators(self, dl_manager):
        path = sources.manual_or_download(dl_manager, ("coil-100.zip", "coil-100"), _COIL100_URL)
        return {"train": self._generate_examples(path)}

    def _generate_examples(self, path):
        for file_name, data in sources.coil_files(path):
            obj, pose = sources.coil_labels(file_name, step=5)
            yield (
                file_name,
                {
                    "image": data,
                    "angle_label": str(5 * pose),
                    "object_id": f"obj{obj + 1}",
                    "angle": 5 * pose,
                },
            )


class Smallnorb(_Smallnorb, skip_registration=True):
    """The catalog's smallnorb, read from the downloaded .mat.gz files with gzip."""

    name = "smallnorb"
    pkg_dir_path, code_path = _catalog_files(_Smallnorb)

    def _split_generators(self, dl_manager):
        generators = {}
        for split, stem in _NORB_SPLITS.items():
            files = dl_manager.download(
                {kind: _NORB_URL.format(stem, kind) for kind in _NORB_KINDS}
            )
            generators[split] = self._generate_examples(f"{split}_", **files)
        return generators

    def _generate_examples(self, split_prefix, dat, cat, info):
        pairs, categories, infos = read_norb(dat), read_norb(cat), read_norb(info)
        for i, (pair, category, row) in enumerate(zip(pairs, categories, infos, strict=True)):
            instance, elevation, azimuth, lighting = (int(v) for v in row)
            record = {
                "image": images.png_bytes(pair[0]),
                "image2": images.png_bytes(pair[1]),
                "label_category": int(category),
                "instance": instance,
                "label_elevation": elevation,
                "label_azimuth": azimuth // 2,  # the file holds 0, 2, ..., 34 (tens of degrees)
                "label_lighting": lighting,
            }
            if self.version > "2.0.0":
                record["id"] = f"{split_prefix}{i:05d}"
            yield i, record


def read_norb(path: epath.PathLike) -> np.ndarray:
    """A smallNORB binary matrix file (gzipped or not) -> its array.

    Format (NYU's norb-v1.0-small page): int32 magic (element type), int32 ndim,
    max(3, ndim) int32 dims, then the elements; all little-endian.
    """
    data = epath.Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    header = np.frombuffer(data, "<i4", count=2)
    magic, ndim = int(header[0]), int(header[1])
    if magic not in _NORB_TYPES:
        raise ValueError(f"{path}: unknown smallNORB matrix magic number {magic:#x}.")
    dims = np.frombuffer(data, "<i4", count=ndim, offset=8)
    offset = 8 + 4 * max(3, ndim)
    return np.frombuffer(data, _NORB_TYPES[magic], offset=offset).reshape(tuple(dims))


# The catalog datasets these twins prepare.
TWINS = (Dsprites, Shapes3d, Coil100, Smallnorb)
