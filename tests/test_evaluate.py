"""The evaluate job: stacked models equal single ones, reruns skip finished models."""

import shutil

import jax
import numpy as np
import pytest
from conftest import load_config

from drl_jax.data import registry
from drl_jax.errors import UsageError
from drl_jax.evaluation import evaluate_models, results
from drl_jax.jobs import common
from drl_jax.jobs.evaluate import find_model_dirs
from drl_jax.models.methods import get_method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train.state import create_sweep_state, make_optimizer


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Three untrained dlib models (different seeds) saved as model folders."""
    root = tmp_path_factory.mktemp("models")
    method = get_method("beta_vae")
    cards = [
        ckpt.ModelCard(
            f"m{seed}", "dlib", 1, 10, "beta_vae", {"beta": 1.0, "warmup_steps": 0.0}, seed, "toy"
        )
        for seed in range(3)
    ]
    keys = np.stack([jax.random.key_data(jax.random.key(c.seed)) for c in cards])
    hparams = {"beta": np.ones(3), "warmup_steps": np.zeros(3)}
    state = create_sweep_state(
        keys, cards[0].vae(), method, make_optimizer(1e-4, 1.0), hparams, (64, 64, 1)
    )
    dirs = [root / c.model_id for c in cards]
    checkpoints = ckpt.ModelCheckpoints(dirs, 1)
    checkpoints.save(state)
    checkpoints.wait()
    checkpoints.close()
    for card, folder in zip(cards, dirs, strict=True):
        ckpt.write_card(folder, card)
    return dirs


def assert_close(a, b, tolerance):
    """Nested dicts/lists of numbers are equal within a relative/absolute tolerance."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_close(a[key], b[key], tolerance)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_close(x, y, tolerance)
    elif isinstance(a, float):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
    else:
        assert a == b


def settings():
    config = load_config("evaluate", "quick")
    config.eval.num_samples, config.eval.num_train, config.eval.chunk_size = 600, 400, 200
    config.eval.omes_pairs_per_fov = 200
    # The classifier-based metrics are tested in tests/metrics and end to end in test_transfer;
    # the intervention metrics run here through the encoder the job hands them, at toy sizes.
    config.eval.metrics = ("omes", "mig", "sap", "beta_vae", "factor_vae", "elbo")
    config.eval.beta_vae_train, config.eval.beta_vae_eval = 20, 10
    config.eval.factor_vae_train, config.eval.factor_vae_eval = 20, 10
    config.eval.factor_vae_variance = 200
    return common.evaluation_settings(config.eval)


@pytest.fixture(scope="module")
def evaluated(models, tmp_path_factory):
    """The three models evaluated together (folder `all`) and model m1 alone (`one`)."""
    root = tmp_path_factory.mktemp("evaluated")
    data = registry.load("procedural_dsprites")
    together = evaluate_models(models, data, [root / "all" / m.name for m in models], settings())
    alone = evaluate_models(models[1:2], data, [root / "one"], settings())[0]
    return root, together, alone


def test_stacked_models_equal_models_evaluated_alone(evaluated):
    root, together, alone = evaluated
    np.testing.assert_allclose(
        np.load(root / "all" / "m1" / "representations.npz")["mean"],
        np.load(root / "one" / "representations.npz")["mean"],
        rtol=1e-5,
        atol=1e-5,
    )
    # Continuous results agree to float tolerance (vmapped and single encoders may round
    # differently); classifier-based ones are fitted on those codes.
    assert_close(together[1]["omes"], alone["omes"], 1e-4)
    assert_close(together[1]["elbo"], alone["elbo"], 1e-3)
    assert abs(together[1]["mig"]["mig"] - alone["mig"]["mig"]) < 0.02
    assert together[0]["mig"] != together[1]["mig"]  # different models, different numbers
    assert set(together[0]) >= {"model", "checkpoint", "omes", "mig", "sap", "elbo", "seconds"}
    assert together[0]["checkpoint"]["step"] == 0
    assert (root / "all" / "m0" / "association_matrix.csv").exists()


def test_rerun_skips_finished_models(models, evaluated, tmp_path):
    shutil.copytree(evaluated[0] / "all", tmp_path, dirs_exist_ok=True)
    outs = [tmp_path / m.name for m in models]
    (outs[0] / "metrics.json").unlink()  # m0 unfinished: m1 and m2 are done
    stamps = [(out / "metrics.json").stat().st_mtime_ns for out in outs[1:]]
    data = registry.load("procedural_dsprites")
    evaluated_again = evaluate_models(models, data, outs, settings())
    assert [(out / "metrics.json").stat().st_mtime_ns for out in outs[1:]] == stamps
    assert (outs[0] / "metrics.json").exists()
    assert [r["model"]["model_id"] for r in evaluated_again] == ["m0", "m1", "m2"]
    # The same model again, the same numbers.
    assert_close(evaluated_again[0]["omes"], evaluated[1][0]["omes"], 1e-6)
    rows = results.write_tables(tmp_path, evaluated_again)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("model_id,source,dataset,step,omes_max")
    assert [r["model_id"] for r in rows] == ["m0", "m1", "m2"]


def test_glob_that_matches_nothing_is_named(tmp_path):
    with pytest.raises(UsageError, match="matches no model folder"):
        find_model_dirs(str(tmp_path / "nothing" / "*"))


@pytest.mark.parametrize("damage", ["data file", "metadata"])
def test_damaged_checkpoint_is_named(models, tmp_path, damage):
    folder = tmp_path / "m0"
    shutil.copytree(models[0], folder)
    item = folder / ckpt.LAST / "0" / "model"
    if damage == "data file":
        max(item.rglob("ocdbt.process_0/d/*"), key=lambda p: p.stat().st_size).unlink()
    else:
        (item / "_METADATA").unlink()
    with pytest.raises(UsageError, match=r"checkpoints/0 is not a readable checkpoint .*'model'"):
        ckpt.load_variables(folder)
