"""The study job on a workdir of 400 synthetic metrics.json files: cold, rerun, one file changed.

  python benchmarks/bench_study.py [--models 20] [--transfers 10] [--keep DIR]

Writes, in a temporary workdir, 20 models (beta 1 and 2 x 10 seeds) x 10 transfers x
before/after metrics.json files in the evaluate job's layout (every metric, 10 latent
dimensions, 5 to 9 target FoVs, random values), then times `write_study`: cold (every file
read, every table and figure written), rerun with nothing changed (digests only), and
after one metrics.json changed (a full study again). Prints seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
from etils import epath

from drl_jax.report import write_study
from drl_jax.workdir import layout

ALPHAS = [f"{0.1 * i:.1f}" for i in range(11)]
LATENT_DIM = 10


def synthetic_metrics(rng, model_id, beta, seed, trained_on, dataset, fovs) -> dict:
    """One metrics.json in the evaluate job's layout, random scores in [0, 1]."""
    f, d = len(fovs), LATENT_DIM

    def per_fov():
        return rng.uniform(size=f).tolist()

    def by_fov():
        return dict(zip(fovs, per_fov(), strict=True))

    def matrix():
        return rng.uniform(size=(d, f)).tolist()

    return {
        "request": {
            "model": {
                "model_id": model_id,
                "architecture": "paper",
                "channels": 3,
                "latent_dim": d,
                "method": "ada_gvae",
                "hparams": {"beta": beta, "warmup_steps": 50_000.0},
                "seed": seed,
                "dataset": trained_on,
            },
            "checkpoint": {
                "folder": "/models",
                "which": "last",
                "step": 400_000,
                "fingerprint": "0" * 64,
            },
            "dataset": {"name": dataset, "prepared": "procedural", "channels": 3},
            "settings": {"num_samples": 15_000, "num_train": 10_000},
        },
        "versions": {"drl_jax": "0.1.0"},
        "omes": {
            **{
                p: dict(zip(ALPHAS, rng.uniform(size=11).tolist(), strict=True))
                for p in ("max", "avg")
            },
            "per_fov": {p: {a: by_fov() for a in ALPHAS} for p in ("max", "avg")},
            "os": {"max": by_fov(), "avg": by_fov()},
            "mes": {"max": by_fov(), "avg": by_fov()},
            "association": {fov: j for j, fov in enumerate(fovs)},
            "inactive": [d - 1],
            "n_pairs": {fov: 5_000 for fov in fovs},
        },
        "mig": {
            "mig": rng.uniform(),
            "mig_per_fov": per_fov(),
            "mutual_info": matrix(),
            "entropy": per_fov(),
        },
        "dci": {
            "dci_disentanglement": rng.uniform(),
            "dci_completeness": rng.uniform(),
            "dci_disentanglement_per_code": rng.uniform(size=d).tolist(),
            "dci_completeness_per_fov": per_fov(),
            "dci_informativeness_train": rng.uniform(),
            "dci_informativeness_test": rng.uniform(),
            "dci_informativeness_train_per_fov": per_fov(),
            "dci_informativeness_test_per_fov": per_fov(),
            "dci_importance": matrix(),
        },
        "sap": {"sap": rng.uniform(), "sap_per_fov": per_fov(), "sap_matrix": matrix()},
        "modularity": {
            "modularity": rng.uniform(),
            "modularity_per_code": rng.uniform(size=d).tolist(),
            "explicitness_train": rng.uniform(),
            "explicitness_test": rng.uniform(),
            "explicitness_test_per_fov": per_fov(),
        },
        "downstream": {
            **{f"{k}_{v}": rng.uniform() for k in ("gbt", "mlp") for v in ("full", "pruned")},
            **{f"{k}_{v}_per_fov": per_fov() for k in ("gbt", "mlp") for v in ("full", "pruned")},
            "pruned_dims": [[j] for j in range(f)],
        },
        "beta_vae": {"beta_vae_train": rng.uniform(), "beta_vae_eval": rng.uniform()},
        "factor_vae": {
            "factor_vae_train": rng.uniform(),
            "factor_vae_eval": rng.uniform(),
            "factor_vae_num_active_dims": d - 1,
        },
        "elbo": {
            "elbo": -100 * rng.uniform(),
            "reconstruction": 90 * rng.uniform(),
            "kl": 10 * rng.uniform(),
        },
        "seconds": {"omes": 0.05},
    }


def write_workdir(root: epath.Path, models: int, transfers: int) -> list[epath.Path]:
    """models x transfers x {before, after} metrics.json files; returns their paths."""
    rng = np.random.default_rng(0)
    paths = []
    for t in range(transfers):
        target = f"target{t}"
        fovs = [f"fov_{j}" for j in range(5 + t % 5)]
        for m in range(models):
            beta, seed = 1.0 + m % 2, m // 2
            model_id = f"ada_gvae_beta{beta:g}_seed{seed}"
            for stage in (layout.BEFORE, layout.AFTER):
                trained_on = "source" if stage == layout.BEFORE else target
                metrics = synthetic_metrics(rng, model_id, beta, seed, trained_on, target, fovs)
                path = layout.pair(root, "source", target).stage(model_id, stage)
                path.mkdir(parents=True, exist_ok=True)
                (path / "metrics.json").write_text(json.dumps(metrics, indent=2))
                paths.append(path / "metrics.json")
    return paths


def timed(workdir: epath.Path) -> tuple[float, bool]:
    start = time.perf_counter()
    result = write_study(workdir)
    return time.perf_counter() - start, result.up_to_date


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--transfers", type=int, default=10)
    parser.add_argument("--keep", default="", help="write the workdir here instead of a temp dir")
    args = parser.parse_args()
    root = epath.Path(args.keep or tempfile.mkdtemp(prefix="bench_study_"))
    paths = write_workdir(root, args.models, args.transfers)
    size = sum(p.stat().length for p in paths) / 2**20
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{len(paths)} metrics.json files ({size:.1f} MiB) in {root}")
    cold, _ = timed(root)
    rerun, up_to_date = timed(root)
    text = paths[0].read_text()
    paths[0].write_text(text.replace('"step": 400000', '"step": 400001'))
    changed, _ = timed(root)
    print(f"{'case':<40}{'seconds':>10}")
    print(f"{'cold (every table and figure)':<40}{cold:>10.2f}")
    print(f"{'rerun, nothing changed':<40}{rerun:>10.3f}  (up to date: {up_to_date})")
    print(f"{'rerun, one metrics.json changed':<40}{changed:>10.2f}")


if __name__ == "__main__":
    main()
