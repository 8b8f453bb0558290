"""The training loop: a quick run learns and leaves its files; resume after a kill is exact;
a non-finite loss stops the run and keeps the last good checkpoint."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT, load_config

from drl_jax.data import registry
from drl_jax.data.ground_truth import from_renderer
from drl_jax.errors import UsageError
from drl_jax.jobs import common
from drl_jax.jobs import train as train_job
from drl_jax.models.card import read_card
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import loop

# A tiny but real run of 2 models (beta 1 and 2) as one program: the dlib architecture,
# batch 16, 10 steps per call, as configs/transfer.py:tiny (one compiled train step).
TINY = (
    "train.batch_size=16,train.steps_per_call=10,train.log_steps=20,train.ckpt_steps=20,"
    "train.image_steps=40,method.hparams.warmup_steps=10.0,model.architecture=dlib,"
    "sweep.hparam_values=(1.0, 2.0)"
)


STEPS = 40
MODEL = Path("source", "procedural_dsprites", "ada_gvae_beta1_seed0")


def tiny_config(workdir, steps=STEPS, extra=""):
    config = load_config("train_source", f"quick,{TINY},train.steps={steps}{extra}")
    config.workdir = str(workdir)
    return config


def params_of(model_dir):
    variables, step = ckpt.load_variables(model_dir)
    return jax.tree.leaves(variables["params"]), step


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """The workdir of one uninterrupted tiny run of STEPS steps (in this process)."""
    workdir = tmp_path_factory.mktemp("straight")
    train_job.run(tiny_config(workdir))
    return workdir


def test_quick_run_learns_and_writes_its_files(straight_run):
    model_dir = straight_run / MODEL
    rows = [json.loads(line) for line in (model_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40]
    # The first steps of Bernoulli reconstruction start near 4096 ln 2 = 2839 nats.
    assert rows[-1]["train/loss"] < 0.5 * 2839
    assert len(rows[-1]["train/kl_per_dim"]) == 10
    assert rows[-1]["train/images_per_s"] > 0
    assert sorted(
        int(p.name) for p in (model_dir / "checkpoints").iterdir() if p.name.isdigit()
    ) == [20, 40]
    assert any((model_dir / "checkpoints_best").iterdir())
    assert (model_dir / "images" / "reconstructions_0000040.png").read_bytes()[:4] == b"\x89PNG"
    assert (model_dir / "images" / "traversals_0000040.png").exists()
    assert any((model_dir / "tensorboard").iterdir())
    card = read_card(model_dir)
    assert card.architecture == "dlib" and card.hparams["beta"] == 1.0
    # Rerunning a finished run does nothing.
    before = (model_dir / "train_log.jsonl").stat().st_mtime
    train_job.run(tiny_config(straight_run))
    assert (model_dir / "train_log.jsonl").stat().st_mtime == before


def test_resume_after_a_kill_equals_an_uninterrupted_run(straight_run, tmp_path):
    overrides = [f"--config=configs/train_source.py:quick,{TINY},train.steps={STEPS}"]

    def run(kill_after_step=None):
        process = subprocess.Popen(
            [sys.executable, "-m", "drl_jax.main", *overrides, f"--config.workdir={tmp_path}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if kill_after_step is not None:
            target = tmp_path / MODEL / "checkpoints" / str(kill_after_step)
            deadline = time.time() + 300
            while not target.exists() and process.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=600)
        return process.returncode, stderr

    code, stderr = run(kill_after_step=20)
    assert code == -signal.SIGKILL, stderr
    saved = ckpt.ModelCheckpoints([tmp_path / MODEL], 3).common_step()
    assert saved is not None and saved < STEPS
    assert run()[0] == 0
    # The history is rewritten from the checkpoint: each logged step once, in order.
    log = (tmp_path / MODEL / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(row)["step"] for row in log] == [20, 40]
    resumed, resumed_step = params_of(tmp_path / MODEL)
    straight, straight_step = params_of(straight_run / MODEL)
    assert resumed_step == straight_step == STEPS
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(straight_run, tmp_path):
    shutil.copytree(straight_run, tmp_path, dirs_exist_ok=True)
    config = tiny_config(tmp_path)
    good = registry.load("procedural_dsprites")
    poisoned = from_renderer(
        "nan", good.space, 1, lambda f: jnp.full((f.shape[0], 64, 64, 1), jnp.nan)
    )
    method = common.method(config)
    cards = common.model_cards(config, method, "procedural_dsprites", 1)
    model_dirs = [tmp_path / MODEL.parent / card.model_id for card in cards]
    settings = common.train_settings(config.train, steps=STEPS + 20)
    with pytest.raises(loop.TrainingDiverged, match=r"at step 41 \(in steps 41-50\).*step 40"):
        loop.train(poisoned, cards, model_dirs, method, settings, best_after_step=20)
    assert params_of(model_dirs[0])[1] == params_of(model_dirs[1])[1] == STEPS


def test_steps_must_be_multiples_of_steps_per_call(tmp_path):
    config = tiny_config(tmp_path, steps=35)
    with pytest.raises(UsageError, match="not a multiple of train.steps_per_call=10"):
        train_job.run(config)
