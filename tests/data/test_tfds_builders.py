"""Our TFDS builders, built from tiny dummy files in the real downloads' formats and read back."""

import io
import math
import sys
import zipfile

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from drl_jax.data.ground_truth import GridData, LabelledData
from drl_jax.data.tfds import images, prepare, readers
from drl_jax.data.tfds.coil100_augmented import coil100_augmented_dataset_builder as coil100_aug
from drl_jax.data.tfds.isaac3d import isaac3d_dataset_builder as isaac3d
from drl_jax.data.tfds.mpi3d import mpi3d_dataset_builder as mpi3d
from drl_jax.data.tfds.rgbd_objects import rgbd_objects_dataset_builder as rgbd


def build(builder, manual_dir=None):
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    builder.download_and_prepare(file_format="array_record", download_config=config)
    return builder


def block_mean(image: np.ndarray) -> np.ndarray:
    """uint8 [128, 128, C] -> float [64, 64, C]: the exact 2 x 2 area average."""
    return image.reshape(64, 2, 64, 2, -1).astype(np.float64).mean((1, 3))


def save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.squeeze(array)).save(path)


def test_mpi3d_round_trip_in_factor_order(tmp_path):
    sizes = (2, 1, 2, 1, 1, 3, 2)
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (math.prod(sizes), 64, 64, 3), dtype=np.uint8)
    (tmp_path / "manual").mkdir()
    np.savez(tmp_path / "manual" / "mpi3d_tiny.npz", images=source)
    config = mpi3d.Mpi3dConfig(name="tiny", file="mpi3d_tiny.npz", sizes=sizes)
    builder = build(mpi3d.Builder(data_dir=tmp_path, config=config), tmp_path / "manual")

    data = readers.from_builder("mpi3d_toy", builder)
    assert isinstance(data, GridData)
    assert data.factor_names == mpi3d.FOV_NAMES and data.factor_sizes == sizes
    # The .npz is row-major over the FoVs, as the table: pixel-exact, same order.
    np.testing.assert_array_equal(np.asarray(data.arrays["images"]), source)
    factors = np.array([[1, 0, 1, 0, 0, 2, 1], [0, 0, 0, 0, 0, 1, 0]])
    observed = np.asarray(data.observe(factors, None))
    rows = factors @ np.array(data.space.strides)
    np.testing.assert_array_equal(np.rint(observed * 255).astype(np.uint8), source[rows])
    assert "tensorflow" not in sys.modules


class TinyIsaac3d(isaac3d.Builder, skip_registration=True):
    name = "isaac3d"
    FOV_SIZES = isaac3d.Builder.FOV_SIZES | {
        "object_shape": 2, "object_scale": 1, "camera_height": 1, "x_move": 3, "y_move": 2,
        "light_intensity": 1, "light_direction": 1, "object_color": 1, "wall_color": 2,
    }  # fmt: skip


def test_isaac3d_labels_columns_map_to_spec_order(tmp_path):
    sizes = [TinyIsaac3d.FOV_SIZES[name] for name in isaac3d.LABEL_COLUMNS]
    folder = tmp_path / "manual" / "Isaac3D_down128"
    # As released: the file index runs row-major over the labels.npy columns, whose
    # values are the classes spread over [0, 1].
    classes = np.stack(np.unravel_index(np.arange(math.prod(sizes)), sizes), -1)
    values = classes / np.maximum(np.array(sizes) - 1, 1)
    folder.mkdir(parents=True)
    np.save(folder / "labels.npy", values)
    rng = np.random.default_rng(1)
    source = rng.integers(0, 256, (len(classes), 128, 128, 3), dtype=np.uint8)
    for row, image in enumerate(source):
        save_png(folder / "images" / f"{row:06d}.png", image)
    builder = build(TinyIsaac3d(data_dir=tmp_path), tmp_path / "manual")

    data = readers.from_builder("isaac3d", builder)
    assert data.factor_names == isaac3d.FOV_NAMES
    assert data.factor_sizes == tuple(TinyIsaac3d.FOV_SIZES[n] for n in isaac3d.FOV_NAMES)
    table = np.asarray(data.arrays["images"])
    columns = [isaac3d.LABEL_COLUMNS.index(name) for name in isaac3d.FOV_NAMES]
    rows = classes[:, columns] @ np.array(data.space.strides)
    np.testing.assert_allclose(table[rows], np.stack([block_mean(x) for x in source]), atol=0.5)


