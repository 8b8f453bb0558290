"""TFDS dataset `coil100_augmented` (builder in coil100_augmented_dataset_builder.py)."""
