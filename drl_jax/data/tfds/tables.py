"""Streams a prepared TFDS dataset into a preallocated host uint8 array.

Rows come from TFDS `data_source` (ArrayRecord, random access, no TensorFlow) a
chunk at a time as raw records, parsed with TFDS's TensorFlow-free copy of the
`tf.train.Example` proto (its generic numpy decoding costs far more per row);
worker threads convert each example to a uint8 image (PIL decodes without the
GIL), which is written straight into its place: row order for labelled data,
FoV-state order (`FactorSpace` index, row-major) for grids. No float copy of a
dataset is ever made (the reference code cast Shapes3D to float32 in RAM;
docs/transfer.md#differences-from-the-reference-code). Shapes: N rows, F FoVs, H W C image.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.proto import tf_example_pb2
from tqdm import tqdm

from drl_jax.data.factors import FactorSpace

# One TFDS example (feature name -> bytes, int or float; images as encoded bytes)
# -> uint8 [H, W, C].
Convert = Callable[[Mapping[str, Any]], np.ndarray]

_CHUNK = 1024


class IncompleteGridError(ValueError):
    """A dataset that should hold every FoV state exactly once does not."""


def open_splits(builder: tfds.core.DatasetBuilder, splits: Sequence[str]) -> list:
    """Random-access sources of raw records over `splits`."""
    raw = tfds.decode.DeserializeMethod.RAW_BYTES
    return [builder.as_data_source(split=split, deserialize_method=raw) for split in splits]


def parse(record: bytes) -> dict[str, Any]:
    """A serialized tf.train.Example -> {feature: value}, one-element lists unwrapped."""
    features = tf_example_pb2.Example.FromString(record).features.feature
    example = {}
    for key, feature in features.items():
        values = getattr(feature, feature.WhichOneof("kind")).value
        example[key] = values[0] if len(values) == 1 else tuple(values)
    return example


@dataclasses.dataclass(frozen=True)
class Stream:
    """The rows of some TFDS splits, converted to images and FoV classes.

    Attributes:
      sources: TFDS raw-record data sources (`open_splits`), read one after the other.
      fovs: the ClassLabel features holding the FoV classes, in FactorSpace order.
      convert: example -> uint8 image [H, W, C], the same shape for every row.
      description: what is read (dataset name and directory), for progress and errors.
    """

    sources: Sequence[Any]
    fovs: Sequence[str]
    convert: Convert
    description: str

    @property
    def num_rows(self) -> int:
        return sum(len(source) for source in self.sources)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields (images uint8 [n, H, W, C], FoV classes int64 [n, F]) in source order."""
        progress = tqdm(total=self.num_rows, desc=f"Reading {self.description}", unit=" images")
        with progress, concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
            for source in self.sources:
                for start in range(0, len(source), _CHUNK):
                    records = source.__getitems__(range(start, min(start + _CHUNK, len(source))))
                    examples = [parse(record) for record in records]
                    images = np.stack(list(pool.map(self.convert, examples)))
                    labels = np.array([[ex[fov] for fov in self.fovs] for ex in examples], np.int64)
                    progress.update(len(examples))
                    yield images, labels

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """All rows: (images uint8 [N, H, W, C], FoV classes int64 [N, F])."""
        images, labels, start = None, np.empty((self.num_rows, len(self.fovs)), np.int64), 0
        for chunk, chunk_labels in self.chunks():
            if images is None:
                images = np.empty((self.num_rows, *chunk.shape[1:]), np.uint8)
            images[start : start + len(chunk)] = chunk
            labels[start : start + len(chunk)] = chunk_labels
            start += len(chunk)
        if images is None:
            raise ValueError(f"{self.description} has no rows.")
        return images, labels

    def grid(self, space: FactorSpace) -> np.ndarray:
        """The image table uint8 [space.num_states, H, W, C]; row i shows state `space.factors(i)`.

        Raises:
          IncompleteGridError: unless every FoV state occurs exactly once.
        """
        if self.num_rows != space.num_states:
            raise IncompleteGridError(
                f"{self.description} has {self.num_rows:,} images but its FoV grid "
                f"{_grid_text(space)} has {space.num_states:,} states: it is not the complete "
                "dataset. Prepare it again from the full source files."
            )
        table, counts = None, np.zeros(space.num_states, np.int64)
        strides = np.asarray(space.strides, np.int64)
        for images, labels in self.chunks():
            if table is None:
                table = np.empty((space.num_states, *images.shape[1:]), np.uint8)
            index = labels @ strides
            table[index] = images
            np.add.at(counts, index, 1)
        if np.any(counts != 1):
            raise IncompleteGridError(f"{self.description}: {gap_text(space, counts)}")
        return table


def state_order(space: FactorSpace, labels: np.ndarray) -> np.ndarray | None:
    """Row of each FoV state, int64 [space.num_states], or None unless each occurs exactly once."""
    index = np.asarray(labels, np.int64) @ np.asarray(space.strides, np.int64)
    counts = np.bincount(index, minlength=space.num_states)
    if len(index) != space.num_states or np.any(counts != 1):
        return None
    order = np.empty(space.num_states, np.int64)
    order[index] = np.arange(len(index))
    return order


def gap_text(space: FactorSpace, counts: np.ndarray) -> str:
    """Says which FoV states have no image or several, from per-state counts int [num_states]."""
    missing, repeated = np.flatnonzero(counts == 0), np.flatnonzero(counts > 1)
    text = (
        f"of the {space.num_states:,} FoV states of {_grid_text(space)}, {len(missing):,} have "
        f"no image and {len(repeated):,} have more than one"
    )
    for what, states in (("missing", missing), ("repeated", repeated)):
        if len(states):
            classes = np.asarray(space.factors(int(states[0])))
            state = ", ".join(f"{n}={c}" for n, c in zip(space.names, classes, strict=True))
            text += f"; first {what}: {state}"
    return text + "."


def _grid_text(space: FactorSpace) -> str:
    return "(" + ", ".join(f"{n} {s}" for n, s in zip(space.names, space.sizes, strict=True)) + ")"