def test_isaac3d_rejects_a_wrong_column_order(tmp_path):
    sizes = [TinyIsaac3d.FOV_SIZES[name] for name in isaac3d.LABEL_COLUMNS]
    classes = np.stack(np.unravel_index(np.arange(math.prod(sizes)), sizes), -1)
    swapped = classes[:, [0, 4, 2, 3, 1, 5, 6, 7, 8]]  # x_move and object_scale exchanged
    folder = tmp_path / "manual" / "Isaac3D_down128"
    folder.mkdir(parents=True)
    np.save(folder / "labels.npy", swapped / 2.0)
    with pytest.raises(ValueError, match=r"column 1 \(x_move\) has 1 distinct values, expected 3"):
        build(TinyIsaac3d(data_dir=tmp_path), tmp_path / "manual")


def coil_png(obj: int, pose: int, channels: int) -> np.ndarray:
    """A 128 x 128 image that encodes its object and pose in its pixel values."""
    image = np.zeros((128, 128, channels), np.uint8)
    image[32:96, 32:96] = [(40 * obj + 3 * pose) % 256, pose * 3, obj * 50][:channels]
    image[32:64, 32:96] //= 2  # an upper half that is darker, so a rotation shows
    return image


class TinyCoil100Augmented(coil100_aug.Builder, skip_registration=True):
    name = "coil100_augmented"
    NUM_OBJECTS = 2


