"""Readers: catalog-format data written without TensorFlow, errors, real COIL-20 and dSprites."""

import gzip
import json

import h5py
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData, LabelledData
from drl_jax.data.tfds import (
    DatasetNotPreparedError,
    IncompleteGridError,
    catalog,
    images,
    readers,
    tables,
)
from drl_jax.errors import UsageError


def build(builder, manual_dir=None):
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    builder.download_and_prepare(file_format="array_record", download_config=config)
    return builder


def serve_downloads(monkeypatch, files):
    """Makes TFDS "download" each URL (or dict of URLs) to a local file: {url: path}."""

    def download(self, urls):
        del self
        return {k: files[u] for k, u in urls.items()} if isinstance(urls, dict) else files[urls]

    monkeypatch.setattr(tfds.download.DownloadManager, "download", download)


@pytest.mark.parametrize(
    "name, path, words",
    [
        ("mpi3d_real", "mpi3d/real/1.0.0", ["mpi3d_real.npz", "manual"]),
        ("isaac3d", "isaac3d/1.0.0", ["Isaac3D_down128", "--manual_dir"]),
        ("dsprites", "dsprites/2.0.0", ["tfds build dsprites", "--file_format array_record"]),
        ("rgbd_objects_depth", "rgbd_objects/1.0.0", ["rgbd-dataset/apple/apple_1"]),
    ],
)
def test_missing_dataset_says_what_where_and_how(tmp_path, name, path, words):
    with pytest.raises(DatasetNotPreparedError) as error:
        readers.load(name, data_dir=str(tmp_path))
    message = str(error.value)
    assert f"Dataset {name!r} is not prepared" in message
    assert str(tmp_path / path) in message
    assert f"python -m drl_jax.data.tfds.prepare {name} --data_dir {tmp_path}" in message
    assert "$TFDS_DATA_DIR" in message and "~/tensorflow_datasets" in message
    for word in words:
        assert word in message
    assert isinstance(error.value, UsageError)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UsageError, match="Unknown dataset 'mpi3d'.*mpi3d_toy, mpi3d_realistic"):
        readers.load("mpi3d")


def norb_file(path, array: np.ndarray):
    """Writes `array` in smallNORB's binary matrix format, gzipped."""
    magic = {np.uint8: 0x1E3D4C55, np.int32: 0x1E3D4C54}[array.dtype.type]
    dims = list(array.shape) + [1] * (3 - array.ndim)
    header = np.array([magic, array.ndim, *dims], "<i4").tobytes()
    path.write_bytes(gzip.compress(header + array.astype(array.dtype.newbyteorder("<")).tobytes()))


