"""Ground-truth datasets by name: images with known FoVs, sampled inside jitted code.

>>> import jax
>>> from drl_jax import data
>>> data.describe("procedural_dsprites").factor_sizes
(3, 6, 40, 32, 32)
>>> images, factors = data.load("procedural_dsprites").sample(jax.random.key(0), 4)
>>> images.shape, factors.shape
((4, 64, 64, 1), (4, 5))
"""

from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import GridData, LabelledData
from drl_jax.data.registry import DATASETS, Description, describe, load

__all__ = ["DATASETS", "Description", "FactorSpace", "GridData", "LabelledData", "describe", "load"]
