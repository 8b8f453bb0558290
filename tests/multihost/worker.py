"""One process of a multi-process group on this machine (run by test_multihost.py).

  python worker.py train OUT PRESET    trains configs/train_source.py:PRESET into OUT and
                                       saves this process's copy of every model it holds
                                       to OUT/process<i>.npz (key "<model>/<leaf>")
  python worker.py evaluate OUT        evaluates OUT/source/*/* into OUT/eval

The group comes from DRL_JAX_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID (drl_jax.runtime).
"""

import glob
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import load_config  # noqa: E402

from drl_jax import runtime  # noqa: E402
from drl_jax.data import registry  # noqa: E402
from drl_jax.evaluation import evaluate_models, results  # noqa: E402
from drl_jax.jobs import common  # noqa: E402
from drl_jax.jobs import train as train_job  # noqa: E402


def train(out: str, preset: str) -> None:
    config = load_config("train_source", preset)
    config.workdir = out
    state = train_job.run(config)
    held = {}
    for i, leaf in enumerate(jax.tree.leaves(state.params)):
        for shard in leaf.addressable_shards:
            start = shard.index[0].start or 0
            for offset, row in enumerate(np.asarray(shard.data)):
                held[f"{start + offset}/{i}"] = row
    np.savez(Path(out) / f"process{jax.process_index()}.npz", **held)


def evaluate_all(out: str) -> None:
    block = load_config("evaluate", "quick").eval
    block.metrics = ("omes", "mig")
    block.num_samples, block.num_train, block.omes_pairs_per_fov = 400, 300, 100
    model_dirs = sorted(glob.glob(f"{out}/source/*/*"))
    evaluate_models(
        model_dirs,
        registry.load("procedural_dsprites"),
        [f"{out}/eval/{Path(d).name}" for d in model_dirs],
        common.evaluation_settings(block),
    )
    results.write_tables(f"{out}/eval")


if __name__ == "__main__":
    runtime.initialize()
    if sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3])
    else:
        evaluate_all(sys.argv[2])
