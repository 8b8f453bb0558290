"""TFDS dataset `rgbd_objects` (builder in rgbd_objects_dataset_builder.py)."""
