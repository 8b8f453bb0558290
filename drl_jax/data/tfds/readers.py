"""Prepared TFDS datasets -> `GridData` / `LabelledData`, without TensorFlow.

`load(name)` opens the prepared ArrayRecord files through TFDS `data_source`,
streams every row into a host uint8 table (64 x 64, area-resampled, in
`FactorSpace` order for grids) and puts it on the device. Grids must hold every
FoV state exactly once; datasets that are grids only when complete (COIL,
smallNORB) fall back to labelled data with mined pairs when files are missing.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import tensorflow_datasets as tfds

from drl_jax.data import variants
from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData, GroundTruthData, from_labels, from_table
from drl_jax.data.tfds import catalog, coil_augment, convert, tables
from drl_jax.data.tfds.cars3d import cars3d_dataset_builder as cars3d
from drl_jax.data.tfds.coil20 import coil20_dataset_builder as coil20
from drl_jax.data.tfds.coil100_augmented import coil100_augmented_dataset_builder as coil100_aug
from drl_jax.data.tfds.isaac3d import isaac3d_dataset_builder as isaac3d
from drl_jax.data.tfds.mpi3d import mpi3d_dataset_builder as mpi3d
from drl_jax.data.tfds.rgbd_objects import rgbd_objects_dataset_builder as rgbd
from drl_jax.errors import UsageError


class DatasetNotPreparedError(UsageError):
    """A dataset is not prepared (as ArrayRecord) in the data dir; the message says how to."""


def _grid(name: str, space: FactorSpace, stream: tables.Stream) -> GridData:
    return from_table(name, space, stream.grid(space))


def _grid_or_labels(name: str, space: FactorSpace, stream: tables.Stream) -> GroundTruthData:
    images, labels = stream.rows()
    order = tables.state_order(space, labels)
    if order is None:
        return from_labels(name, images, labels, space.names, space.sizes)
    return from_table(name, space, images[order])


def _labels(name: str, space: FactorSpace, stream: tables.Stream) -> GroundTruthData:
    images, labels = stream.rows()
    return from_labels(name, images, labels, space.names, space.sizes)


def _coil_augmented(name: str, space: FactorSpace, stream: tables.Stream) -> GridData:
    return coil_augment.from_base(name, space, stream.grid(space))


def _coil_augmented_binary(name: str, space: FactorSpace, stream: tables.Stream) -> GridData:
    return variants.binary(_coil_augmented(name.removesuffix("_binary"), space, stream))


# assemble(name, space, stream) -> the dataset.
Assemble = Callable[[str, FactorSpace, tables.Stream], GroundTruthData]


@dataclasses.dataclass(frozen=True)
class Reader:
    """How one `load` name reads a TFDS dataset.

    Attributes:
      builder: the TFDS builder class (ours, or a TF-free twin of the catalog's).
      fovs: ClassLabel feature -> FoV name, in FactorSpace order; sizes come from
        the features' num_classes.
      convert: example (Image features as bytes) -> uint8 image [H, W, C].
      assemble: builds the dataset from the FoV space and the row stream.
      channels: channels of the images `load` returns.
      config: the builder config, if any.
      splits: the splits read, concatenated.
    """

    builder: type[tfds.core.DatasetBuilder]
    fovs: Mapping[str, str]
    convert: tables.Convert
    assemble: Assemble = _grid
    channels: int = 3
    config: str | None = None
    splits: tuple[str, ...] = ("train",)


_RGB = functools.partial(convert.to_64, channels=3)
_GRAY = functools.partial(convert.to_64, channels=1)
_MPI3D_FOVS = {name: name for name in mpi3d.FOV_NAMES}
_COIL_BASE_FOVS = {"object": "object", "pose": "pose"}
_RGBD_FOVS = {"category": "category", "video": "video", "pose": "pose"}

READERS: dict[str, Reader] = {
    "dsprites": Reader(
        catalog.Dsprites,
        {
            "label_shape": "shape",
            "label_scale": "scale",
            "label_orientation": "orientation",
            "label_x_position": "pos_x",
            "label_y_position": "pos_y",
        },
        functools.partial(convert.to_64, channels=1, scale=255),  # stored as 0/1
        channels=1,
    ),
    "shapes3d": Reader(
        catalog.Shapes3d,
        {
            "label_floor_hue": "floor_hue",
            "label_wall_hue": "wall_hue",
            "label_object_hue": "object_hue",
            "label_scale": "scale",
            "label_shape": "shape",
            "label_orientation": "orientation",
        },
        _RGB,
    ),
    "coil100": Reader(
        catalog.Coil100, {"object_id": "object", "angle_label": "angle"}, _RGB, _grid_or_labels
    ),
    "smallnorb": Reader(
        catalog.Smallnorb,
        {
            "label_category": "category",
            "instance": "instance",
            "label_elevation": "elevation",
            "label_azimuth": "azimuth",
            "label_lighting": "lighting",
        },
        _GRAY,
        _grid_or_labels,
        channels=1,
        splits=("train", "test"),
    ),
    "mpi3d_toy": Reader(mpi3d.Builder, _MPI3D_FOVS, _RGB, config="toy"),
    "mpi3d_realistic": Reader(mpi3d.Builder, _MPI3D_FOVS, _RGB, config="realistic"),
    "mpi3d_real": Reader(mpi3d.Builder, _MPI3D_FOVS, _RGB, config="real"),
    "isaac3d": Reader(isaac3d.Builder, {name: name for name in isaac3d.FOV_NAMES}, _RGB),
    "cars3d": Reader(cars3d.Builder, {name: name for name in cars3d.FOV_NAMES}, _RGB),
    "coil20": Reader(coil20.Builder, _COIL_BASE_FOVS, _GRAY, _grid_or_labels, channels=1),
    "coil100_augmented": Reader(
        coil100_aug.Builder,
        _COIL_BASE_FOVS,
        functools.partial(convert.unresized, channels=3),
        _coil_augmented,
    ),
    "coil100_augmented_binary": Reader(
        coil100_aug.Builder,
        _COIL_BASE_FOVS,
        functools.partial(convert.unresized, channels=3),
        _coil_augmented_binary,
        channels=1,
    ),
    "rgbd_objects": Reader(rgbd.Builder, _RGBD_FOVS, convert.masked_rgb, _labels),
    "rgbd_objects_depth": Reader(
        rgbd.Builder, _RGBD_FOVS, convert.masked_depth, _labels, channels=1
    ),
}


def load(name: str, data_dir: str | None = None) -> GroundTruthData:
    """Reads a prepared dataset onto the device.

    Args:
      name: one of `READERS` (e.g. "shapes3d", "mpi3d_real", "coil100_augmented").
      data_dir: TFDS data dir (local or gs://); None means $TFDS_DATA_DIR, else
        ~/tensorflow_datasets.

    Returns:
      GridData with a uint8 table [num_states, 64, 64, C] (or Coil100-Augmented's
      renderer), or LabelledData for data that is not a full grid.

    Raises:
      DatasetNotPreparedError: the dataset is not prepared as ArrayRecord in data_dir.
      tables.IncompleteGridError: a grid dataset lacks or repeats FoV states.
    """
    return from_builder(name, builder(name, data_dir))


def describe(name: str, data_dir: str | None = None) -> tuple[FactorSpace, int, bool]:
    """(FoV space, channels, whether a full grid) of a prepared dataset, reading no image.

    Raises:
      DatasetNotPreparedError: as `load`.
    """
    _check_prepared(name, builder(name, data_dir))
    return declared(name, data_dir)


def declared(name: str, data_dir: str | None = None) -> tuple[FactorSpace, int, bool]:
    """`describe`'s answer from the builder's declared features: needs no prepared data."""
    reader = _reader(name)
    space = _space(reader, builder(name, data_dir))
    if reader.assemble in (_coil_augmented, _coil_augmented_binary):
        space = coil_augment.augmented_space(space)
    return space, reader.channels, reader.assemble is not _labels


def _space(reader: Reader, dataset_builder: tfds.core.DatasetBuilder) -> FactorSpace:
    features = dataset_builder.info.features
    return FactorSpace(
        tuple(reader.fovs.values()), tuple(features[key].num_classes for key in reader.fovs)
    )


def builder(name: str, data_dir: str | None = None) -> tfds.core.DatasetBuilder:
    """The TFDS builder behind `load(name)`, for preparing or inspecting it."""
    reader = _reader(name)
    return reader.builder(data_dir=data_dir, config=reader.config)


def from_builder(name: str, dataset_builder: tfds.core.DatasetBuilder) -> GroundTruthData:
    """`load` for a given builder instance (e.g. one with a custom config or data dir)."""
    reader = _reader(name)
    _check_prepared(name, dataset_builder)
    space = _space(reader, dataset_builder)
    stream = tables.Stream(
        tables.open_splits(dataset_builder, reader.splits),
        tuple(reader.fovs),
        reader.convert,
        f"{name} ({dataset_builder.data_dir})",
    )
    return reader.assemble(name, space, stream)


def _reader(name: str) -> Reader:
    if name not in READERS:
        raise UsageError(f"Unknown dataset {name!r}; known: {', '.join(READERS)}.")
    return READERS[name]


def _check_prepared(name: str, dataset_builder: tfds.core.DatasetBuilder) -> None:
    command = (
        f"python -m drl_jax.data.tfds.prepare {name} --data_dir {dataset_builder.data_dir_root}"
    )
    if not dataset_builder.is_prepared():
        root = dataset_builder.data_dir_root
        instructions = dataset_builder.MANUAL_DOWNLOAD_INSTRUCTIONS
        text = (
            f"Dataset {name!r} is not prepared: no {dataset_builder.info.full_name} in data dir "
            f"{root} (looked for {dataset_builder.data_dir}; the data dir is the data_dir "
            "argument, else $TFDS_DATA_DIR, else ~/tensorflow_datasets). Prepare it with: "
            + command
            + (" [--manual_dir M]." if instructions else ".")
        )
        if instructions:
            text += (
                f" Files downloaded by hand go in M (default {root}/downloads/manual): "
                + " ".join(instructions.split())
            )
        if isinstance(dataset_builder, catalog.TWINS):
            text += (
                f" Or, with TensorFlow installed: tfds build {dataset_builder.name} --data_dir "
                f"{root} --file_format array_record."
            )
        raise DatasetNotPreparedError(text)
    file_format = dataset_builder.info.file_format
    if file_format != tfds.core.file_adapters.FileFormat.ARRAY_RECORD:
        raise DatasetNotPreparedError(
            f"Dataset {name!r} in {dataset_builder.data_dir} was prepared as "
            f"{getattr(file_format, 'value', file_format)}, which cannot be read without "
            "TensorFlow. Delete that folder and prepare it as ArrayRecord with: "
            f"{command} (or convert it, with TensorFlow installed: tfds convert_format "
            f"--dataset_version_dir={dataset_builder.data_dir} --out_file_format=array_record)."
        )
