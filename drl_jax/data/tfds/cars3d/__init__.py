"""TFDS dataset `cars3d` (builder in cars3d_dataset_builder.py)."""
