"""TFDS dataset `coil20` (builder in coil20_dataset_builder.py)."""
