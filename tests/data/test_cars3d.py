"""Cars3D: dummy .mat files in the real format (3 cars), read from a folder and from the archive."""

import contextlib
import io
import itertools
import sys
import tarfile

import jax
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds
from etils import epath

from drl_jax.data import registry
from drl_jax.data.ground_truth import GridData
from drl_jax.data.tfds import images, prepare, readers, tables
from drl_jax.data.tfds.cars3d import cars3d_dataset_builder as cars3d
from drl_jax.errors import UsageError

FOVS = ("elevation", "azimuth", "object")
# list.txt order (= object index) differs from the sorted file names.
CARS = ("car_102_mesh", "car_007_mesh", "car_050_mesh")
SIZES = (4, 24, len(CARS))


class TinyCars3d(cars3d.Builder, skip_registration=True):
    name = "cars3d"
    NUM_OBJECTS = len(CARS)


def build(builder, manual_dir):
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    builder.download_and_prepare(file_format="array_record", download_config=config)
    return builder


def mat_bytes(seed: int) -> tuple[np.ndarray, bytes]:
    """A car's `im` uint8 [128, 128, 3, 24, 4] (random) and its .mat file's bytes."""
    im = np.random.default_rng(seed).integers(0, 256, (128, 128, 3, 24, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    scipy.io.savemat(
        buffer,
        {
            "im": im,
            "mask": (im[:, :, 0] > 127).astype(np.uint8),
            "YAW_LIST": np.arange(0, 360, 15, dtype=np.float64)[None],
            "PITCH_LIST": np.arange(0, 40, 10, dtype=np.float64)[None],
        },
    )
    return im, buffer.getvalue()


@pytest.fixture(scope="module")
def cars():
    """{name: (im, .mat bytes)} for the listed cars and one unlisted car."""
    return {name: mat_bytes(seed) for seed, name in enumerate((*CARS, "car_999_mesh"))}


def list_txt(names=CARS) -> bytes:
    return "".join(f"{name}\n" for name in names).encode()


@pytest.fixture(scope="module")
def expected(cars):
    """The 64 x 64 table uint8 [288, 64, 64, 3] in FoV order (elevation, azimuth, object).

    Each image the exact 2 x 2 area average of im[..., azimuth, elevation], rounded
    half to even; computed here with numpy, independently of PIL.
    """
    # im [h, w, c, yaw, pitch] -> [pitch, yaw, h, w, c]; cars on a third axis.
    grid = np.stack([cars[name][0].transpose(4, 3, 0, 1, 2) for name in CARS], axis=2)
    full = grid.reshape(-1, 128, 128, 3)
    means = full.reshape(-1, 64, 2, 64, 2, 3).astype(np.float64).mean((2, 4))
    return np.rint(means).astype(np.uint8), full


def check_table(data, expected):
    table, _ = expected
    assert isinstance(data, GridData)
    assert data.factor_names == FOVS and data.factor_sizes == SIZES
    assert data.space.strides == (72, 3, 1) and data.channels == 3
    np.testing.assert_array_equal(np.asarray(data.arrays["images"]), table)


def test_folder_round_trip(tmp_path, cars, expected):
    folder = tmp_path / "manual" / "data" / "cars"
    folder.mkdir(parents=True)
    (folder / "list.txt").write_bytes(list_txt())
    for name, (_, data) in cars.items():  # car_999_mesh.mat is not listed: ignored
        (folder / f"{name}.mat").write_bytes(data)
    builder = build(TinyCars3d(data_dir=tmp_path), tmp_path / "manual")
    assert builder.info.splits["train"].num_examples == 4 * 24 * 3
    assert [builder.info.features[n].num_classes for n in FOVS] == list(SIZES)

    # Stored records: every state once, the source's 128 x 128 pixels unchanged.
    (source,) = tables.open_splits(builder, ("train",))
    records = [tables.parse(record) for record in source.__getitems__(range(len(source)))]
    states = sorted(tuple(int(r[n]) for n in FOVS) for r in records)
    assert states == list(itertools.product(*(range(s) for s in SIZES)))
    for record in records[::37]:
        e, a, o = (int(record[n]) for n in FOVS)
        stored = images.decode(record["image"], 3)
        np.testing.assert_array_equal(stored, cars[CARS[o]][0][:, :, :, a, e])

    # The grid table: 64 x 64, row e * 72 + a * 3 + o, each image its state's.
    check_table(readers.from_builder("cars3d", builder), expected)
    assert "tensorflow" not in sys.modules


@pytest.fixture(scope="module")
def prepared_archive(tmp_path_factory, cars):
    """Prepares, with the CLI, from a dummy nips2015-analogy-data.tar.gz; (data dir, output)."""
    root = tmp_path_factory.mktemp("cars3d_archive")
    manual = root / "manual"
    manual.mkdir()
    members = [(f"data/cars/{name}.mat", data) for name, (_, data) in cars.items()]
    members += [
        ("data/shapes/list.txt", b"not_a_car\n"),  # another folder's list: ignored
        ("data/cars/list.txt", list_txt()),  # after the .mat files
    ]
    with tarfile.open(manual / cars3d.ARCHIVE, "w:gz", compresslevel=1) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.setattr(cars3d.Builder, "NUM_OBJECTS", len(CARS))
        written = prepare.main(["cars3d", "--data_dir", str(root), "--manual_dir", str(manual)])
    assert sorted(p.name for p in manual.iterdir()) == [cars3d.ARCHIVE]  # nothing extracted
    return root, written, output.getvalue()


def test_archive_round_trip_through_prepare_cli(prepared_archive, expected, monkeypatch):
    root, written, output = prepared_archive
    assert f"Prepared cars3d/1.0.0 (train 288 examples) in {written}" in output
    monkeypatch.setattr(cars3d.Builder, "NUM_OBJECTS", len(CARS))
    check_table(readers.load("cars3d", data_dir=str(root)), expected)


def test_registry_describes_and_loads_a_grid(prepared_archive, expected, monkeypatch):
    root = str(prepared_archive[0])
    monkeypatch.setattr(cars3d.Builder, "NUM_OBJECTS", len(CARS))
    description = registry.describe("cars3d", root)
    assert description == registry.Description("cars3d", FOVS, SIZES, 3, True)

    data = registry.load("cars3d", data_dir=root)
    assert isinstance(data, GridData) and data.name == "cars3d"
    table, _ = expected
    factors = np.array([[0, 0, 0], [3, 23, 2], [1, 5, 1], [2, 17, 0]])
    observed = np.asarray(jax.jit(data.observe)(factors, None))
    assert observed.shape == (4, 64, 64, 3) and observed.dtype == np.float32
    rows = factors @ np.array([72, 3, 1])
    np.testing.assert_allclose(observed * 255, table[rows], atol=1e-3)
    # Interventions straight from the grid: each image is its drawn state's.
    pairs = jax.jit(data.sample_pairs, static_argnums=1)(jax.random.key(0), 16)
    for which in ("1", "2"):
        rows = np.asarray(pairs[f"factors{which}"]) @ np.array([72, 3, 1])
        np.testing.assert_allclose(np.asarray(pairs[f"x{which}"]) * 255, table[rows], atol=1e-3)
    changed = np.asarray(pairs["factors1"]) != np.asarray(pairs["factors2"])
    np.testing.assert_array_equal(changed, np.asarray(pairs["changed"]))
    assert (changed.sum(1) == 1).all()


def test_real_dataset_describes_183_cars_and_how_to_get_them(tmp_path):
    builder = cars3d.Builder(data_dir=tmp_path)
    assert [builder.info.features[n].num_classes for n in FOVS] == [4, 24, 183]
    assert builder.info.features["image"].shape == (128, 128, 3)
    with pytest.raises(UsageError) as error:
        registry.describe("cars3d", str(tmp_path))
    message = str(error.value)
    assert f"python -m drl_jax.data.tfds.prepare cars3d --data_dir {tmp_path}" in message
    assert "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz" in message
    assert "data/cars/list.txt" in message


@pytest.mark.parametrize("layout", ["data/cars", "cars", "."])
def test_folder_layouts(tmp_path, layout):
    folder = tmp_path / layout
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "list.txt").write_bytes(list_txt())
    assert cars3d._cars_folder(epath.Path(tmp_path)) == epath.Path(folder)


def test_list_and_files_must_match(tmp_path, cars):
    folder = tmp_path / "manual" / "cars"
    folder.mkdir(parents=True)
    (folder / "list.txt").write_bytes(list_txt(CARS[:2]))
    with pytest.raises(ValueError, match=r"list.txt names 2 cars, expected 3"):
        build(TinyCars3d(data_dir=tmp_path / "a"), tmp_path / "manual")
    (folder / "list.txt").write_bytes(list_txt())
    (folder / f"{CARS[0]}.mat").write_bytes(cars[CARS[0]][1])
    with pytest.raises(FileNotFoundError, match=r"2 cars of .*list.txt have no .mat file"):
        build(TinyCars3d(data_dir=tmp_path / "b"), tmp_path / "manual")
