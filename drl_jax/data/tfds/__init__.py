"""TFDS datasets without TensorFlow: builders for what the catalog lacks, readers for all.

Public API:
  load(name, data_dir=None) -> GridData | LabelledData (names: READERS)
  builder(name, data_dir=None): the TFDS builder behind a name
  DatasetNotPreparedError: raised by `load`, saying how to prepare the dataset
  IncompleteGridError: a grid dataset lacks or repeats FoV states
Preparing: `python -m drl_jax.data.tfds.prepare NAME` (prepare.py).
"""

from drl_jax.data.tfds.readers import READERS, DatasetNotPreparedError, builder, load
from drl_jax.data.tfds.tables import IncompleteGridError

__all__ = ["READERS", "DatasetNotPreparedError", "IncompleteGridError", "builder", "load"]
