"""TFDS dataset `mpi3d` (builder in mpi3d_dataset_builder.py)."""
