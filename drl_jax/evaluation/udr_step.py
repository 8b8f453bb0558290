"""UDR across the models of one evaluation: the seeds of one setting ranked against each other.

UDR (Duan et al., ICLR 2020; `drl_jax.metrics.udr`) scores a model by how well the
other models of the same setting, which differ only in their seed, agree with its
code. After every model's own metrics are written, the models evaluated together
are grouped by setting: the dataset they were trained on, architecture, latent size,
method and hyper-parameters, evaluated on the same dataset with the same settings
(so they encoded the same inputs). Each group's mean codes (representations.npz) and
per-dimension KL (metrics.json's `udr.kl_per_dim`, from encoding) go into one `udr`
call, and each model's metrics.json gets under `udr`: its `score`, the `group` it was
ranked in (model ids with their checkpoint fingerprints), the `options`, its kept
dimensions and its row of pair scores. A group of one model gets no score, and its
metrics.json says why. A group whose members and options are those recorded is left
as it is on a rerun. In a multi-host run process 0 ranks, after every model is written.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from etils import epath

from drl_jax.evaluation import representations
from drl_jax.metrics import MetricOptions, udr
from drl_jax.workdir import layout, read_json, write_json

ALONE = "a group of one model: UDR compares the seeds of one setting, and this one has no other"


def setting(request: dict[str, Any]) -> str:
    """What the models UDR ranks together share, as a canonical string."""
    model = request["model"]
    shared = {key: model[key] for key in ("dataset", "architecture", "latent_dim", "method")}
    shared |= {"hparams": model["hparams"], "channels": model["channels"]}
    shared |= {"evaluated_on": request["dataset"], "settings": request["settings"]}
    return json.dumps(shared, sort_keys=True)


def rank(out_dirs: Sequence[epath.PathLike], options: MetricOptions) -> int:
    """Writes the UDR of every model evaluated in `out_dirs`; returns how many groups it
    ranked (groups already ranked as recorded are not counted)."""
    results = {epath.Path(d): read_json(epath.Path(d) / layout.METRICS) for d in out_dirs}
    groups: dict[str, list[epath.Path]] = defaultdict(list)
    for folder, metrics in results.items():
        if "udr" in metrics:
            groups[setting(metrics["request"])].append(folder)
    chosen = {"correlation": options.udr_correlation, "kl_threshold": options.udr_kl_threshold}
    ranked = 0
    for members in groups.values():
        group = [
            {
                "model_id": results[f]["request"]["model"]["model_id"],
                "fingerprint": results[f]["request"]["checkpoint"]["fingerprint"],
            }
            for f in members
        ]
        recorded = [results[f]["udr"] for f in members]
        if all(r.get("group") == group and r.get("options") == chosen for r in recorded):
            continue
        ranked += 1
        entries = _scores(members, recorded, chosen)
        for folder, entry in zip(members, entries, strict=True):
            results[folder]["udr"] = {**entry, "group": group, "options": chosen}
            write_json(folder / layout.METRICS, results[folder])
    return ranked


def _scores(members, recorded, chosen) -> list[dict[str, Any]]:
    """Each member's UDR entry (without group and options)."""
    kl = [r["kl_per_dim"] for r in recorded]
    if len(members) == 1:
        return [{"kl_per_dim": kl[0], "score": None, "note": ALONE}]
    codes = np.stack([representations.read(folder, "mean")[0] for folder in members])
    scores = udr(codes, np.asarray(kl), **chosen)
    return [
        {
            "kl_per_dim": kl[m],
            "score": scores["model_scores"][m],
            "num_kept_dims": scores["num_kept_dims"][m],
            "pairwise": scores["pairwise"][m],
        }
        for m in range(len(members))
    ]
