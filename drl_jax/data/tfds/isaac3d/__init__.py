"""TFDS dataset `isaac3d` (builder in isaac3d_dataset_builder.py)."""
