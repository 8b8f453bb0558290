"""The training loop: a quick run learns and leaves its files; resume after a kill is exact;
a non-finite loss stops the run and keeps the last good checkpoint."""

import json
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT, load_config

from drl_jax.data import registry
from drl_jax.data.ground_truth import from_renderer
from drl_jax.errors import UsageError
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import loop

# A tiny but real run of 2 models (beta 1 and 2) as one program: the dlib architecture,
# batch 16, 10 steps per call, as configs/transfer.py:tiny (one compiled train step).
TINY = (
    "train.batch_size=16,train.steps_per_call=10,train.log_steps=20,train.ckpt_steps=20,"
    "train.image_steps=40,method.hparams.warmup_steps=10.0,model.architecture=dlib,"
    "sweep.hparam_values=(1.0, 2.0)"
)


def tiny_config(workdir, steps=40, extra=""):
    config = load_config("train_source", f"quick,{TINY},train.steps={steps}{extra}")
    config.workdir = str(workdir)
    return config


def params_of(model_dir):
    variables, step = ckpt.load_variables(model_dir)
    return jax.tree.leaves(variables["params"]), step


def test_quick_run_learns_and_writes_its_files(tmp_path):
    config = tiny_config(tmp_path, steps=60)
    loop.run(config)
    model_dir = tmp_path / "source" / "procedural_dsprites" / "ada_gvae_beta1_seed0"
    rows = [json.loads(line) for line in (model_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40, 60]
    # The first steps of Bernoulli reconstruction start near 4096 ln 2 = 2839 nats.
    assert rows[-1]["train/loss"] < 0.5 * 2839
    assert len(rows[-1]["train/kl_per_dim"]) == 10
    assert rows[-1]["train/images_per_s"] > 0
    assert sorted(
        int(p.name) for p in (model_dir / "checkpoints").iterdir() if p.name.isdigit()
    ) == [20, 40, 60]
    assert any((model_dir / "checkpoints_best").iterdir())
    assert (model_dir / "images" / "reconstructions_0000040.png").read_bytes()[:4] == b"\x89PNG"
    assert (model_dir / "images" / "traversals_0000060.png").exists()
    assert any((model_dir / "tensorboard").iterdir())
    card = ckpt.read_card(model_dir)
    assert card.architecture == "dlib" and card.hparams["beta"] == 1.0
    # Rerunning a finished run does nothing.
    before = (model_dir / "train_log.jsonl").stat().st_mtime
    loop.run(config)
    assert (model_dir / "train_log.jsonl").stat().st_mtime == before


def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path):
    steps = 60
    overrides = [f"--config=configs/train_source.py:quick,{TINY},train.steps={steps}"]
    model = "source/procedural_dsprites/ada_gvae_beta1_seed0"

    def run(workdir, kill_after_step=None):
        process = subprocess.Popen(
            [sys.executable, "-m", "drl_jax.main", *overrides, f"--config.workdir={workdir}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if kill_after_step is not None:
            target = workdir / model / "checkpoints" / str(kill_after_step)
            deadline = time.time() + 300
            while not target.exists() and process.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=600)
        return process.returncode, stderr

    code, stderr = run(tmp_path / "killed", kill_after_step=20)
    assert code == -signal.SIGKILL, stderr
    saved = ckpt.ModelCheckpoints([tmp_path / "killed" / model], 3).common_step()
    assert saved is not None and saved < steps
    assert run(tmp_path / "killed")[0] == 0
    assert run(tmp_path / "straight")[0] == 0
    resumed, resumed_step = params_of(tmp_path / "killed" / model)
    straight, straight_step = params_of(tmp_path / "straight" / model)
    assert resumed_step == straight_step == steps
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    config = tiny_config(tmp_path, steps=20)
    loop.run(config)
    good = registry.load("procedural_dsprites")
    poisoned = from_renderer(
        "nan", good.space, 1, lambda f: jnp.full((f.shape[0], 64, 64, 1), jnp.nan)
    )
    cards = loop.model_cards(config, "procedural_dsprites", 1)
    model_dirs = [tmp_path / "source" / "procedural_dsprites" / card.model_id for card in cards]
    method = loop.check_sweep(config)
    schedule = loop.schedule_from_config(config.train, 40, 1, 20)
    with pytest.raises(loop.TrainingDiverged, match=r"at step 21 \(in steps 21-30\).*step 20"):
        loop.train(poisoned, cards, model_dirs, method, 1e-3, 1.0, schedule)
    assert params_of(model_dirs[0])[1] == params_of(model_dirs[1])[1] == 20


def test_steps_must_be_multiples_of_steps_per_call(tmp_path):
    config = tiny_config(tmp_path, steps=35)
    with pytest.raises(UsageError, match="not a multiple of train.steps_per_call=10"):
        loop.run(config)