def test_smallnorb_twin_writes_the_catalog_format(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    files, expected = {}, {}
    for split, stem in catalog._NORB_SPLITS.items():
        instances = [4, 6] if split == "train" else [0, 1]
        pairs = rng.integers(0, 256, (4, 2, 96, 96), dtype=np.uint8)
        category = np.array([0, 1, 2, 4], np.int32)
        info = np.array([[instances[i % 2], i, 2 * (17 - i), i + 1] for i in range(4)], np.int32)
        for kind, array in (("dat", pairs), ("cat", category), ("info", info)):
            url = catalog._NORB_URL.format(stem, kind)
            files[url] = tmp_path / f"{split}-{kind}.mat.gz"
            norb_file(files[url], array)
        for i in range(4):
            expected[(category[i], info[i, 0], i, 17 - i, i + 1)] = pairs[i, 0]
    serve_downloads(monkeypatch, files)
    build(catalog.Smallnorb(data_dir=tmp_path))
    np.testing.assert_array_equal(catalog.read_norb(tmp_path / "test-info.mat.gz"), info)

    data = readers.load("smallnorb", data_dir=str(tmp_path))
    assert isinstance(data, LabelledData)  # 8 of 48,600 states: not a grid
    assert data.factor_names == ("category", "instance", "elevation", "azimuth", "lighting")
    assert data.factor_sizes == (5, 10, 9, 18, 6)
    labels = [tuple(row) for row in np.asarray(data.labels)]
    assert sorted(labels) == sorted(expected)
    for row, label in enumerate(labels):
        np.testing.assert_allclose(
            np.asarray(data.images)[row, ..., 0], images.resize(expected[label][..., None])[..., 0]
        )


def test_shapes3d_twin_writes_the_catalog_format(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    classes = np.array([[0, 1, 2, 3, 0, 4], [1, 0, 0, 0, 1, 0], [2, 2, 1, 1, 2, 1],
                        [3, 3, 3, 2, 3, 2], [4, 4, 4, 4, 3, 3]])  # fmt: skip
    source = tmp_path / "3dshapes.h5"
    with h5py.File(source, "w") as file:  # the real file stores FoV values, not classes
        file["images"] = pixels
        file["labels"] = 0.1 * classes + 0.05
    serve_downloads(monkeypatch, {url: source for url in catalog.Shapes3d.url_infos})
    builder = build(catalog.Shapes3d(data_dir=tmp_path))

    with pytest.raises(IncompleteGridError, match="has 5 images .* 480,000 states"):
        readers.load("shapes3d", data_dir=str(tmp_path))
    reader = readers.READERS["shapes3d"]
    stream = tables.Stream(
        tables.open_splits(builder, ["train"]), tuple(reader.fovs), reader.convert, "shapes3d"
    )
    images_read, labels = stream.rows()
    order = np.argsort(labels[:, 0])
    np.testing.assert_array_equal(labels[order], classes)
    np.testing.assert_array_equal(images_read[order], pixels)


def test_coil100_twin_reads_the_zip_layout_names(tmp_path):
    folder = tmp_path / "manual" / "coil-100"
    folder.mkdir(parents=True)
    for obj, angle in [(1, 0), (1, 355), (100, 180)]:
        image = np.full((128, 128, 3), (obj, angle // 5, 7), np.uint8)
        Image.fromarray(image).save(folder / f"obj{obj}__{angle}.png")
    build(catalog.Coil100(data_dir=tmp_path), tmp_path / "manual")
    data = readers.load("coil100", data_dir=str(tmp_path))
    assert data.factor_names == ("object", "angle") and data.factor_sizes == (100, 72)
    labels = sorted(map(tuple, np.asarray(data.labels)))
    assert labels == [(0, 0), (0, 71), (99, 36)]
    pixels = {tuple(np.asarray(image)[0, 0]) for image in data.images}
    assert pixels == {(1, 0, 7), (1, 71, 7), (100, 36, 7)}


def test_prepared_as_tfrecord_is_refused(tmp_path):
    folder = tmp_path / "manual" / "coil-100"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((128, 128, 3), np.uint8)).save(folder / "obj1__0.png")
    builder = build(catalog.Coil100(data_dir=tmp_path), tmp_path / "manual")
    info_file = tmp_path / "coil100" / "2.0.0" / "dataset_info.json"
    info = json.loads(info_file.read_text())
    info["fileFormat"] = "tfrecord"
    info_file.write_text(json.dumps(info))
    assert builder.info.file_format == tfds.core.file_adapters.FileFormat.ARRAY_RECORD
    with pytest.raises(DatasetNotPreparedError, match="prepared as tfrecord.*convert_format"):
        readers.load("coil100", data_dir=str(tmp_path))


def test_grid_errors_name_the_gaps():
    space = FactorSpace(("a", "b"), (2, 3))
    counts = np.array([1, 0, 1, 2, 1, 1])
    text = tables.gap_text(space, counts)
    assert "1 have no image and 1 have more than one" in text
    assert "first missing: a=0, b=1" in text and "first repeated: a=1, b=0" in text
    labels = np.array([[1, 2], [0, 0], [1, 0], [0, 2], [0, 1], [1, 1]])
    np.testing.assert_array_equal(tables.state_order(space, labels), [1, 4, 3, 2, 5, 0])
    assert tables.state_order(space, labels[:5]) is None


def test_real_coil20_all_images_and_labels(tmp_path, shared_data):
    folder = shared_data / "coil-20-proc"
    build(readers.builder("coil20", str(tmp_path)), folder)
    data = readers.load("coil20", data_dir=str(tmp_path))
    assert isinstance(data, GridData)
    assert data.factor_names == ("object", "pose") and data.factor_sizes == (20, 72)
    table = np.asarray(data.arrays["images"])
    assert table.shape == (1440, 64, 64, 1)
    for obj in range(1, 21):
        for pose in range(72):
            with Image.open(folder / f"obj{obj}__{pose}.png") as image:
                photo = np.asarray(image, np.float64)
            expected = photo.reshape(64, 2, 64, 2).mean((1, 3))
            np.testing.assert_allclose(table[72 * (obj - 1) + pose, ..., 0], expected, atol=0.5)


def test_real_dsprites_subset_round_trips(tmp_path, monkeypatch, shared_data):
    subset = np.load(shared_data / "dsprites_subset" / "dsprites_subset.npz", allow_pickle=True)
    count = 2000
    source = tmp_path / "dsprites.hdf5"
    classes = subset["latents_classes"][:count]
    with h5py.File(source, "w") as file:  # the layout of the real download
        file["imgs"] = subset["imgs"][:count]
        file["latents/classes"] = np.concatenate([np.zeros((count, 1), np.int64), classes], 1)
        file["latents/values"] = np.concatenate(
            [np.ones((count, 1)), subset["latents_values"][:count]], 1
        )
    serve_downloads(monkeypatch, {url: source for url in catalog.Dsprites.url_infos})
    builder = build(catalog.Dsprites(data_dir=tmp_path))

    with pytest.raises(IncompleteGridError, match="has 2,000 images but its FoV grid .* 737,280"):
        readers.load("dsprites", data_dir=str(tmp_path))
    reader = readers.READERS["dsprites"]
    stream = tables.Stream(
        tables.open_splits(builder, ["train"]), tuple(reader.fovs), reader.convert, "dsprites"
    )
    pixels, labels = stream.rows()
    order = np.lexsort(labels.T[::-1])
    expected_order = np.lexsort(classes.T[::-1])
    np.testing.assert_array_equal(labels[order], classes[expected_order])
    np.testing.assert_array_equal(
        pixels[order, ..., 0], subset["imgs"][:count][expected_order] * 255
    )
