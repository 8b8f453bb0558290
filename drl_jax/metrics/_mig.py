"""Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

As disentanglement_lib's `discrete_mig` (Locatello et al. 2019 defaults,
docs/method.md#mig): each code dimension is discretised into 20 equal-width bins, the
discrete mutual information I(z_i; v_j) with every FoV is estimated from counts,
and for each FoV the gap between its two most informative dimensions is divided
by the FoV's entropy H(v_j). MIG is the mean over FoVs.

Departures from disentanglement_lib: codes are [N, d] (not transposed); a FoV
with one observed class (H = 0, where dlib divides by zero) and a representation
with a single dimension (no second-best dimension) raise ValueError.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from drl_jax.metrics import info

NUM_BINS = 20


def mig(
    codes: ArrayLike, factors: ArrayLike, *, num_bins: int = NUM_BINS
) -> dict[str, float | list]:
    """Mutual Information Gap of codes with respect to FoVs.

    >>> import numpy as np
    >>> grid = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    >>> factors = np.stack(grid, axis=-1).reshape(-1, 2)
    >>> round(mig(factors.astype(float), factors)["mig"], 6)
    1.0

    Args:
      codes: float [N, d] representations (e.g. encoder means), d >= 2.
      factors: int [N, F] FoV classes of the same N samples.
      num_bins: equal-width bins per code dimension.

    Returns:
      `mig`: mean over FoVs of (I_top1 - I_top2) / H(v_j), in [0, 1];
      `mig_per_fov`: F values; `mutual_info`: [d][F] I(z_i; v_j) in nats;
      `entropy`: F values H(v_j) in nats.
    """
    codes, factors = info.check_codes_factors(codes, factors)
    if codes.shape[1] < 2:
        raise ValueError(f"MIG needs at least 2 code dimensions, got codes {codes.shape}.")
    entropy = info.entropy(factors)
    if np.any(entropy == 0):
        constant = [int(j) for j in np.flatnonzero(entropy == 0)]
        raise ValueError(
            f"MIG is undefined for FoVs with a single observed class (zero entropy): FoV "
            f"columns {constant} of factors {factors.shape}."
        )
    mutual_info = info.mutual_info(info.discretize(codes, num_bins), factors)  # [d, F]
    top = np.sort(mutual_info, axis=0)
    per_fov = (top[-1] - top[-2]) / entropy
    return {
        "mig": float(per_fov.mean()),
        "mig_per_fov": per_fov.tolist(),
        "mutual_info": mutual_info.tolist(),
        "entropy": entropy.tolist(),
    }