def test_coil100_augmented_stores_base_images_and_renders(tmp_path):
    folder = tmp_path / "manual" / "coil-100"
    for obj in (1, 2):
        for angle in range(0, 360, 5):
            save_png(folder / f"obj{obj}__{angle}.png", coil_png(obj, angle // 5, 3))
    builder = build(TinyCoil100Augmented(data_dir=tmp_path), tmp_path / "manual")

    data = readers.from_builder("coil100_augmented", builder)
    assert data.factor_names == ("object", "pose", "rotation", "scale")
    assert data.factor_sizes == (2, 72, 18, 9)
    base = np.asarray(data.arrays["base_images"])
    assert base.shape == (144, 128, 128, 3)
    for obj, pose in [(0, 0), (1, 71), (1, 13)]:
        np.testing.assert_array_equal(base[72 * obj + pose], coil_png(obj + 1, pose, 3))
    out = np.asarray(jax.jit(data.observe)(np.array([[1, 13, 0, 0], [1, 13, 9, 0]]), None))
    np.testing.assert_allclose(out[0] * 255, block_mean(coil_png(2, 13, 3)), atol=1e-3)
    np.testing.assert_allclose(out[1], np.rot90(out[0], 2), atol=1e-5)

    binary = readers.from_builder("coil100_augmented_binary", builder)
    assert binary.name == "coil100_augmented_binary" and binary.channels == 1
    silhouette = np.asarray(jax.jit(binary.observe)(np.array([[1, 13, 0, 0]]), None))[0, ..., 0]
    assert set(np.unique(silhouette)) == {0.0, 1.0}
    assert silhouette[16:48, 16:48].all() and silhouette.sum() == 32 * 32


def test_coil20_zip_layout_and_prepare_cli(tmp_path, capsys):
    manual = tmp_path / "manual"
    manual.mkdir()
    with zipfile.ZipFile(manual / "coil-20-proc.zip", "w") as archive:
        for obj in (3, 20):
            for pose in range(72):
                buffer = io.BytesIO()
                Image.fromarray(coil_png(obj, pose, 1)[..., 0]).save(buffer, format="PNG")
                archive.writestr(f"coil-20-proc/obj{obj}__{pose}.png", buffer.getvalue())
    written = prepare.main(["coil20", "--data_dir", str(tmp_path), "--manual_dir", str(manual)])
    assert f"Prepared coil20/1.0.0 (train 144 examples) in {written}" in capsys.readouterr().out

    # Two of 20 objects: not a full grid, so labelled data.
    data = readers.load("coil20", data_dir=str(tmp_path))
    assert isinstance(data, LabelledData)
    assert data.factor_names == ("object", "pose") and data.factor_sizes == (20, 72)
    labels, table = np.asarray(data.labels), np.asarray(data.images)
    assert sorted(map(tuple, labels)) == [(o, p) for o in (2, 19) for p in range(72)]
    for row in (0, 77, 143):
        obj, pose = labels[row]
        np.testing.assert_allclose(table[row], block_mean(coil_png(obj + 1, pose, 1)), atol=0.5)


def rgbd_files(root, category, video, frame, size, missing_mask=False):
    """Writes one frame's crop, depth and mask files; returns (rgb, depth, mask)."""
    height, width = size
    rng = np.random.default_rng(frame)
    rgb = rng.integers(1, 256, (height, width, 3), dtype=np.uint8)
    depth = rng.integers(600, 900, (height, width), dtype=np.uint16)
    depth[0, :] = 0  # no reading
    mask = np.zeros((height, width), np.uint8)
    mask[2:-2, 3:-3] = 255
    stem = root / category / f"{category}_1" / f"{category}_1_{video}_{frame}"
    save_png(stem.with_name(stem.name + "_crop.png"), rgb)
    save_png(stem.with_name(stem.name + "_depthcrop.png"), depth)
    if not missing_mask:
        save_png(stem.with_name(stem.name + "_maskcrop.png"), mask)
    return rgb, depth, mask > 0


def test_rgbd_objects_rgb_and_depth(tmp_path):
    root = tmp_path / "manual" / "rgbd-dataset"
    kept = {}
    for category in rgbd.CATEGORIES:
        for video in rgbd.VIDEOS:
            for frame in (1, 2, 3, 4):
                size = (20 + frame, 30) if frame % 2 else (40, 24)
                missing = (category, video, frame) == ("apple", "2", 3)
                files = rgbd_files(root, category, video, frame, size, missing_mask=missing)
                kept[(category, video, frame)] = files
    builder = build(rgbd.Builder(data_dir=tmp_path), tmp_path / "manual")
    assert builder.info.splits["train"].num_examples == 51 * 3 * 4 - 1

    data = readers.from_builder("rgbd_objects", builder)
    depth = readers.from_builder("rgbd_objects_depth", builder)
    assert isinstance(data, LabelledData)
    assert data.factor_names == ("category", "video", "pose")
    assert data.factor_sizes == (51, 3, 36) and data.channels == 3 and depth.channels == 1
    labels = np.asarray(data.labels)
    np.testing.assert_array_equal(labels, np.asarray(depth.labels))
    # Four frames per video: pose = (frame - 1) * 36 // 4.
    assert sorted(set(labels[:, 2])) == [0, 9, 18, 27]
    target = (rgbd.CATEGORIES.index("pear"), rgbd.VIDEOS.index("4"), 18)
    row = int(np.flatnonzero((labels == target).all(axis=1))[0])
    rgb, raw_depth, mask = kept[("pear", "4", 3)]
    expected = images.resize(images.pad_square(rgb * mask[..., None]))
    np.testing.assert_array_equal(np.asarray(data.images)[row], expected)
    valid = mask & (raw_depth > 0)
    near, far = raw_depth[valid].min(), raw_depth[valid].max()
    nearness = np.where(valid, (float(far) - raw_depth) / (float(far) - near), 0.0)
    small = images.resize(images.pad_square(nearness[..., None].astype(np.float32)))
    np.testing.assert_allclose(np.asarray(depth.images)[row], small * 255, atol=0.5 + 1e-3)
