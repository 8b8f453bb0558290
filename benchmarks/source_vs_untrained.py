"""Are the source models disentangled on their own data? Trained vs untrained encoders.

  python benchmarks/source_vs_untrained.py --workdir WORKDIR [--dataset procedural_dsprites]
      [--num_samples 3000]

Evaluates every source model of WORKDIR/source/<dataset>/ on that dataset, and the same
models at initialisation (same architecture and seed, step 0), with OMES, MIG and DCI on
the same samples; prints one row per model and the means. Outputs go to
WORKDIR/source_check/ (the trained and untrained models' metrics.json).
"""

from __future__ import annotations

import argparse
import glob

import jax
import numpy as np
from etils import epath

from drl_jax.data import registry
from drl_jax.evaluation import EvaluationSettings, evaluate_models
from drl_jax.metrics import MetricOptions
from drl_jax.models.card import read_card, write_card
from drl_jax.models.methods import get_method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train.state import create_sweep_state, make_optimizer


def write_untrained(cards, folders) -> None:
    """Step-0 checkpoints of the cards' models (their seeds' initial parameters)."""
    method = get_method(cards[0].method)
    keys = np.stack([jax.random.key_data(jax.random.key(card.seed)) for card in cards])
    hparams = {name: np.array([card.hparams[name] for card in cards]) for name in cards[0].hparams}
    state = create_sweep_state(
        keys, cards[0].vae(), method, make_optimizer(1e-4, 1.0), hparams, cards[0].image_shape
    )
    for card, folder in zip(cards, folders, strict=True):
        write_card(folder, card)
    checkpoints = ckpt.ModelCheckpoints(folders, keep=1)
    checkpoints.save(state)
    checkpoints.wait()
    checkpoints.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--dataset", default="procedural_dsprites")
    parser.add_argument("--num_samples", type=int, default=3_000)
    args = parser.parse_args()
    root = epath.Path(args.workdir)
    trained = [epath.Path(d) for d in sorted(glob.glob(f"{root}/source/{args.dataset}/*"))]
    if not trained:
        raise SystemExit(f"no source models in {root}/source/{args.dataset}/")
    cards = [read_card(d) for d in trained]
    out = root / "source_check"
    untrained = [out / "untrained_models" / card.model_id for card in cards]
    if not all((d / ckpt.LAST).exists() for d in untrained):
        write_untrained(cards, untrained)
    settings = EvaluationSettings(
        metrics=("omes", "mig", "dci"),
        num_samples=args.num_samples,
        num_train=args.num_samples * 2 // 3,
        omes_pairs_per_fov=1_000,
        options=MetricOptions(gbt_backend="lightgbm"),
    )
    data = registry.load(args.dataset)
    rows = {}
    for name, folders in (("trained", trained), ("untrained", untrained)):
        results = evaluate_models(
            folders, data, [out / name / card.model_id for card in cards], settings,
            description=name,
        ).metrics  # fmt: skip
        rows[name] = [
            (r["omes"]["max"]["0.5"], r["omes"]["avg"]["0.5"], r["mig"]["mig"],
             r["dci"]["dci_disentanglement"])
            for r in results
        ]  # fmt: skip
    print(f"{'model':<28}{'':<10}{'OMES max':>9}{'OMES avg':>9}{'MIG':>7}{'DCI-D':>7}")
    for name, values in rows.items():
        for card, row in zip(cards, values, strict=True):
            print(f"{card.model_id:<28}{name:<10}" + "".join(f"{v:>9.3f}" for v in row[:2])
                  + "".join(f"{v:>7.3f}" for v in row[2:]))  # fmt: skip
    for name, values in rows.items():
        mean = np.mean(values, axis=0)
        print(f"{'mean':<28}{name:<10}" + "".join(f"{v:>9.3f}" for v in mean[:2])
              + "".join(f"{v:>7.3f}" for v in mean[2:]))  # fmt: skip


if __name__ == "__main__":
    main()
