"""The evaluate job: stacked models equal single ones; a rerun reuses a result only when it
answers the same request (checkpoint fingerprint, dataset, settings), and results of other
datasets and checkpoints live side by side."""

import dataclasses
import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import load_config

from drl_jax import metrics
from drl_jax.data import registry
from drl_jax.errors import UsageError
from drl_jax.evaluation import evaluate_models, representations
from drl_jax.jobs import common
from drl_jax.jobs import evaluate as evaluate_job
from drl_jax.jobs.evaluate import find_model_dirs
from drl_jax.models.card import ModelCard, write_card
from drl_jax.models.methods import get_method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train.state import create_sweep_state, make_optimizer
from drl_jax.workdir import layout, records

HPARAMS = {"beta": 1.0, "warmup_steps": 0.0}


def save_models(folders, seeds, step=0):
    """Untrained dlib models of `seeds` saved at `step` in `folders` (with their cards)."""
    cards = [
        ModelCard(f.name, "dlib", 1, 10, "beta_vae", HPARAMS, s, "toy")
        for f, s in zip(folders, seeds, strict=True)
    ]
    keys = np.stack([jax.random.key_data(jax.random.key(s)) for s in seeds])
    hparams = {"beta": np.ones(len(seeds)), "warmup_steps": np.zeros(len(seeds))}
    state = create_sweep_state(
        keys, cards[0].vae(), get_method("beta_vae"), make_optimizer(1e-4, 1.0), hparams,
        cards[0].image_shape,
    )  # fmt: skip
    state = state.replace(step=state.step + step)
    checkpoints = ckpt.ModelCheckpoints(folders, 3)
    checkpoints.save(state)
    checkpoints.wait()
    checkpoints.close()
    for card, folder in zip(cards, folders, strict=True):
        write_card(folder, card)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Three untrained dlib models (different seeds) saved as model folders."""
    root = tmp_path_factory.mktemp("models")
    dirs = [root / f"m{seed}" for seed in range(3)]
    save_models(dirs, range(3))
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


def eval_block(block):
    block.num_samples, block.num_train, block.chunk_size = 600, 400, 200
    block.omes_pairs_per_fov = 200
    # The classifier-based metrics are tested in tests/metrics and end to end in test_transfer;
    # the intervention metrics run here through the encoder the job hands them, at toy sizes.
    block.metrics = ("omes", "mig", "sap", "beta_vae", "factor_vae", "elbo")
    block.beta_vae_train, block.beta_vae_eval = 20, 10
    block.factor_vae_train, block.factor_vae_eval = 20, 10
    block.factor_vae_variance = 200
    return block


def settings():
    block = eval_block(load_config("evaluate", "quick").eval)
    block.workers = 1
    return common.evaluation_settings(block)


@pytest.fixture(scope="module")
def evaluated(models, tmp_path_factory):
    """The three models evaluated together (folder `all`) and model m1 alone (`one`)."""
    root = tmp_path_factory.mktemp("evaluated")
    data = registry.load("procedural_dsprites")
    together = evaluate_models(models, data, [root / "all" / m.name for m in models], settings())
    alone = evaluate_models(models[1:2], data, [root / "one"], settings()).metrics[0]
    return root, together.metrics, alone


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
    assert set(together[0]) >= {"request", "versions", "omes", "mig", "sap", "elbo", "seconds"}
    assert (root / "all" / "m0" / "association_matrix.csv").exists()


def test_the_request_is_recorded(models, evaluated):
    request = evaluated[1][0]["request"]
    variables, step = ckpt.load_variables(models[0])
    assert request["checkpoint"] == {
        "folder": str(models[0]), "which": "last", "step": 0,
        "fingerprint": records.fingerprint(variables),
    }  # fmt: skip
    assert request["model"]["model_id"] == "m0" and request["model"]["seed"] == 0
    assert request["dataset"] == {"name": "procedural_dsprites", "channels": 1}
    recorded = request["settings"]
    assert recorded["num_samples"] == 600 and recorded["beta_vae_train"] == 20
    assert recorded["omes_pairs"] == "intervene" and recorded["conv"] in ("s2d", "native")
    assert "chunk_size" not in recorded and "n_jobs" not in recorded  # never change numbers
    assert "pruning" not in recorded  # downstream is not asked for: its settings do not count
    assert set(evaluated[1][0]["versions"]) >= {"drl_jax", "jax", "numpy", "scikit-learn"}
    # Different weights, different fingerprints.
    assert (
        evaluated[1][1]["request"]["checkpoint"]["fingerprint"]
        != request["checkpoint"]["fingerprint"]
    )


def job_config(models, out, **changes):
    config = load_config("evaluate", "quick")
    config.workdir, config.checkpoints = str(out), str(models[0].parent / "m[01]")
    eval_block(config.eval)
    config.eval.metrics = ("mig", "elbo")
    for key, value in changes.items():
        config.update_from_flattened_dict({key: value})
    return config


def test_reruns_by_request_never_hand_back_another_requests_numbers(models, tmp_path, capsys):
    copies = [tmp_path / "models" / m.name for m in models[:2]]
    for model, copy in zip(models[:2], copies, strict=True):
        shutil.copytree(model, copy)
    out = tmp_path / "out"

    def outputs(dataset="procedural_dsprites", which="last"):
        return [Path(layout.evaluation_dir(out, "toy", m.name, dataset, which), "metrics.json")
                for m in copies]  # fmt: skip

    def run(**changes):
        evaluated = evaluate_job.run(job_config(copies, out, **changes))
        return evaluated, capsys.readouterr().out

    first, _ = run()
    assert (first.computed, first.reused) == (2, 0)
    # A changed setting recomputes, saying what changed.
    second, printed = run(**{"eval.num_samples": 700})
    assert (second.computed, second.reused) == (2, 0)
    assert "m0: settings.num_samples 600 -> 700: recomputing" in printed
    assert "2 computed, 0 reused" in printed
    assert [json.loads(p.read_text())["request"]["settings"]["num_samples"] for p in outputs()] == [
        700, 700,
    ]  # fmt: skip
    # Another dataset: side by side, not the other dataset's numbers.
    third, printed = run(**{"eval.num_samples": 700, "data.name": "procedural_noisy_dsprites"})
    assert (third.computed, third.reused) == (2, 0)
    noisy = outputs("procedural_noisy_dsprites")
    assert all(p.exists() for p in outputs() + noisy)
    assert third.metrics[0]["request"]["dataset"]["name"] == "procedural_noisy_dsprites"
    assert third.metrics[0]["elbo"] != second.metrics[0]["elbo"]
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("model_id,source,dataset,checkpoint,step")
    assert (
        sorted(r.split(",")[2] for r in rows[1:])
        == ["procedural_dsprites"] * 2 + ["procedural_noisy_dsprites"] * 2
    )
    assert "4 row(s)" in printed
    # The same request again: nothing recomputed, no file touched.
    stamps = [p.stat().st_mtime_ns for p in noisy]
    fourth, printed = run(**{"eval.num_samples": 700, "data.name": "procedural_noisy_dsprites"})
    assert (fourth.computed, fourth.reused) == (0, 2) and "0 computed, 2 reused" in printed
    assert [p.stat().st_mtime_ns for p in noisy] == stamps
    # Settings that change no number (chunking, workers) are not part of the request.
    fifth, _ = run(**{"eval.num_samples": 700, "data.name": "procedural_noisy_dsprites",
                      "eval.chunk_size": 100, "eval.n_jobs": 1})  # fmt: skip
    assert (fifth.computed, fifth.reused) == (0, 2)
    # A model trained further: its new last checkpoint is evaluated, not the old one reused.
    save_models(copies[:1], [5], step=10)
    sixth, printed = run(**{"eval.num_samples": 700})
    assert (sixth.computed, sixth.reused) == (1, 1)
    assert "m0: checkpoint.fingerprint" in printed and "checkpoint.step 0 -> 10" in printed
    assert json.loads(outputs()[0].read_text())["request"]["checkpoint"]["step"] == 10


def test_a_result_without_a_request_record_is_recomputed_once(models, evaluated, tmp_path, capsys):
    outs = [tmp_path / m.name for m in models[:1]]
    shutil.copytree(evaluated[0] / "all" / "m0", outs[0])
    old = json.loads((outs[0] / "metrics.json").read_text())
    del old["request"]
    (outs[0] / "metrics.json").write_text(json.dumps(old))
    data = registry.load("procedural_dsprites")
    mig_only = dataclasses.replace(settings(), metrics=("mig",))
    again = evaluate_models(models[:1], data, outs, mig_only)
    assert (again.computed, again.reused) == (1, 0)
    assert "m0: no request record (written by an older drl_jax): recomputing" in (
        capsys.readouterr().out
    )
    assert evaluate_models(models[:1], data, outs, mig_only).reused == 1


def test_any_number_of_workers_gives_the_same_numbers(models, evaluated, tmp_path):
    """Workers (0: one per core) score models while the next ones encode: the numbers of
    one worker in turn (the `evaluated` fixture's models)."""
    base = settings()
    assert base.workers == 1  # the fixture's
    two = dataclasses.replace(base, workers=0)
    data = registry.load("procedural_dsprites")
    again = evaluate_models(models, data, [tmp_path / m.name for m in models], two)
    assert again.computed == 3
    for mine, theirs in zip(again.metrics, evaluated[1], strict=True):
        for metric in ("omes", "mig", "sap", "beta_vae", "factor_vae", "elbo"):
            assert mine[metric] == theirs[metric], metric
        assert mine["request"] == theirs["request"]


def test_udr_ranks_the_seeds_of_one_setting(models, tmp_path):
    block = eval_block(load_config("evaluate", "quick").eval)
    block.metrics, block.udr_correlation = ("udr",), "spearman"
    udr_settings = common.evaluation_settings(block)
    data = registry.load("procedural_dsprites")
    outs = [tmp_path / "all" / m.name for m in models]
    together = evaluate_models(models, data, outs, udr_settings).metrics
    group = [r["udr"]["group"] for r in together]
    assert group[0] == group[2] and [g["model_id"] for g in group[0]] == ["m0", "m1", "m2"]
    scores = [r["udr"]["score"] for r in together]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert together[0]["udr"]["options"] == {"correlation": "spearman", "kl_threshold": 0.01}
    assert len(together[0]["udr"]["kl_per_dim"]) == 10
    # Alone, a model has no other seed to be compared with: no score, and why.
    alone = evaluate_models(models[:1], data, [tmp_path / "alone"], udr_settings).metrics[0]
    assert alone["udr"]["score"] is None and "group of one model" in alone["udr"]["note"]
    # A rerun with the same members leaves the ranking as it is.
    stamps = [(out / "metrics.json").stat().st_mtime_ns for out in outs]
    assert evaluate_models(models, data, outs, udr_settings).reused == 3
    assert [(out / "metrics.json").stat().st_mtime_ns for out in outs] == stamps


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


def test_jax_mlps_of_all_models_in_one_program_equal_each_models_own(models, tmp_path):
    """With the jax MLPs the downstream task trains every model's nets in one program per
    chunk of models: each model's accuracies are those of its own nets trained alone
    (`downstream` on its written codes), so no chunking (workers) changes them."""
    block = eval_block(load_config("evaluate", "quick").eval)
    block.metrics, block.classifiers, block.mlp_backend = ("downstream",), ("mlp",), "jax"
    block.workers = 2  # chunks [m0, m1] and [m2]: two models in one program, and one
    outs = [tmp_path / m.name for m in models]
    run = evaluate_models(models, registry.load("procedural_dsprites"), outs,
                          common.evaluation_settings(block))  # fmt: skip
    for m in (0, 2):
        codes, factors, _ = representations.read(outs[m])
        pruned = run.metrics[m]["downstream"]["pruned_dims"]
        alone = metrics.downstream(
            codes[:400], factors[:400], codes[400:], factors[400:],
            dims_per_fov={j: dims for j, dims in enumerate(pruned) if dims},
            classifiers=("mlp",), mlp_backend="jax",
        )  # fmt: skip
        assert alone == run.metrics[m]["downstream"], m
    assert len({m["downstream"]["mlp_full"] for m in run.metrics}) == 3  # models differ
