"""Prepares a dataset for `drl_jax.data.tfds.load`, as ArrayRecord, without TensorFlow.

    python -m drl_jax.data.tfds.prepare NAME [--data_dir D] [--manual_dir M]
        [--register_checksums]

NAME is a `load` name (`python -m drl_jax.data.tfds.prepare --help` lists them);
variants share their base dataset (rgbd_objects_depth prepares rgbd_objects).
Downloads what can be downloaded, reads hand-downloaded files from M (default
D/downloads/manual), writes D/<dataset>/<version> and prints where.
"""

from __future__ import annotations

import argparse

import tensorflow_datasets as tfds

from drl_jax.data.tfds import readers


def main(argv: list[str] | None = None) -> str:
    """Runs the CLI; returns the directory written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(readers.READERS))
    parser.add_argument(
        "--data_dir", default=None, help="default: $TFDS_DATA_DIR or ~/tensorflow_datasets"
    )
    parser.add_argument("--manual_dir", default=None, help="default: DATA_DIR/downloads/manual")
    parser.add_argument(
        "--register_checksums",
        action="store_true",
        help="record the downloads' sizes and sha256 in the builder's checksums.tsv",
    )
    args = parser.parse_args(argv)
    builder = readers.builder(args.name, args.data_dir)
    builder.download_and_prepare(
        file_format="array_record",
        download_config=tfds.download.DownloadConfig(
            manual_dir=args.manual_dir, register_checksums=args.register_checksums
        ),
    )
    splits = ", ".join(
        f"{split} {info.num_examples:,}" for split, info in builder.info.splits.items()
    )
    print(f"Prepared {builder.info.full_name} ({splits} examples) in {builder.data_dir}")
    return builder.data_dir


if __name__ == "__main__":
    main()
