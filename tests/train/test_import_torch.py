"""The reference code's PyTorch checkpoints as drl_jax models: equal outputs, Adam state kept,
accepted by evaluation and training like drl_jax's own."""

import sys

import jax
import numpy as np
import optax
import pytest
import torch
from conftest import ROOT, load_config

from drl_jax.errors import UsageError
from drl_jax.jobs import import_torch as import_job
from drl_jax.models.card import read_card
from drl_jax.models.methods import get_method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import import_torch, loop
from drl_jax.train.state import make_optimizer

sys.path.insert(0, str(ROOT / "benchmarks"))
import torch_reference  # noqa: E402  (the reference network of docs/models.md)

STEPS = 3  # Adam steps taken in PyTorch before saving, so the moments are not zero


@pytest.fixture(scope="module", params=[1, 3], ids=["gray", "rgb"])
def reference_run(request, tmp_path_factory):
    """A reference-layout run folder: random weights, BatchNorm statistics, Adam moments."""
    channels = request.param
    torch.manual_seed(channels)
    model = torch_reference.PaperVAE(channels)
    optimizer = torch_reference.make_optimizer(model)
    for _ in range(STEPS):
        x1, x2 = torch.rand(8, channels, 64, 64), torch.rand(8, channels, 64, 64)
        torch_reference.train_step(model, optimizer, x1, x2)
    with torch.no_grad():  # statistics far from the defaults, and conv biases that matter
        for i in range(3):
            model.encoder[i][1].running_mean.uniform_(-0.5, 0.5)
            model.encoder[i][1].running_var.uniform_(0.5, 2.0)
            model.encoder[i][0].bias.uniform_(-0.3, 0.3)
    run = tmp_path_factory.mktemp("run")
    (run / "checkpoint").mkdir()
    torch_reference.save_reference_checkpoint(model, optimizer, run / "checkpoint" / "model.pth")
    model.eval()
    return run, model, optimizer, channels


def import_config(run, workdir, channels):
    config = load_config("import_torch")
    config.input, config.workdir = str(run), str(workdir)
    config.dataset = "procedural_dsprites" if channels == 1 else "procedural_color_dsprites"
    config.beta, config.seed = 2.0, 3
    return config


@pytest.fixture(scope="module")
def imported(reference_run, tmp_path_factory):
    run, _, _, channels = reference_run
    workdir = tmp_path_factory.mktemp("workdir")
    return import_job.run(import_config(run, workdir, channels))


def test_encoder_means_and_decoder_outputs_equal_pytorch(reference_run, imported):
    _, model, _, channels = reference_run
    card = read_card(imported)
    assert (card.model_id, card.channels, card.hparams["beta"]) == (
        "ada_gvae_beta2_seed3",
        channels,
        2.0,
    )
    variables, step = ckpt.load_variables(imported)
    assert step == STEPS
    vae = card.vae()
    images = np.random.default_rng(0).random((16, channels, 64, 64), np.float32)
    codes = np.random.default_rng(1).normal(size=(16, 10)).astype(np.float32)
    with torch.no_grad():
        mean_t, logvar_t = (t.numpy() for t in model.encode(torch.from_numpy(images)))
        decoded_t = model.decode(torch.from_numpy(codes)).numpy().transpose(0, 2, 3, 1)
    mean, logvar = vae.apply(variables, images.transpose(0, 2, 3, 1), False, method="encode")
    decoded = jax.nn.sigmoid(vae.apply(variables, codes, False, method="decode"))
    np.testing.assert_allclose(mean, mean_t, atol=1e-4, rtol=0)
    np.testing.assert_allclose(logvar, logvar_t, atol=1e-4, rtol=0)
    np.testing.assert_allclose(decoded, decoded_t, atol=1e-4, rtol=0)


def test_adam_state_continues_in_optax(reference_run, imported):
    """The restored state (as the transfer job restores it) holds PyTorch's moments and step."""
    _, model, optimizer, channels = reference_run
    card = read_card(imported)
    method = get_method(card.method)
    template = loop.sweep_state_template([card], method, make_optimizer(1e-4, 1.0))
    checkpoints = ckpt.ModelCheckpoints([imported], 1)
    state = checkpoints.restore(ckpt.common_step([imported]), template)
    checkpoints.close()
    is_adam = lambda node: isinstance(node, optax.ScaleByAdamState)  # noqa: E731
    (adam,) = [s for s in jax.tree.leaves(state.opt_state, is_leaf=is_adam) if is_adam(s)]
    assert int(state.step[0]) == int(adam.count[0]) == STEPS
    moments = optimizer.state[model.fc_mu.weight]
    np.testing.assert_allclose(  # fc_mu [d, C*H*W in (C, H, W)] -> kernel [(H, W, C), d]
        adam.mu["encoder"]["mean"]["kernel"][0],
        moments["exp_avg"].numpy().reshape(10, 128, 8, 8).transpose(2, 3, 1, 0).reshape(-1, 10),
    )
    deconv = optimizer.state[model.decoder[2][0].weight]["exp_avg_sq"].numpy()
    np.testing.assert_allclose(
        adam.nu["decoder"]["ConvTranspose4x4_0"]["kernel"][0],
        deconv.transpose(2, 3, 0, 1)[::-1, ::-1],
    )


# One channel count: the evaluation reads C from the model card either way (its compiled
# programs take 12 s per count).
@pytest.mark.parametrize("reference_run", [1], ids=["gray"], indirect=True)
def test_imported_model_is_evaluated_like_drl_jax_models(imported, tmp_path):
    from drl_jax.data import registry
    from drl_jax.evaluation import EvaluationSettings, evaluate_models

    card = read_card(imported)
    settings = EvaluationSettings(
        metrics=("omes", "mig", "elbo"), num_samples=300, num_train=200, chunk_size=150,
        omes_pairs_per_fov=50,
    )  # fmt: skip
    evaluated = evaluate_models([imported], registry.load(card.dataset), [tmp_path], settings)
    request = evaluated.metrics[0]["request"]
    result = evaluated.metrics[0]
    assert request["checkpoint"]["step"] == STEPS and request["model"]["model_id"] == card.model_id
    assert np.isfinite(result["elbo"]["elbo"]) and 0 <= result["omes"]["max"]["0.5"] <= 1


def test_refuses_a_second_import_and_names_bad_inputs(reference_run, imported, tmp_path):
    run, _, _, channels = reference_run
    config = import_config(run, imported.parents[2], channels)
    with pytest.raises(UsageError, match="exists: import into an empty model folder"):
        import_job.run(config)
    config = import_config(tmp_path, tmp_path / "w", channels)
    with pytest.raises(UsageError, match="no model.pth at"):
        import_job.run(config)
    (tmp_path / "model.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="is not a readable PyTorch checkpoint"):
        import_job.run(config)


def test_missing_torch_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(UsageError, match=r"needs torch: pip install 'drl_jax\[torch\]'"):
        import_torch.read_checkpoint(tmp_path)
