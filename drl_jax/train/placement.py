"""Where a sweep's arrays live across devices and hosts, and which process owns which model.

A sweep state's leaves are [M, ...], split over the mesh's model axis. In a
multi-host run each model is owned by the process holding its replica 0: that
process writes the model's logs, images and card.
"""

from __future__ import annotations

import jax
import numpy as np

from drl_jax.train.state import TrainState


def owned_models(sharding: jax.sharding.Sharding, num_models: int) -> list[int]:
    """Indices of the models whose replica 0 lives on this process's devices.

    `sharding` is that of a sweep state's leaves ([M, ...], split over the model
    axis); in a single process every model is owned.
    """
    probe = jax.make_array_from_callback(
        (num_models,), sharding, lambda index: np.arange(num_models)[index]
    )
    owned = {
        int(i) for shard in probe.addressable_shards if shard.replica_id == 0 for i in shard.data
    }
    return sorted(owned)


def local_models(state: TrainState) -> dict[int, TrainState]:
    """This process's owned models of a stacked state [M, ...], as host single-model states."""
    rows: dict[int, list[np.ndarray]] = {}
    leaves, treedef = jax.tree.flatten(state)
    for leaf in leaves:
        for shard in leaf.addressable_shards:
            if shard.replica_id:
                continue
            start = shard.index[0].start or 0
            for offset, row in enumerate(np.asarray(shard.data)):
                rows.setdefault(start + offset, []).append(row)
    return {m: jax.tree.unflatten(treedef, row) for m, row in sorted(rows.items())}


def place(tree, sharding: jax.sharding.Sharding):
    """A pytree of arrays (the same on every process) as global arrays with `sharding`."""
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def one(x):
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)
