"""Every dataset by name: its FoVs, how it is built, and what to do when it is missing.

A name is a base (a procedural renderer or a TFDS dataset read by
`drl_jax.data.tfds.readers`) plus a tuple of variants from `drl_jax.data.variants`
(docs/datasets.md). `describe(name)` gives FoV names, sizes and channels without
loading any image, so a job can check its inputs before it starts working;
`load(name)` builds the dataset on the device.

  procedural_dsprites   shape 3, scale 6, orientation 40, pos_x 32, pos_y 32; binary
  procedural_shapes3d   floor_hue 10, wall_hue 10, object_hue 10, scale 8, shape 4,
                        orientation 15; RGB ray-cast
  (procedural_)color_dsprites, noisy_dsprites, noisy_color_dsprites, scream_dsprites:
                        + color 7 first where coloured; RGB
  shapes3d, mpi3d_toy|realistic|real, isaac3d, cars3d, coil100, coil20,
  coil100_augmented(_binary), rgbd_objects(_depth), smallnorb: prepared TFDS datasets
  (see README, "Real datasets").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from drl_jax.data import variants
from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData, GroundTruthData, from_renderer
from drl_jax.data.procedural import dsprites, shapes3d
from drl_jax.errors import UsageError

Variant = Callable[[GridData], GridData]


@dataclasses.dataclass(frozen=True)
class Description:
    """What a dataset holds, known without loading it."""

    name: str
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    channels: int
    is_grid: bool


def _procedural_dsprites() -> GridData:
    space = FactorSpace(dsprites.FACTOR_NAMES, dsprites.FACTOR_SIZES)
    return from_renderer("procedural_dsprites", space, 1, dsprites.render)


def _procedural_shapes3d() -> GridData:
    space = FactorSpace(shapes3d.FACTOR_NAMES, shapes3d.FACTOR_SIZES)
    return from_renderer("procedural_shapes3d", space, 3, shapes3d.render)


PROCEDURAL = {
    "procedural_dsprites": _procedural_dsprites,
    "procedural_shapes3d": _procedural_shapes3d,
}

# Variants of a dSprites base, by name prefix (docs/datasets.md#variants).
_DSPRITES_VARIANTS: dict[str, tuple[Variant, ...]] = {
    "dsprites": (),
    "color_dsprites": (variants.color,),
    "noisy_dsprites": (variants.noisy,),
    "noisy_color_dsprites": (variants.color, variants.noisy),
    "scream_dsprites": ("scream",),
}

# name -> (base, variants). A base is a PROCEDURAL key or a TFDS reader name.
DATASETS: dict[str, tuple[str, tuple]] = {
    **{name: ("dsprites", chain) for name, chain in _DSPRITES_VARIANTS.items()},
    **{
        f"procedural_{name}": ("procedural_dsprites", chain)
        for name, chain in _DSPRITES_VARIANTS.items()
    },
    "procedural_shapes3d": ("procedural_shapes3d", ()),
    **{
        name: (name, ())
        for name in (
            "shapes3d",
            "mpi3d_toy",
            "mpi3d_realistic",
            "mpi3d_real",
            "isaac3d",
            "coil100",
            "coil100_augmented",
            "coil100_augmented_binary",
            "rgbd_objects",
            "rgbd_objects_depth",
            "smallnorb",
            "coil20",
            "cars3d",
        )
    },
}


def _entry(name: str) -> tuple[str, tuple]:
    if name not in DATASETS:
        raise UsageError(
            f"Unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}."
        )
    return DATASETS[name]


def _apply(data: GridData, chain: tuple, background: str) -> GridData:
    for variant in chain:
        if variant == "scream":
            picture = variants.load_background(background) if background else None
            data = variants.scream(data, picture)
        else:
            data = variant(data)
    return data


def describe(name: str, data_dir: str | None = None) -> Description:
    """FoV names and sizes, channels and grid-ness of `name`, without loading images.

    Raises:
      UsageError: unknown name, or (a subclass) the dataset is not prepared.
    """
    base, chain = _entry(name)
    if base in PROCEDURAL:
        stub, is_grid = PROCEDURAL[base](), True
    else:
        from drl_jax.data.tfds import readers

        space, channels, is_grid = readers.describe(base, data_dir)
        stub = GridData({}, base, space, channels, render=None)  # no images: only the FoVs
    stub = _apply(stub, chain, "")
    return Description(name, stub.space.names, stub.space.sizes, stub.channels, is_grid)


def record(name: str, data_dir: str | None = None, background: str = "") -> dict[str, str]:
    """What identifies the images of dataset `name`, for the request record of a result:
    its name, the prepared TFDS dataset and version ('procedural' for the renderers), the
    data dir (recorded, not compared) and a Scream variant's background."""
    base, chain = _entry(name)
    entry = {"name": name}
    if base in PROCEDURAL:
        entry["prepared"] = "procedural"
    else:
        from drl_jax.data.tfds import readers

        dataset_builder = readers.builder(base, data_dir)
        entry |= {
            "prepared": dataset_builder.info.full_name,
            "data_dir": str(dataset_builder.data_dir),
        }
    if "scream" in chain:
        entry["background"] = background or "built-in"
    return entry


def load(name: str, *, data_dir: str | None = None, background: str = "") -> GroundTruthData:
    """Builds dataset `name` on the device.

    Args:
      name: a key of DATASETS.
      data_dir: TFDS data dir for prepared datasets (None: $TFDS_DATA_DIR or
        ~/tensorflow_datasets); unused by procedural ones.
      background: image file for Scream variants ('' = the built-in texture).
    """
    base, chain = _entry(name)
    if base in PROCEDURAL:
        data = PROCEDURAL[base]()
    else:
        from drl_jax.data.tfds import readers

        data = readers.load(base, data_dir)
    if chain:
        data = _apply(data, chain, background)
    return dataclasses.replace(data, name=name)
