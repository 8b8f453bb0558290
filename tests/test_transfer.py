"""The transfer job end to end on the tiny preset: every artefact, tables equal to the
per-model files, resume after an interruption during fine-tuning, reruns doing nothing."""

import csv
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, load_config

from drl_jax.errors import UsageError
from drl_jax.jobs import transfer
from drl_jax.workdir import read_json

pytestmark = pytest.mark.usefixtures("compile_fast")  # tiny jobs: compiling dominates

PAIR = "procedural_dsprites__to__procedural_noisy_color_dsprites"
MODELS = ("ada_gvae_beta1_seed0", "ada_gvae_beta2_seed0")


def stamps(root):
    """Modification times of every file under root (but the locks), by relative path."""
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".drl_jax.lock")
    }


def test_tiny_transfer_end_to_end(tmp_path):
    workdir = tmp_path / "run"
    pair_dir = workdir / "transfer" / PAIR
    # Kill (as a preemption would) once fine-tuning has saved its first checkpoint.
    process = subprocess.Popen(
        [sys.executable, "-m", "drl_jax.main", "--config=configs/transfer.py:tiny",
         f"--config.workdir={workdir}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # A second job on the same pair while the first runs: stops at once, naming the holder.
    while not (pair_dir / ".drl_jax.lock.json").exists():
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    started = time.time()
    second = subprocess.run(
        [sys.executable, "-m", "drl_jax.main", "--config=configs/transfer.py:tiny",
         f"--config.workdir={workdir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert second.returncode == 2, second.stderr
    assert time.time() - started < 120  # the JAX import and the checks, then the lock
    (line,) = second.stderr.strip().splitlines()
    assert f"{pair_dir} is being written by another drl_jax job (host " in line
    assert f"PID {process.pid}" in line and "configs/transfer.py:tiny" in line
    first_finetune_checkpoint = pair_dir / MODELS[0] / "checkpoints" / "30"
    deadline = time.time() + 600
    while not first_finetune_checkpoint.exists() and time.time() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=120)
    assert not (pair_dir / MODELS[0] / "after" / "metrics.json").exists()
    source_stamps = stamps(workdir / "source")
    before_stamps = {
        m: (pair_dir / m / "before" / "metrics.json").stat().st_mtime_ns for m in MODELS
    }

    # The killed job's lock does not block the rerun.
    config = load_config("transfer", "tiny")
    config.workdir = str(workdir)
    transfer.run(config)
    # Finished stages were not recomputed.
    assert stamps(workdir / "source") == source_stamps
    assert before_stamps == {
        m: (pair_dir / m / "before" / "metrics.json").stat().st_mtime_ns for m in MODELS
    }

    # Every artefact.
    for m in MODELS:
        for stage in ("before", "after"):
            for name in (
                "representations.npz",
                "classes.csv",
                "metrics.json",
                "association_matrix.csv",
            ):
                assert (pair_dir / m / stage / name).exists(), (m, stage, name)
        # "after" is the fine-tuning of the very checkpoint evaluated "before".
        before = read_json(pair_dir / m / "before" / "metrics.json")["request"]
        after = read_json(pair_dir / m / "after" / "metrics.json")["request"]
        assert before["checkpoint"]["step"] == 20 and after["checkpoint"]["step"] == 40
        origin = after["model"]["finetuned_from"]
        assert origin["fingerprint"] == before["checkpoint"]["fingerprint"]
        assert origin["step"] == 20 and origin["folder"] == before["checkpoint"]["folder"]
    assert (
        read_json(pair_dir / "config.json")["target"]["name"] == "procedural_noisy_color_dsprites"
    )
    assert not (workdir / "config.json").exists()
    assert (workdir / "source" / "procedural_dsprites" / MODELS[0] / "config.json").exists()
    results = pair_dir / "results"
    for name in ("README.md", "transfer_table.md", "transfer_table.csv", "transfer_std.md"):
        assert (results / name).exists(), name
    figures = ("association", "omes_per_fov", "reconstructions", "traversals")
    for name in [f"{f}_{stage}" for f in figures for stage in ("before", "after")]:
        if name.startswith("omes_per_fov"):
            name = "omes_per_fov"
        assert (results / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    assert "reconstructions_after.png" in (results / "README.md").read_text()

    # Table values are the means over the per-model metric files.
    before = [read_json(pair_dir / m / "before" / "metrics.json") for m in MODELS]
    after = [read_json(pair_dir / m / "after" / "metrics.json") for m in MODELS]
    table = {
        (r["fov"], r["metric"]): r for r in csv.DictReader((results / "transfer_table.csv").open())
    }
    expected = {
        ("All", "gbt_full"): [m["downstream"]["gbt_full"] for m in before],
        ("All", "mig"): [m["mig"]["mig"] for m in before],
        ("pos_x", "mig"): [m["mig"]["mig_per_fov"][4] for m in before],
        ("All", "dci"): [m["dci"]["dci_disentanglement"] for m in before],
    }
    for key, values in expected.items():
        assert float(table[key]["before"]) == pytest.approx(np.mean(values), abs=1e-6), key
    assert float(table[("All", "mig")]["after"]) == pytest.approx(
        np.mean([m["mig"]["mig"] for m in after]), abs=1e-6
    )
    markdown = (results / "transfer_table.md").read_text()
    assert "| shape* |" in markdown and "| color |" in markdown  # color is not in the source

    # A rerun does nothing new.
    everything = stamps(workdir)
    transfer.run(config)
    assert stamps(workdir) == everything


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"shared_fovs": ("shape", "hue")}, r"shared_fovs \['shape', 'hue'\] are not FoVs"),
        ({"checkpoint": "best"}, "evaluates and fine-tunes each source model's last checkpoint"),
        (
            {"target.name": "shapes3d", "target.data_dir": "{tmp}"},
            "Dataset 'shapes3d' is not prepared",
        ),
    ],
)
def test_bad_inputs_fail_before_any_training(tmp_path, overrides, message):
    config = load_config("transfer", "tiny")
    config.workdir = str(tmp_path / "run")
    for key, value in overrides.items():
        section, _, field = key.rpartition(".")
        node = config[section] if section else config
        node[field] = value.format(tmp=tmp_path) if isinstance(value, str) else value
    with pytest.raises(UsageError, match=message):
        transfer.run(config)
    assert not (tmp_path / "run" / "source").exists()
